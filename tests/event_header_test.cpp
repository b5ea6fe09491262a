#include <ringlog/event.hpp>

#include <gtest/gtest.h>

#include <cstring>

using ringlog::event::EventHeader;

TEST(event_header, size_is_16_bytes) {
  EXPECT_EQ(sizeof(EventHeader), 16u);
  EXPECT_EQ(EventHeader::SIZE, 16u);
}

TEST(event_header, total_size_includes_payload) {
  EXPECT_EQ(EventHeader(1, 2, 0).total_size(), 16u);
  EXPECT_EQ(EventHeader(1, 2, 64).total_size(), 80u);
  EXPECT_EQ(EventHeader(1, 2, 65535).total_size(), 65551u);
}

TEST(event_header, new_sets_fields_correctly) {
  const EventHeader header(0x1122334455667788, 7, 300);
  EXPECT_EQ(header.timestamp, 0x1122334455667788u);
  EXPECT_EQ(header.event_type, 7);
  EXPECT_EQ(header.flags, 0);
  EXPECT_EQ(header.payload_len, 300);
  EXPECT_EQ(header.reserved, 0u);
}

TEST(event_header, default_is_all_zero) {
  const EventHeader header;
  const unsigned char zeros[16] = {};
  EXPECT_EQ(std::memcmp(&header, zeros, sizeof zeros), 0);
}

TEST(event_header, layout_is_little_endian_at_fixed_offsets) {
  EventHeader header(0x0807060504030201, 0x09, 0x0C0B);
  header.flags = 0x0A;
  header.reserved = 0x100F0E0D;
  unsigned char bytes[16];
  std::memcpy(bytes, &header, sizeof bytes);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(bytes[i], i + 1) << "byte " << i;
}
