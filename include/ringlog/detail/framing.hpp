// Record framing shared by rings and log files.
//
// A record is an EventHeader followed by its payload, padded to an 8-byte boundary. Records are
// never split: where a record would cross the end of a ring, the writer fills the gap with a
// padding record (flags bit 7 set) and continues at offset 0; a gap too short to hold a header
// is padding by definition. Readers therefore always see one contiguous span per event.
#pragma once

#include <ringlog/event.hpp>

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace ringlog::detail {

inline constexpr std::size_t record_alignment = 8;
inline constexpr std::uint8_t framing_flag = 0x80;  // set only on records the library writes

enum class FramingKind : std::uint8_t {
  padding = 0,  // skip to the end of the ring
  batch = 1,    // in log files: a checksum over the run of records that follows
  // 2 is event::drop_marker_type: a record the library writes that readers take as an event
};

constexpr std::size_t record_size(std::size_t payload_len) noexcept {
  return (event::EventHeader::SIZE + payload_len + record_alignment - 1) & ~(record_alignment - 1);
}

// Framing: a record that is no event (padding, a batch's checksum). A drop marker carries the
// framing flag too, which keeps users from writing one, but is read as an event.
constexpr bool is_framing(const event::EventHeader& header) noexcept {
  return (header.flags & framing_flag) != 0 && !event::is_drop_marker(header);
}
// Whether users may write it: records with the framing flag are the library's alone.
constexpr bool is_library_record(const event::EventHeader& header) noexcept {
  return (header.flags & framing_flag) != 0;
}

// Headers sit at 8-byte aligned offsets; memcpy keeps the load free of aliasing questions and
// compiles to two plain loads.
inline event::EventHeader load_header(const std::byte* at) noexcept {
  event::EventHeader header;
  std::memcpy(&header, at, sizeof header);
  return header;
}

inline void store_header(std::byte* at, const event::EventHeader& header) noexcept {
  std::memcpy(at, &header, sizeof header);
}

// A header's second half (type, flags, length, reserved) as one 64-bit word, little-endian:
// the word a writer stores last, with release, when a reader on another thread or process may
// read the record while it is written. The reader loads it first, with acquire, and then sees
// every byte the writer stored before it.
//
// Built from the fields rather than loaded as one word: a caller that has just stored the fields
// one by one would make an 8-byte load wait until those narrower stores, and every store before
// them, reach the cache (a load spanning several stores cannot be forwarded from them).
static_assert(std::endian::native == std::endian::little, "the framing is little-endian");
constexpr std::uint64_t second_half(const event::EventHeader& header) noexcept {
  return std::uint64_t{header.event_type} | std::uint64_t{header.flags} << 8 |
         std::uint64_t{header.payload_len} << 16 | std::uint64_t{header.reserved} << 32;
}
inline std::atomic_ref<std::uint64_t> second_half_at(std::byte* at) noexcept {
  return std::atomic_ref(*reinterpret_cast<std::uint64_t*>(at + 8));
}
inline std::atomic_ref<std::uint64_t> second_half_at(const std::byte* at) noexcept {
  return second_half_at(const_cast<std::byte*>(at));  // loads only
}
// The header whose second half was loaded already; its timestamp is read now.
inline event::EventHeader header_with(const std::byte* at, std::uint64_t half) noexcept {
  event::EventHeader header;
  std::memcpy(&header.timestamp, at, sizeof header.timestamp);
  std::memcpy(reinterpret_cast<std::byte*>(&header) + 8, &half, sizeof half);
  return header;
}
inline constexpr std::size_t payload_len_of(std::uint64_t half) noexcept {
  return static_cast<std::uint16_t>(half >> 16);
}
inline constexpr std::uint32_t reserved_of(std::uint64_t half) noexcept {
  return static_cast<std::uint32_t>(half >> 32);
}
inline constexpr bool is_drop_marker(std::uint64_t half) noexcept {
  // The second half without its reserved word: type, flags, length.
  constexpr std::uint64_t drop_marker_half =
      std::uint64_t{event::drop_marker_type} | std::uint64_t{event::drop_marker_flags} << 8 |
      std::uint64_t{sizeof(event::DropMarker)} << 16;
  return (half & 0xffff'ffff) == drop_marker_half;
}
inline constexpr bool is_framing(std::uint64_t half) noexcept {
  return ((half >> 8) & framing_flag) != 0 && !is_drop_marker(half);
}

// Copies an event's payload into its record. Up to word_copy_max_bytes it loads 8 bytes at a
// time: a payload the caller has just stored, field by field, is then read back by store
// forwarding. memcpy's vector loads span several of the caller's stores, cannot be forwarded,
// and wait until every earlier store reaches the cache, the ring's stores to lines the consumer
// holds included: measured, that halves write_event's rate when the consumer keeps up. The
// stores go 16 bytes at a time, so that the copy takes few store-buffer entries.
inline constexpr std::size_t word_copy_max_bytes = 256;
inline void copy_payload(std::byte* to, const std::byte* from, std::size_t bytes) noexcept {
  if (bytes > word_copy_max_bytes) {
    std::memcpy(to, from, bytes);
    return;
  }
  std::size_t at = 0;
  const auto load_piece = [&]<class Piece>(Piece piece) {
    std::memcpy(&piece, from + at, sizeof piece);
    asm("" : "+r"(piece));  // keeps the compiler from merging the loads into vector loads
    at += sizeof piece;
    return piece;
  };
  const auto copy_piece = [&]<class Piece>(Piece piece) {
    piece = load_piece(piece);
    std::memcpy(to + at - sizeof piece, &piece, sizeof piece);
  };
  using Pair = std::uint64_t __attribute__((vector_size(16)));
  while (bytes - at >= sizeof(Pair)) {
    const Pair pair{load_piece(std::uint64_t{}), load_piece(std::uint64_t{})};
    std::memcpy(to + at - sizeof pair, &pair, sizeof pair);
  }
  if (bytes - at >= 8) copy_piece(std::uint64_t{});
  if (bytes - at >= 4) copy_piece(std::uint32_t{});
  if (bytes - at >= 2) copy_piece(std::uint16_t{});
  if (bytes - at >= 1) copy_piece(std::uint8_t{});
}

// Writes a record's header so that a concurrent reader sees it whole or not at all.
inline void publish_header(std::byte* at, const event::EventHeader& header) noexcept {
  std::memcpy(at, &header.timestamp, sizeof header.timestamp);
  second_half_at(at).store(second_half(header), std::memory_order_release);
}
inline event::EventHeader load_published_header(const std::byte* at) noexcept {
  return header_with(at, second_half_at(at).load(std::memory_order_acquire));
}

constexpr event::EventHeader padding_header() noexcept {
  event::EventHeader header;
  header.event_type = static_cast<std::uint8_t>(FramingKind::padding);
  header.flags = framing_flag;
  return header;
}

// A run of whole event records at the start of a span of ring or file bytes.
struct RecordRun {
  std::size_t bytes = 0;
  std::uint64_t events = 0;
  std::uint64_t dropped = 0;  // the events that the drop markers among them count
  bool overrun = false;       // a record claims more bytes than the span holds
};

// The events a drop marker's record at `at` counts (event::DropMarker::dropped_events).
inline std::uint64_t dropped_events_at(const std::byte* at) noexcept {
  std::uint64_t dropped;
  constexpr std::size_t count_at =
      event::EventHeader::SIZE + offsetof(event::DropMarker, dropped_events);
  std::memcpy(&dropped, at + count_at, sizeof dropped);
  return dropped;
}

// Measures the records at the start of `records` up to a framing record (the ring's wrap
// padding), a tail too short for a header, `max_events` events or `max_bytes` bytes.
inline RecordRun measure_records(std::span<const std::byte> records,
                                 std::uint64_t max_events = UINT64_MAX,
                                 std::size_t max_bytes = SIZE_MAX) noexcept {
  RecordRun run;
  while (run.events < max_events && records.size() - run.bytes >= event::EventHeader::SIZE) {
    const event::EventHeader header = load_header(records.data() + run.bytes);
    if (is_framing(header)) break;
    const std::size_t size = record_size(header.payload_len);
    if (size > records.size() - run.bytes) {
      run.overrun = true;
      break;
    }
    if (size > max_bytes - run.bytes) break;
    // The header is at hand: a marker costs its count's load, other records one compare.
    if (event::is_drop_marker(header)) [[unlikely]] {
      run.dropped += dropped_events_at(records.data() + run.bytes);
    }
    run.bytes += size;
    ++run.events;
  }
  return run;
}

inline event::EventView view_at(const std::byte* at) noexcept {
  const event::EventHeader header = load_header(at);
  return {header, {at + event::EventHeader::SIZE, header.payload_len}};
}

}  // namespace ringlog::detail
