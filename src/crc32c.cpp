#include "crc32c.hpp"

#include <array>
#include <cstring>

namespace ringlog::detail {

namespace {

constexpr std::uint32_t castagnoli_reflected = 0x82F63B78;

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t byte = 0; byte < 256; ++byte) {
    std::uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? castagnoli_reflected : 0);
    table[byte] = crc;
  }
  return table;
}

constexpr std::array<std::uint32_t, 256> byte_table = make_table();

std::uint32_t update_portable(std::uint32_t crc, const unsigned char* at, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) crc = (crc >> 8) ^ byte_table[(crc ^ at[i]) & 0xFF];
  return crc;
}

// The SSE4.2 crc32 instruction computes exactly this polynomial, 8 bytes per instruction.
__attribute__((target("sse4.2"))) std::uint32_t update_sse42(std::uint32_t crc,
                                                             const unsigned char* at,
                                                             std::size_t size) {
  std::uint64_t wide = crc;
  for (; size >= 8; size -= 8, at += 8) {
    std::uint64_t word;
    std::memcpy(&word, at, sizeof word);
    wide = __builtin_ia32_crc32di(wide, word);
  }
  crc = static_cast<std::uint32_t>(wide);
  for (; size > 0; --size, ++at) crc = __builtin_ia32_crc32qi(crc, *at);
  return crc;
}

using Update = std::uint32_t (*)(std::uint32_t, const unsigned char*, std::size_t);

Update pick_update() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2") ? update_sse42 : update_portable;
}

const Update update = pick_update();

}  // namespace

std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size) noexcept {
  return ~update(~crc, static_cast<const unsigned char*>(data), size);
}

}  // namespace ringlog::detail
