// Record framing shared by rings and log files.
//
// A record is an EventHeader followed by its payload, padded to an 8-byte boundary. Records are
// never split: where a record would cross the end of a ring, the writer fills the gap with a
// padding record (flags bit 7 set) and continues at offset 0; a gap too short to hold a header
// is padding by definition. Readers therefore always see one contiguous span per event.
#pragma once

#include <ringlog/event.hpp>

#include <cstring>

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

inline event::EventHeader padding_header() noexcept {
  event::EventHeader header;
  header.event_type = static_cast<std::uint8_t>(FramingKind::padding);
  header.flags = framing_flag;
  return header;
}

inline event::EventView view_at(const std::byte* at) noexcept {
  const event::EventHeader header = load_header(at);
  return {header, {at + event::EventHeader::SIZE, header.payload_len}};
}

}  // namespace ringlog::detail
