// How events travel in the stream, and how blocks are compressed: plain names, so that the
// configuration and the service compile without the NATS client (message_format.hpp has the
// forms themselves).
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace ringlog::ship {

// blocks: a message carries a run of events (the default); events: a message per event.
enum class ShipFormat { blocks, events };
enum class Compression { none, lz4, zstd };

// The bounds of a block's body: room for the largest event (64 KiB of payload), and less than
// any server's max_payload may be raised to.
inline constexpr std::size_t min_block_bytes = std::size_t{80} << 10;
inline constexpr std::size_t max_block_bytes = std::size_t{64} << 20;

inline constexpr std::array<std::string_view, 2> ship_format_names = {"blocks", "events"};
inline constexpr std::array<std::string_view, 3> compression_names = {"none", "lz4", "zstd"};

constexpr std::string_view name_of(ShipFormat format) {
  return ship_format_names[static_cast<std::size_t>(format)];
}
constexpr std::string_view name_of(Compression compression) {
  return compression_names[static_cast<std::size_t>(compression)];
}

// The enumerator a name stands for; nullopt for none.
template <class Enum, std::size_t N>
constexpr std::optional<Enum> named(const std::array<std::string_view, N>& names,
                                    std::string_view name) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<Enum>(i);
  }
  return std::nullopt;
}
constexpr std::optional<ShipFormat> ship_format_named(std::string_view name) {
  return named<ShipFormat>(ship_format_names, name);
}
constexpr std::optional<Compression> compression_named(std::string_view name) {
  return named<Compression>(compression_names, name);
}

}  // namespace ringlog::ship
