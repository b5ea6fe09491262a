#include <ringlog/detail/crc32c.hpp>

#include <gtest/gtest.h>

#include <string_view>

using ringlog::detail::crc32c;

TEST(crc32c, matches_the_standard_check_value) {
  constexpr std::string_view check = "123456789";
  EXPECT_EQ(crc32c(0, check.data(), check.size()), 0xE3069283u);
}

TEST(crc32c, matches_rfc3720_vectors) {
  unsigned char zeros[32] = {};
  unsigned char ones[32];
  std::fill(std::begin(ones), std::end(ones), 0xFF);
  EXPECT_EQ(crc32c(0, zeros, sizeof zeros), 0x8A9136AAu);
  EXPECT_EQ(crc32c(0, ones, sizeof ones), 0x62A8AB43u);
}

TEST(crc32c, chains_like_one_pass) {
  constexpr std::string_view text = "ringlog journals every event, in order";
  for (std::size_t split = 0; split <= text.size(); ++split) {
    const std::uint32_t first = crc32c(0, text.data(), split);
    EXPECT_EQ(crc32c(first, text.data() + split, text.size() - split),
              crc32c(0, text.data(), text.size()));
  }
}
