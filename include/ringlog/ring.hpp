// Rings of framed events: RingBuffer for one thread, SpscRingBuffer for a producer thread and a
// consumer thread.
//
// Threads: a RingBuffer is used by one thread at a time. An SpscRingBuffer is split() once into a
// Producer, used by exactly one thread, and a Consumer, used by exactly one (other) thread; the
// SpscRingBuffer must outlive both. Hot-path calls (write_event, try_claim/commit, read_event,
// poll) never block, allocate, throw or make a system call.
//
// Memory ordering: each record commits itself. The producer writes a record's timestamp and
// payload, clears the header slot after the record, and then stores the header's second half
// (type, flags, length, and a commit mark in `reserved`) with release; the consumer loads that
// word with acquire and reads the record once the mark is there. One cache line so carries a
// record and its publication, and the producer stores no shared index per event (it publishes
// its head now and then, for used() and for a producer that takes over a shared ring). In the
// other direction the consumer publishes its tail with release, in batches, once it is done with
// the bytes below it, and the producer loads it with acquire before overwriting them, only when
// the ring looks full by the tail it cached.
#pragma once

#include <ringlog/detail/assert.hpp>
#include <ringlog/detail/mapping.hpp>
#include <ringlog/detail/page_sizes.hpp>
#include <ringlog/detail/ring_geometry.hpp>
#include <ringlog/event.hpp>

#include <cstdint>
#include <cstring>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ringlog::ring {

// The capacity the service, the demo and the doctor plan for unless told otherwise: about 13,000
// 80-byte records, so a consumer held up for 10 ms (a page cache stall, say) holds a producer of a
// million events a second back not at all.
inline constexpr std::size_t default_capacity_bytes = std::size_t{1} << 20;

struct NotEnoughSpace { std::size_t required; std::size_t available; };
struct InvalidCapacity { std::size_t capacity; std::string_view reason; };
struct PayloadTooLarge { std::size_t payload_len; std::size_t max_len; };
// header.payload_len disagrees with the payload handed in.
struct LengthMismatch { std::size_t header_len; std::size_t payload_len; };
// The caller set flags bit 7, which marks the library's own framing records.
struct ReservedFlag { std::uint8_t flags; };
// The ring's memory could not be obtained as MemoryOptions asked.
struct MemoryUnavailable { std::size_t bytes; int os_error; std::string_view what; };
// A shared ring's file could not be made, opened or used; `what` names it and says why.
struct SharedRingUnusable { std::string what; int os_error; };

using RingError = std::variant<NotEnoughSpace, InvalidCapacity, PayloadTooLarge, LengthMismatch,
                               ReservedFlag, MemoryUnavailable, SharedRingUnusable>;

std::string to_string(const RingError&);

// Where a ring's bytes live. Always: explicit hugepages (MAP_HUGETLB) or an error that says how to
// reserve them; Try: explicit hugepages where free, else transparent hugepages, else normal
// pages; Never: normal pages. The memory is bound to the NUMA node before it is first touched,
// then prefaulted, and locked when asked.
struct MemoryOptions {
  enum class HugePages { Never, Try, Always } huge_pages = HugePages::Try;
  int numa_node = -1;  // -1: the node of the calling thread
  bool lock = false;   // mlock the region
  // The explicit hugepage size: 2 MiB, or 1 GiB for a ring at least that large.
  std::size_t huge_page_bytes = ringlog::detail::pmd_bytes;
};

// What a ring's memory actually is, read back from the kernel (/proc/self/smaps, numa_maps).
struct MemoryReport {
  enum class Pages { normal, transparent_huge, explicit_huge } pages = Pages::normal;
  std::size_t bytes = 0;       // the mapping's size: the capacity rounded up to whole pages
  std::size_t page_bytes = 0;  // the kernel's page size for the mapping
  std::size_t huge_bytes = 0;  // bytes in hugepages, transparent or explicit
  int numa_node = -1;          // the node holding every page; -1 when spread or unknown
  bool locked = false;          // cannot be swapped out: mlocked, or explicit hugepages
  std::string describe() const;  // one line for a start-up banner
};

inline constexpr std::size_t min_capacity = 64;

// The largest payload a ring of `capacity` bytes accepts. Records are capped at half the ring,
// less the header slot an SPSC producer keeps clear after each record, so that a record, the
// padding in front of it and that slot always fit once the ring has drained.
constexpr std::size_t max_payload_len(std::size_t capacity) noexcept {
  const std::size_t by_capacity = capacity / 2 - 2 * event::EventHeader::SIZE;
  return by_capacity < UINT16_MAX ? by_capacity : UINT16_MAX;
}

namespace detail {

// Everything that makes an event unwritable regardless of free space, or nothing.
inline std::optional<RingError> check_event(const event::EventHeader& header,
                                            std::size_t capacity) noexcept {
  if (ringlog::detail::is_library_record(header)) return ReservedFlag{header.flags};
  if (header.payload_len > max_payload_len(capacity)) {
    return PayloadTooLarge{header.payload_len, max_payload_len(capacity)};
  }
  return std::nullopt;
}

// A mapping of at least `capacity` bytes (a whole number of hugepages where it uses them).
std::expected<ringlog::detail::Mapping, RingError> map_ring_memory(std::size_t capacity,
                                                                      const MemoryOptions&);
MemoryReport read_memory_report(const ringlog::detail::Mapping&);

}  // namespace detail

// A ring used by a single thread. A read releases the event's bytes at once, so the view it
// returns stays valid until the next write_event() or read_event().
//
// Why its write calls return std::expected<_, RingError> while Producer's of the same names
// return bool and std::optional: this ring is the seed's single-threaded API, where a caller
// learns which way a write failed (full now, or too large ever) from the value itself. On the
// producer's hot path a result carrying the reason costs registers and a branch per event, and
// "full" is the one answer that happens there; an event that can never fit is the caller's to
// rule out once, against max_payload_len(), not on every write.
class RingBuffer {
 public:
  // capacity: a power of two, at least min_capacity bytes.
  static std::expected<RingBuffer, RingError> create(std::size_t capacity);

  std::expected<void, RingError> write_event(const event::EventHeader& header,
                                             std::span<const std::byte> payload) noexcept {
    if (header.payload_len != payload.size()) {
      return std::unexpected(LengthMismatch{header.payload_len, payload.size()});
    }
    auto claimed = try_claim(header);
    if (!claimed) return std::unexpected(claimed.error());
    ringlog::detail::copy_payload(claimed->data(), payload.data(), payload.size());
    commit();
    return {};
  }

  // Zero-copy write: stores the header and returns header.payload_len bytes to fill in place.
  // The event becomes readable at commit(); abort() or the next try_claim() drops it.
  std::expected<std::span<std::byte>, RingError> try_claim(
      const event::EventHeader& header) noexcept {
    claimed_head_ = head_;
    if (auto invalid = detail::check_event(header, capacity())) return std::unexpected(*invalid);
    const std::size_t size = ringlog::detail::record_size(header.payload_len);
    const std::uint64_t start = geometry_.record_start(head_, size);
    if (start + size - tail_ > capacity()) {
      return std::unexpected(NotEnoughSpace{static_cast<std::size_t>(start + size - head_),
                                            available()});
    }
    claimed_head_ = start + size;
    return geometry_.place(head_, start, header);
  }
  void commit() noexcept { head_ = claimed_head_; }
  void abort() noexcept { claimed_head_ = head_; }

  std::optional<event::EventView> read_event() noexcept {
    if (tail_ == head_) return std::nullopt;
    tail_ = geometry_.skip_padding(tail_);
    const event::EventView view = ringlog::detail::view_at(geometry_.at(tail_));
    tail_ += ringlog::detail::record_size(view.header.payload_len);
    return view;
  }

  std::size_t capacity() const noexcept { return geometry_.capacity(); }
  std::size_t used() const noexcept { return head_ - tail_; }
  std::size_t available() const noexcept { return capacity() - used(); }
  bool is_empty() const noexcept { return head_ == tail_; }

 private:
  explicit RingBuffer(ringlog::detail::Mapping memory) noexcept;

  ringlog::detail::Mapping memory_;
  ringlog::detail::RingGeometry geometry_;
  std::uint64_t head_ = 0;
  std::uint64_t tail_ = 0;
  std::uint64_t claimed_head_ = 0;  // head once the claimed record is committed
};

class SpscRingBuffer;
class SharedRing;

class alignas(ringlog::detail::cache_line_pair) Producer {
 public:
  Producer(Producer&&) noexcept = default;
  Producer& operator=(Producer&&) noexcept = default;

  // False when the event does not fit right now, or never can (see try_claim); nothing written.
  // A claim not yet committed is dropped, as by the next try_claim().
  [[nodiscard, gnu::always_inline]] bool write_event(const event::EventHeader& header,
                                                     std::span<const std::byte> payload) noexcept {
    if (header.payload_len != payload.size()) return false;
    const Placement placed = place(header);
    if (placed.payload == nullptr) return drop_claim();
    ringlog::detail::copy_payload(placed.payload, payload.data(), payload.size());
    publish(placed.end, placed.commit_at, placed.commit_word);
    return true;
  }

  // Zero-copy write: stores the header and returns header.payload_len bytes to fill in place;
  // nullopt when the ring has no room now, or when the event can never be written (bit 7 of
  // flags set, payload over max_payload()). The consumer sees the event at commit(); abort() or
  // the next try_claim() drops it.
  [[nodiscard, gnu::always_inline]] std::optional<std::span<std::byte>> try_claim(
      const event::EventHeader& header) noexcept {
    const Placement placed = place(header);
    if (placed.payload == nullptr) {
      drop_claim();
      return std::nullopt;
    }
    // Field by field: a copy of the whole placement would load it from the stack in wide loads.
    claimed_end_ = placed.end;
    commit_at_ = placed.commit_at;
    commit_word_ = placed.commit_word;
    return std::span<std::byte>{placed.payload, header.payload_len};
  }
  // Publishes the claimed record; nothing when there is none.
  [[gnu::always_inline]] void commit() noexcept {
    if (claimed_end_ != head_) publish(claimed_end_, commit_at_, commit_word_);
  }
  void abort() noexcept { drop_claim(); }

  // Writes a drop marker where the events it counts would have been (what a Publisher under the
  // drop overflow policy does once the ring has room again): a record of the library's, which
  // write_event refuses from users. False when the ring has no room now.
  [[nodiscard]] bool write_drop_marker(const event::DropMarker& marker) noexcept {
    const Placement placed = place_record(event::drop_marker_header(marker));
    if (placed.payload == nullptr) return drop_claim();
    std::memcpy(placed.payload, &marker, sizeof marker);
    publish(placed.end, placed.commit_at, placed.commit_word);
    return true;
  }

  std::size_t max_payload() const noexcept { return max_payload_len(geometry_.capacity()); }
  // Bytes through the ring since its creation, to the end of the last committed record: where
  // that record ends, for the consumer's side to tell when it has read it (Consumer::position).
  std::uint64_t position() const noexcept { return head_; }

 private:
  friend class SpscRingBuffer;
  friend class SharedRing;
  // Starts after the last committed record: at zero for a new ring, or where a producer that
  // went away stopped (what it claimed and did not commit is dropped). The walk starts at the
  // head that producer last published, or at the consumer's tail if that is further.
  Producer(ringlog::detail::RingGeometry geometry, ringlog::detail::SharedIndices* indices) noexcept
      : geometry_(geometry), indices_(indices) {
    const std::uint64_t tail = indices->tail.load(std::memory_order_acquire);
    const std::uint64_t published = indices->head.load(std::memory_order_relaxed);
    const std::uint64_t from = published > tail ? published : tail;
    head_ = geometry.committed_end(from, tail + geometry.capacity() - from);
    claimed_end_ = head_;
    cached_tail_ = tail;
    publish_head();
  }

  // Where a record goes and what publishes it: kept in registers by write_event(), and in
  // the claimed_ members from try_claim() to commit(). Few stores per event matter: when the consumer holds
  // the ring's lines, every store waits in the store buffer behind the ring's.
  struct Placement {
    std::uint64_t end = 0;          // end of the record
    std::uint64_t commit_at = 0;    // the header whose second half publishes it
    std::uint64_t commit_word = 0;  // that second half, commit mark set
    std::byte* payload = nullptr;  // null: the record was not placed
  };

  // Checks the record, makes room for it and the header slot after it (publish() clears that
  // slot), and writes its timestamp. Not placed when it does not fit, now or ever. (No
  // std::optional: GCC then keeps the placement in memory, and copies it with loads that wait
  // for the ring's stores.)
  [[gnu::always_inline]] Placement place(const event::EventHeader& header) noexcept {
    if (detail::check_event(header, geometry_.capacity())) return {};
    return place_record(header);
  }
  [[gnu::always_inline]] Placement place_record(const event::EventHeader& header) noexcept {
    const std::size_t size = ringlog::detail::record_size(header.payload_len);
    const std::uint64_t start = geometry_.record_start(head_, size);
    const std::uint64_t end = start + size;
    const std::uint64_t reach = geometry_.header_slot(end) + event::EventHeader::SIZE;
    if (reach > limit_ && !make_room(reach)) return {};
    const std::uint64_t record_word = ringlog::detail::commit_word(header);
    std::byte* const record = geometry_.at(start);
    std::memcpy(record, &header.timestamp, sizeof header.timestamp);
    Placement placement{end, start, record_word, record + event::EventHeader::SIZE};
    if (start - head_ >= event::EventHeader::SIZE) {
      // Padding in front: the record is published by the padding's mark, so its own goes in now.
      ringlog::detail::second_half_at(record).store(record_word, std::memory_order_relaxed);
      placement.commit_at = head_;
      placement.commit_word = ringlog::detail::commit_word(ringlog::detail::padding_header());
    }
    return placement;
  }
  // Clears the header slot after the record first, so that the consumer, once past the record,
  // finds no mark left there from an earlier lap; then stores the commit word.
  [[gnu::always_inline]] void publish(std::uint64_t end, std::uint64_t commit_at,
                                     std::uint64_t commit_word) noexcept {
    ringlog::detail::second_half_at(geometry_.at(geometry_.header_slot(end)))
        .store(0, std::memory_order_relaxed);
    ringlog::detail::second_half_at(geometry_.at(commit_at))
        .store(commit_word, std::memory_order_release);  // publishes every byte above
    head_ = end;
    claimed_end_ = end;
  }
  bool drop_claim() noexcept {
    claimed_end_ = head_;
    return false;
  }

  // The head goes out every publish_fraction of the ring: often enough for used(), rarely
  // enough to cost nothing per event.
  static constexpr std::uint64_t publish_fraction = 8;

  // The slow path of try_claim: the ring looked full by the cached tail, or the head is due to
  // be published. True when `reach` fits.
  bool make_room(std::uint64_t reach) noexcept {
    publish_head();
    if (reach > cached_tail_ + geometry_.capacity()) {
      cached_tail_ = indices_->tail.load(std::memory_order_acquire);  // bytes below it are free
    }
    limit_ = std::min(cached_tail_ + geometry_.capacity(),
                      head_ + geometry_.capacity() / publish_fraction);
    return reach <= cached_tail_ + geometry_.capacity();
  }
  void publish_head() noexcept {
    indices_->head.store(head_, std::memory_order_release);
    limit_ = head_;  // the next claim takes the slow path, which sets the real limit
  }

  // Each word the hot path writes sits alone in 16 bytes. Side by side, GCC loads two of them
  // with one 16-byte load where it wants both, right after storing one of them alone: such a
  // load cannot be forwarded from the store, and waits for every store before it, the ring's
  // included (measured: try_claim/commit at half speed).
  ringlog::detail::RingGeometry geometry_;
  ringlog::detail::SharedIndices* indices_;
  alignas(16) std::uint64_t head_;         // end of the last committed record
  alignas(16) std::uint64_t claimed_end_;  // end of the claimed record; head_ when none
  alignas(16) std::uint64_t commit_at_ = 0;    // the claimed record's Placement::commit_at
  alignas(16) std::uint64_t commit_word_ = 0;  // and its commit_word
  alignas(16) std::uint64_t cached_tail_;
  alignas(16) std::uint64_t limit_;  // claims reaching past it take the slow path
};

class alignas(ringlog::detail::cache_line_pair) Consumer {
 public:
  // The moved-from consumer no longer speaks for the ring: only the live one releases space.
  Consumer(Consumer&& other) noexcept
      : geometry_(other.geometry_),
        indices_(std::exchange(other.indices_, nullptr)),
        release_every_bytes_(other.release_every_bytes_),
        tail_(other.tail_),
        released_tail_(other.released_tail_),
        lent_bytes_(other.lent_bytes_) {}
  Consumer& operator=(Consumer&& other) noexcept {
    if (this != &other) {
      hand_back();
      geometry_ = other.geometry_;
      indices_ = std::exchange(other.indices_, nullptr);
      release_every_bytes_ = other.release_every_bytes_;
      tail_ = other.tail_;
      released_tail_ = other.released_tail_;
      lent_bytes_ = other.lent_bytes_;
    }
    return *this;
  }
  // A consumer that goes away hands back everything it has read, the event it lent last
  // included: the ring is empty once every event was read and the consumer is gone.
  ~Consumer() { hand_back(); }

  // The next event in FIFO order. The view stays valid until the next read_event() or poll().
  [[gnu::always_inline]] std::optional<event::EventView> read_event() noexcept {
    finish_lent_event();
    if (tail_ - released_tail_ >= release_every_bytes_) release();
    const auto record = geometry_.committed_record(tail_);
    if (!record) {
      release();  // drained: hand every byte back so the producer sees the whole ring
      return std::nullopt;
    }
    tail_ = record->at;
    lent_bytes_ = ringlog::detail::record_size(record->header.payload_len);
    return event::EventView{record->header, payload_of(*record)};
  }

  // Calls on_event(const event::EventView&) for up to `limit` events in order; returns how many.
  // The views are valid during the call only. Space is released to the producer on return.
  template <class F>
  std::size_t poll(F&& on_event, std::size_t limit = SIZE_MAX) {
    finish_lent_event();
    std::size_t count = 0;
    while (count < limit) {
      const auto record = geometry_.committed_record(tail_);
      if (!record) break;
      tail_ = record->at;
      on_event(event::EventView{record->header, payload_of(*record)});
      tail_ = record->end();
      ++count;
      if (tail_ - released_tail_ >= release_every_bytes_) release();
    }
    release();
    return count;
  }

  bool is_empty() const noexcept { return !geometry_.committed_record(tail_ + lent_bytes_); }
  // Bytes through the ring since its creation that this side has read: every record ending at
  // or below it was handed out.
  std::uint64_t position() const noexcept { return tail_ + lent_bytes_; }

  // Zero-copy batch read: committed records that lie one after another in ring memory, up to an
  // eighth of the ring, for a consumer that takes records as they are framed
  // (Journal::append_records). Empty when there is nothing. The bytes stay valid, and unread by
  // read_event(), until release_records().
  std::span<const std::byte> peek_records() noexcept {
    finish_lent_event();
    const auto first = geometry_.committed_record(tail_);
    if (!first) {
      release();
      peeked_end_ = tail_;
      return {};
    }
    tail_ = first->at;
    peeked_end_ = geometry_.contiguous_end(*first, release_every_bytes_);
    return {geometry_.at(tail_), peeked_end_ - tail_};
  }
  // Hands the first `bytes` of the last peek_records() back to the producer's side: whole
  // records, all of them or as many as were used.
  void release_records(std::size_t bytes) noexcept {
    RINGLOG_ASSERT(tail_ + bytes <= peeked_end_,
                   "release_records() hands back no more than the last peek_records() gave");
    tail_ += bytes;
    if (tail_ - released_tail_ >= release_every_bytes_) release();
  }

 private:
  friend class SpscRingBuffer;
  friend class SharedRing;
  // Starts at the released tail: zero for a new ring, or where a consumer that went away last
  // released (events it had read and not released are read again).
  Consumer(ringlog::detail::RingGeometry geometry, ringlog::detail::SharedIndices* indices) noexcept
      : geometry_(geometry),
        indices_(indices),
        release_every_bytes_(geometry.capacity() / release_fraction),
        tail_(indices->tail.load(std::memory_order_relaxed)),
        released_tail_(tail_) {}

  // Space goes back to the producer in steps of 1/8 of the ring: often enough that a writer
  // rarely finds the ring full for lack of a release, rarely enough to keep the tail's cache line
  // still.
  static constexpr std::size_t release_fraction = 8;

  std::span<const std::byte> payload_of(const ringlog::detail::CommittedRecord& record) const
      noexcept {
    return {geometry_.at(record.at) + event::EventHeader::SIZE, record.header.payload_len};
  }
  void finish_lent_event() noexcept { tail_ += std::exchange(lent_bytes_, 0); }
  void hand_back() noexcept {
    if (indices_ == nullptr) return;
    finish_lent_event();
    release();
  }
  void release() noexcept {
    if (released_tail_ == tail_) return;
    released_tail_ = tail_;
    indices_->tail.store(tail_, std::memory_order_release);  // we are done with bytes below it
  }

  ringlog::detail::RingGeometry geometry_;
  ringlog::detail::SharedIndices* indices_;
  std::uint64_t release_every_bytes_;
  // Alone in 16 bytes each, for the reason given at the Producer's members.
  alignas(16) std::uint64_t tail_;           // start of the next unread record (or of padding)
  alignas(16) std::uint64_t released_tail_;  // the tail the producer has been shown
  alignas(16) std::uint64_t lent_bytes_ = 0;  // size of the record the last view points into
  std::uint64_t peeked_end_ = 0;  // end of the records the last peek_records() gave
};

class SpscRingBuffer {
 public:
  // capacity: a power of two, at least min_capacity bytes.
  static std::expected<SpscRingBuffer, RingError> create(std::size_t capacity,
                                                         MemoryOptions = {});

  // Once; a second call throws std::logic_error.
  std::pair<Producer, Consumer> split();

  // True when the consumer has released everything written. The consumer releases in batches,
  // and at the latest when it finds the ring empty or a poll() returns.
  bool is_empty() const noexcept {
    return !geometry().committed_record(indices_->tail.load(std::memory_order_acquire));
  }
  std::size_t capacity() const noexcept { return capacity_; }
  // What the ring's memory is, read back from the kernel (a few system calls: not for the hot
  // path).
  MemoryReport memory_report() const { return detail::read_memory_report(memory_); }
  // Bytes written and not yet released by the consumer: a monitoring figure, read from any
  // thread. It reads the ring's newest records, so it is not for a tight loop.
  std::size_t used() const noexcept { return ringlog::detail::used_bytes(geometry(), *indices_); }

 private:
  SpscRingBuffer(ringlog::detail::Mapping memory, std::size_t capacity);
  ringlog::detail::RingGeometry geometry() const noexcept {
    return {memory_.data(), capacity_ - 1};
  }

  ringlog::detail::Mapping memory_;  // the ring's bytes first, then hugepage rounding
  std::size_t capacity_;
  std::unique_ptr<ringlog::detail::SharedIndices> indices_;  // stays put when the ring moves
  bool split_ = false;
};

}  // namespace ringlog::ring
