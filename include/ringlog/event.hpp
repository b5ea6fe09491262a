// Events: the 16-byte header every record starts with, and the zero-copy view readers hand out.
//
// The same record framing is used in ring memory and in log files (see detail/framing.hpp), so a
// run of ring records can be persisted without re-encoding it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

namespace ringlog::event {

struct EventHeader {
  std::uint64_t timestamp = 0;
  std::uint8_t event_type = 0;
  std::uint8_t flags = 0;          // bit 7 is reserved for the library's framing records
  std::uint16_t payload_len = 0;
  std::uint32_t reserved = 0;      // 0 in user code; SPSC rings keep a commit mark here, a
                                   // single record in a log file its CRC-32C

  static constexpr std::size_t SIZE = 16;

  constexpr EventHeader() noexcept = default;
  constexpr EventHeader(std::uint64_t timestamp_, std::uint8_t event_type_,
                        std::uint16_t payload_len_) noexcept
      : timestamp(timestamp_), event_type(event_type_), payload_len(payload_len_) {}

  // The event's own bytes, header and payload, unpadded. A record in a ring or a log file takes
  // detail::record_size(payload_len): this rounded up to 8.
  constexpr std::size_t total_size() const noexcept { return SIZE + payload_len; }
};

static_assert(sizeof(EventHeader) == EventHeader::SIZE);

struct EventView {
  EventHeader header;
  std::span<const std::byte> payload;  // points into ring or file memory, never a copy
};

// The record a publisher writes in place of events it dropped under the `drop` overflow policy
// (ringlog::service::OverflowPolicy): in order with its events, so that every reader of the
// ring or the journal sees how many were lost, and where. The library writes it with bit 7 of
// flags set, which user events never carry; it takes a sequence number in the journal like an
// event. Its header's timestamp is the first dropped event's.
struct DropMarker {
  std::uint64_t dropped_events = 0;
  std::uint64_t first_timestamp = 0;  // of the first and the last event dropped
  std::uint64_t last_timestamp = 0;
};
inline constexpr std::uint8_t drop_marker_flags = 0x80;
inline constexpr std::uint8_t drop_marker_type = 2;

constexpr bool is_drop_marker(const EventHeader& header) noexcept {
  return header.flags == drop_marker_flags && header.event_type == drop_marker_type &&
         header.payload_len == sizeof(DropMarker);
}
constexpr EventHeader drop_marker_header(const DropMarker& marker) noexcept {
  EventHeader header(marker.first_timestamp, drop_marker_type, sizeof(DropMarker));
  header.flags = drop_marker_flags;
  return header;
}
// The marker an event view holds, or nothing when it is an event.
inline std::optional<DropMarker> as_drop_marker(const EventView& view) noexcept {
  if (!is_drop_marker(view.header) || view.payload.size() != sizeof(DropMarker)) {
    return std::nullopt;
  }
  DropMarker marker;
  std::memcpy(&marker, view.payload.data(), sizeof marker);
  return marker;
}

}  // namespace ringlog::event
