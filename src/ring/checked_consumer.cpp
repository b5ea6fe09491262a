#include <ringlog/checked_consumer.hpp>

#include <ringlog/detail/assert.hpp>
#include <ringlog/ring.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>

namespace ringlog::ring {

namespace {

using ringlog::detail::FramingKind;
using ringlog::detail::is_drop_marker;
using ringlog::detail::is_framing;
using ringlog::detail::payload_len_of;
using ringlog::detail::record_size;
using ringlog::detail::RingGeometry;
constexpr std::size_t header_bytes = event::EventHeader::SIZE;

// Space goes back to the producer in eighths of the ring, as Consumer does.
constexpr std::size_t release_fraction = 8;

constexpr std::uint8_t type_of(std::uint64_t half) noexcept {
  return static_cast<std::uint8_t>(half);
}

// Whether the committed word `half` heads an event or drop marker that fits in `room` bytes:
// the one check of the hot path, every comparison on a value already loaded.
bool is_sound_record(std::uint64_t half, std::uint64_t room, std::size_t capacity) noexcept {
  const std::size_t payload = payload_len_of(half);
  return RingGeometry::is_committed(half) && !is_framing(half) &&
         (payload <= max_payload_len(capacity) || is_drop_marker(half)) &&
         record_size(payload) <= room;
}

// What is wrong with a record whose header's second half is `half` with `room` bytes left in
// its lap, for the violation's text.
std::string record_fault(std::uint64_t half, std::uint64_t room, std::size_t capacity) {
  const std::size_t payload = payload_len_of(half);
  if (!RingGeometry::is_committed(half)) {
    return fmt::format("a record's commit word {:#018x} lost its commit mark after it was read",
                       half);
  }
  if (is_framing(half)) {
    return fmt::format("a framing record (type {}) where only an event or a drop marker may "
                       "stand", type_of(half));
  }
  if (payload > max_payload_len(capacity) && !is_drop_marker(half)) {
    return fmt::format("an event of {} payload bytes, more than the {} this ring takes", payload,
                       max_payload_len(capacity));
  }
  return fmt::format("a record of {} bytes where only {} are left before the ring's end",
                     record_size(payload), room);
}

}  // namespace

std::string RingViolation::describe() const { return fmt::format("ring byte {}: {}", offset, what); }

CheckedConsumer::CheckedConsumer(RingGeometry geometry, ringlog::detail::SharedIndices* indices)
    : geometry_(geometry),
      indices_(indices),
      release_every_bytes_(geometry.capacity() / release_fraction),
      // Another process's number: only its alignment is taken on trust, never its bytes.
      tail_(indices->tail.load(std::memory_order_relaxed) & ~std::uint64_t{7}),
      released_tail_(tail_) {
  copy_.resize(release_every_bytes_);
}

CheckedConsumer& CheckedConsumer::operator=(CheckedConsumer&& other) noexcept {
  if (this != &other) {
    std::destroy_at(this);  // hands back what this one read
    std::construct_at(this, std::move(other));
  }
  return *this;
}

CheckedConsumer::~CheckedConsumer() { release(); }

CheckedRecords CheckedConsumer::peek_records(std::uint64_t max_events) {
  const std::optional<Record> first = first_record();
  if (!first || max_events == 0) {
    if (!first) release();  // drained (or broken): every byte read goes back
    return {};
  }
  tail_ = first->at;  // past the padding, if any
  return copy_and_check(find_run(*first, max_events));
}

void CheckedConsumer::release_records(std::size_t bytes) noexcept {
  tail_ += bytes;
  if (tail_ - released_tail_ >= release_every_bytes_) release();
}

bool CheckedConsumer::is_empty() const noexcept {
  if (violation_) return true;
  const std::uint64_t slot = geometry_.header_slot(tail_);
  return !RingGeometry::is_committed(geometry_.load_commit_word(slot));
}

std::optional<CheckedConsumer::Record> CheckedConsumer::first_record() {
  if (violation_) return std::nullopt;
  std::uint64_t slot = geometry_.header_slot(tail_);
  std::uint64_t half = geometry_.load_commit_word(slot);
  if (!RingGeometry::is_committed(half)) return std::nullopt;
  if (is_framing(half)) {
    // Padding: the producer writes it only where the next record does not fit before the
    // ring's end, and commits that record, at the next lap's start, before the padding.
    const std::uint64_t gap = geometry_.next_lap(slot) - slot;
    if (type_of(half) != static_cast<std::uint8_t>(FramingKind::padding) ||
        payload_len_of(half) != 0) {
      fail(slot, fmt::format("a framing record (type {}, {} payload bytes) where only an event, "
                             "a drop marker or padding may stand",
                             type_of(half), payload_len_of(half)));
      return std::nullopt;
    }
    if (gap == geometry_.capacity()) {
      fail(slot, "padding at the ring's start, where every record fits");
      return std::nullopt;
    }
    slot = geometry_.next_lap(slot);
    half = geometry_.load_commit_word(slot);
    if (!RingGeometry::is_committed(half)) {
      fail(slot - gap, "padding committed with no record committed after it, at the ring's start");
      return std::nullopt;
    }
    if (is_sound_record(half, geometry_.capacity(), geometry_.capacity()) &&
        record_size(payload_len_of(half)) <= gap) {
      fail(slot - gap, fmt::format("padding of {} bytes in front of a {}-byte record that fits "
                                   "there", gap, record_size(payload_len_of(half))));
      return std::nullopt;
    }
  }
  if (!is_sound_record(half, geometry_.next_lap(slot) - slot, geometry_.capacity())) {
    fail(slot, record_fault(half, geometry_.next_lap(slot) - slot, geometry_.capacity()));
    return std::nullopt;
  }
  return Record{slot, half};
}

CheckedConsumer::Run CheckedConsumer::find_run(const Record& first,
                                               std::uint64_t max_events) const noexcept {
  // The first record is sound (first_record), its word read once: the producer may have
  // rewritten it since. The run takes the sound ones after it in the same lap, up to an eighth
  // of the ring. Anything else ends it: the next peek starts there, and first_record() judges
  // it.
  const std::uint64_t start = first.at;
  const std::uint64_t lap_end = geometry_.next_lap(start);
  std::uint64_t end = start + record_size(payload_len_of(first.half));
  for (std::uint64_t events = 1; events < max_events && lap_end - end >= header_bytes;
       ++events) {
    const std::uint64_t half = geometry_.load_commit_word(end);
    if (!is_sound_record(half, lap_end - end, geometry_.capacity())) break;
    const std::uint64_t size = record_size(payload_len_of(half));
    if (end + size - start > release_every_bytes_) break;
    end += size;
  }
  return {start, end};
}

CheckedRecords CheckedConsumer::copy_and_check(const Run& run) {
  const std::size_t bytes = run.end - run.start;
  // Within one lap (find_run), so within the ring's memory.
  RINGLOG_CHECK(bytes <= geometry_.next_lap(run.start) - run.start, "a run stays in its lap");
  if (bytes > copy_.size()) copy_.resize(bytes);  // a record larger than an eighth of the ring
  std::memcpy(copy_.data(), geometry_.at(run.start), bytes);
  // The producer may have rewritten committed bytes since they were read: the copy alone,
  // which no other process can touch, is what is checked and handed out.
  CheckedRecords checked;
  std::size_t at = 0;
  while (at < bytes) {
    const event::EventHeader header = ringlog::detail::load_header(copy_.data() + at);
    const std::uint64_t half = ringlog::detail::second_half(header);
    if (!is_sound_record(half, bytes - at, geometry_.capacity())) {
      fail(run.start + at, "a committed record changed while it was read: " +
                               record_fault(half, bytes - at, geometry_.capacity()));
      break;
    }
    if (event::is_drop_marker(header)) {
      const std::uint64_t dropped = ringlog::detail::dropped_events_at(copy_.data() + at);
      if (dropped == 0 || dropped > UINT64_MAX - checked.dropped) {
        fail(run.start + at, fmt::format("a drop marker that counts {} dropped events", dropped));
        break;
      }
      checked.dropped += dropped;
    }
    at += record_size(header.payload_len);
    ++checked.events;
  }
  // The other side of the check above: every record handed out was judged sound within the
  // bytes left, so the records end within the copy.
  RINGLOG_CHECK(at <= bytes, "the records handed out lie within the copy");
  checked.records = {copy_.data(), at};
  return checked;
}

void CheckedConsumer::fail(std::uint64_t position, std::string what) {
  violation_ = RingViolation{position & geometry_.mask, std::move(what)};
}

void CheckedConsumer::release() noexcept {
  if (indices_.shared == nullptr || released_tail_ == tail_) return;
  released_tail_ = tail_;
  indices_.shared->tail.store(tail_, std::memory_order_release);  // we are done with bytes below it
}

}  // namespace ringlog::ring
