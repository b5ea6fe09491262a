// The events the power-cut writer appends and the checker expects: every byte a pure function of
// the sequence number, so that the checker knows each event without a copy of what was written.
#pragma once

#include <ringlog/event.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace ringlog::powercut {

inline std::uint64_t mix(std::uint64_t x) noexcept {  // splitmix64
  x += 0x9E3779B97F4A7C15;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EB;
  return x ^ (x >> 31);
}

// 8 to 512 bytes: records of many sizes, so that segment ends fall in many places.
inline std::uint16_t payload_len_of(std::uint64_t sequence) noexcept {
  return static_cast<std::uint16_t>(8 + mix(sequence) % 505);
}

inline event::EventHeader header_of(std::uint64_t sequence) noexcept {
  return event::EventHeader(sequence * 1000, static_cast<std::uint8_t>(sequence % 7 + 1),
                            payload_len_of(sequence));
}

inline std::vector<std::byte> payload_of(std::uint64_t sequence) {
  std::vector<std::byte> payload(payload_len_of(sequence));
  for (std::size_t at = 0; at < payload.size(); at += 8) {
    const std::uint64_t word = mix(sequence ^ (at * 0x100000001B3));
    std::memcpy(payload.data() + at, &word, std::min<std::size_t>(8, payload.size() - at));
  }
  return payload;
}

inline bool is_expected(std::uint64_t sequence, const event::EventHeader& header,
                        std::span<const std::byte> payload) {
  const event::EventHeader wanted = header_of(sequence);
  const std::vector<std::byte> bytes = payload_of(sequence);
  return header.timestamp == wanted.timestamp && header.event_type == wanted.event_type &&
         header.payload_len == wanted.payload_len && payload.size() == bytes.size() &&
         std::memcmp(payload.data(), bytes.data(), bytes.size()) == 0;
}

}  // namespace ringlog::powercut
