// Record framing shared by rings and log files.
//
// A record is an EventHeader followed by its payload, padded to an 8-byte boundary. Records are
// never split: where a record would cross the end of a ring, the writer fills the gap with a
// padding record (flags bit 7 set) and continues at offset 0; a gap too short to hold a header
// is padding by definition. Readers therefore always see one contiguous span per event.
#pragma once

#include <ringlog/event.hpp>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <span>

namespace ringlog::detail {

inline constexpr std::size_t record_alignment = 8;
inline constexpr std::uint8_t framing_flag = 0x80;  // set only on records the library writes

enum class FramingKind : std::uint8_t {
  padding = 0,  // skip to the end of the ring
  batch = 1,    // in log files: a checksum over the run of records that follows
};

constexpr std::size_t record_size(std::size_t payload_len) noexcept {
  return (event::EventHeader::SIZE + payload_len + record_alignment - 1) & ~(record_alignment - 1);
}

constexpr bool is_framing(const event::EventHeader& header) noexcept {
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
inline std::uint64_t second_half(const event::EventHeader& header) noexcept {
  std::uint64_t half;
  std::memcpy(&half, reinterpret_cast<const std::byte*>(&header) + 8, sizeof half);
  return half;
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
inline constexpr bool is_framing(std::uint64_t half) noexcept {
  return ((half >> 8) & framing_flag) != 0;
}

// Writes a record's header so that a concurrent reader sees it whole or not at all.
inline void publish_header(std::byte* at, const event::EventHeader& header) noexcept {
  std::memcpy(at, &header.timestamp, sizeof header.timestamp);
  second_half_at(at).store(second_half(header), std::memory_order_release);
}
inline event::EventHeader load_published_header(const std::byte* at) noexcept {
  return header_with(at, second_half_at(at).load(std::memory_order_acquire));
}

inline event::EventHeader padding_header() noexcept {
  event::EventHeader header;
  header.event_type = static_cast<std::uint8_t>(FramingKind::padding);
  header.flags = framing_flag;
  return header;
}

// A run of whole event records at the start of a span of ring or file bytes.
struct RecordRun {
  std::size_t bytes = 0;
  std::uint64_t events = 0;
  bool overrun = false;  // a record claims more bytes than the span holds
};

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
