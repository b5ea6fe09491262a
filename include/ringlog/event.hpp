// Events: the 16-byte header every record starts with, and the zero-copy view readers hand out.
//
// The same record framing is used in ring memory and in log files (see detail/framing.hpp), so a
// run of ring records can be persisted without re-encoding it.
#pragma once

#include <cstddef>
#include <cstdint>
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

}  // namespace ringlog::event
