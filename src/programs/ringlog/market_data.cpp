#include "programs/ringlog/market_data.hpp"

#include <cstring>

namespace ringlog::programs {

namespace {

// splitmix64: a cheap, well-mixed hash, so every field is a pure function of the sequence.
std::uint64_t mix(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EB;
  return x ^ (x >> 31);
}

enum MarketEvent : std::uint8_t { quote = 1, trade = 2 };

}  // namespace

std::uint8_t market_event_type(std::uint64_t sequence) noexcept {
  return mix(sequence) % 10 == 0 ? trade : quote;  // about one trade per ten quotes
}

void fill_tick(std::uint64_t sequence, std::span<std::byte> payload) noexcept {
  const std::uint64_t random = mix(sequence);
  Tick tick{};
  tick.sequence = sequence;
  tick.instrument = static_cast<std::uint32_t>(random % 500);
  tick.quantity = static_cast<std::uint32_t>(100 * (1 + (random >> 12) % 50));
  tick.price_ticks = 1'000'000 + static_cast<std::int64_t>((random >> 24) % 20'000) - 10'000;
  tick.side = static_cast<std::uint8_t>((random >> 40) & 1);
  std::memcpy(payload.data(), &tick, sizeof tick);
}

}  // namespace ringlog::programs
