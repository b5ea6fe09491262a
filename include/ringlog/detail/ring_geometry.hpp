// The geometry both ring flavours place records with, the in-band commit protocol of the SPSC
// rings, and the indices they share.
#pragma once

#include <ringlog/detail/framing.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace ringlog::detail {

// Two lines, not one: the adjacent-line prefetcher pulls cache lines in pairs.
inline constexpr std::size_t cache_line_pair = 128;

// In an SPSC ring a record's header.reserved holds this mark once the record is committed, and
// zero before: the producer stores the header's second half last, with release, so the record's
// own cache line carries both its bytes and their publication. Readers of the ring's records
// (views, the journal's batches) see the mark there.
inline constexpr std::uint32_t commit_mark = 0x4B4D4352;  // "RCMK"

// The second half of a committed record's header: the caller's type, flags and length, with the
// commit mark in `reserved`.
constexpr std::uint64_t commit_word(const event::EventHeader& header) noexcept {
  return (second_half(header) & 0xFFFF'FFFF) | std::uint64_t{commit_mark} << 32;
}

// A committed record found in a ring: where its header is, and the header.
struct CommittedRecord {
  std::uint64_t at;
  event::EventHeader header;
  std::uint64_t end() const noexcept { return at + record_size(header.payload_len); }
};

// Positions are byte counts since the ring was created; they never wrap in practice (2^64 bytes),
// so `head - tail` is the number of bytes in use and `pos & mask` the offset in memory.
struct RingGeometry {
  std::byte* base = nullptr;
  std::uint64_t mask = 0;

  std::uint64_t capacity() const noexcept { return mask + 1; }
  std::byte* at(std::uint64_t pos) const noexcept { return base + (pos & mask); }
  std::uint64_t next_lap(std::uint64_t pos) const noexcept { return (pos | mask) + 1; }

  // Where a record of `size` bytes written at `head` starts: at head, or at the next lap when
  // it would cross the end of the ring.
  std::uint64_t record_start(std::uint64_t head, std::size_t size) const noexcept {
    const std::uint64_t to_end = capacity() - (head & mask);
    return to_end < size ? head + to_end : head;
  }

  // Where the header of a record that follows `pos` sits: at pos, or at the next lap when the
  // gap to the end of the ring is too short for a header (such a gap is padding by definition).
  std::uint64_t header_slot(std::uint64_t pos) const noexcept {
    return capacity() - (pos & mask) < event::EventHeader::SIZE ? next_lap(pos) : pos;
  }

  // --- RingBuffer (one thread): records are readable below its head index. ---

  // Writes the record's header at `start`, marking [head, start) as padding first (a gap too
  // short for a header needs no marker), and returns the record's payload bytes.
  std::span<std::byte> place(std::uint64_t head, std::uint64_t start,
                             const event::EventHeader& header) const noexcept {
    if (start - head >= event::EventHeader::SIZE) store_header(at(head), padding_header());
    store_header(at(start), header);
    return {at(start) + event::EventHeader::SIZE, header.payload_len};
  }

  // The position of the record at or after `pos`, skipping padding. Padding is only ever
  // published together with the record that follows it, so there is always one.
  std::uint64_t skip_padding(std::uint64_t pos) const noexcept {
    const std::uint64_t to_end = capacity() - (pos & mask);
    if (to_end < event::EventHeader::SIZE || is_framing(load_header(at(pos)))) return pos + to_end;
    return pos;
  }

  // --- SPSC rings: a record is readable once its commit mark is set. ---

  std::uint64_t load_commit_word(std::uint64_t slot) const noexcept {
    return second_half_at(at(slot)).load(std::memory_order_acquire);
  }
  static bool is_committed(std::uint64_t half) noexcept {
    return reserved_of(half) == commit_mark;
  }

  // The committed record a reader standing at `pos` (a record boundary) reads next, if there is
  // one. A committed padding record sends it to the next lap, whose record the producer
  // committed first.
  [[gnu::always_inline]] std::optional<CommittedRecord> committed_record(
      std::uint64_t pos) const noexcept {
    std::uint64_t slot = header_slot(pos);
    std::uint64_t half = load_commit_word(slot);
    if (!is_committed(half)) return std::nullopt;
    if (is_framing(half)) {
      slot = next_lap(slot);
      half = load_commit_word(slot);
    }
    return CommittedRecord{slot, header_with(at(slot), half)};
  }

  // The end of the run of committed records from `pos` (a record boundary) on, crossing lap
  // ends, going at most `max_bytes` further. Records that are committed stay put until the
  // consumer releases them, so with both sides running the answer is a snapshot.
  std::uint64_t committed_end(std::uint64_t pos, std::uint64_t max_bytes) const noexcept {
    const std::uint64_t stop = pos + max_bytes;
    while (const auto record = committed_record(pos)) {
      if (record->end() > stop) break;
      pos = record->end();
    }
    return pos;
  }

  // Committed records that lie one after another in memory from `first` on, up to `max_bytes`
  // (at least `first`): they end at a record that is not committed yet, at the wrap's padding,
  // or where the lap ends.
  std::uint64_t contiguous_end(const CommittedRecord& first, std::uint64_t max_bytes) const
      noexcept {
    const std::uint64_t lap_end = next_lap(first.at);
    std::uint64_t end = first.end();
    while (end - first.at < max_bytes && lap_end - end >= event::EventHeader::SIZE) {
      const std::uint64_t half = load_commit_word(end);
      if (!is_committed(half) || is_framing(half)) break;
      end += record_size(payload_len_of(half));
    }
    return end;
  }
};

// The two indices the producer and consumer exchange, each on its own cache-line pair so that a
// store by one side never invalidates the line the other side works on. Neither is on a hot
// path: the consumer learns of records from their commit marks, so the producer publishes its
// head only now and then (for used() and for a producer that takes over); the consumer hands
// space back through the tail in batches.
struct SharedIndices {
  alignas(cache_line_pair) std::atomic<std::uint64_t> head{0};  // written by the producer only
  alignas(cache_line_pair) std::atomic<std::uint64_t> tail{0};  // written by the consumer only
};

// Bytes written and not yet released, from any thread: a monitoring figure. It reads the
// records past the lazily published head, at most a lap of them. The indices of a shared ring
// are another process's to write: they are taken only as 8-byte aligned positions within a lap
// of each other, so whatever they hold, the walk stays within the ring and ends.
inline std::uint64_t used_bytes(const RingGeometry& geometry, const SharedIndices& indices) {
  constexpr std::uint64_t aligned = ~std::uint64_t{record_alignment - 1};
  const std::uint64_t tail = indices.tail.load(std::memory_order_acquire) & aligned;
  const std::uint64_t head = indices.head.load(std::memory_order_acquire) & aligned;
  const bool head_in_lap = head > tail && head - tail <= geometry.capacity();
  const std::uint64_t from = head_in_lap ? head : tail;
  const std::uint64_t end = geometry.committed_end(from, tail + geometry.capacity() - from);
  return end - tail;
}

}  // namespace ringlog::detail
