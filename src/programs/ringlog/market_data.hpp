// Synthetic market data: the events the demo and `ringlog publish` write. Every field is a pure
// function of the sequence number, so a replay can check each event byte for byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace ringlog::programs {

// One market-data tick: which instrument, at what price (in ticks) and size, on which side.
struct Tick {
  std::uint64_t sequence;
  std::uint32_t instrument;
  std::uint32_t quantity;
  std::int64_t price_ticks;
  std::uint8_t side;  // 0 bid, 1 ask
  std::uint8_t padding[7];
};
static_assert(sizeof(Tick) == 32);

// A quote or a trade: about one trade per ten quotes.
std::uint8_t market_event_type(std::uint64_t sequence) noexcept;
// The payload schema of these events (market_data.toml): quotes and trades, by field.
extern const std::string_view market_data_schema;
// The tick of `sequence`, into the first sizeof(Tick) bytes of `payload`.
void fill_tick(std::uint64_t sequence, std::span<std::byte> payload) noexcept;

}  // namespace ringlog::programs
