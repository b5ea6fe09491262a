// The geometry both ring flavours place records with, and the indices an SPSC ring shares.
#pragma once

#include <ringlog/detail/framing.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

namespace ringlog::detail {

// Two lines, not one: the adjacent-line prefetcher pulls cache lines in pairs.
inline constexpr std::size_t cache_line_pair = 128;

// Positions are byte counts since the ring was created; they never wrap in practice (2^64 bytes),
// so `head - tail` is the number of bytes in use and `pos & mask` the offset in memory.
struct RingGeometry {
  std::byte* base = nullptr;
  std::uint64_t mask = 0;

  std::uint64_t capacity() const noexcept { return mask + 1; }
  std::byte* at(std::uint64_t pos) const noexcept { return base + (pos & mask); }

  // Where a record of `size` bytes written at `head` starts: at head, or at the next lap when
  // it would cross the end of the ring.
  std::uint64_t record_start(std::uint64_t head, std::size_t size) const noexcept {
    const std::uint64_t to_end = capacity() - (head & mask);
    return to_end < size ? head + to_end : head;
  }

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
};

// The two indices the producer and consumer threads exchange, each on its own cache-line pair
// so that a store by one side never invalidates the line the other side spins on.
struct SharedIndices {
  alignas(cache_line_pair) std::atomic<std::uint64_t> head{0};  // written by the producer only
  alignas(cache_line_pair) std::atomic<std::uint64_t> tail{0};  // written by the consumer only
};

}  // namespace ringlog::detail
