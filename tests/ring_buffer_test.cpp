#include <ringlog/ring.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cstring>

using namespace ringlog;
using ring::RingBuffer;
using test::header_for;
using test::make_payload;
using test::payload_matches;

namespace {

RingBuffer make_ring(std::size_t capacity) {
  auto ring = RingBuffer::create(capacity);
  if (!ring) throw std::runtime_error(ring::to_string(ring.error()));
  return std::move(*ring);
}

}  // namespace

TEST(ring_buffer, new_creates_empty_buffer) {
  RingBuffer ring = make_ring(1024);
  EXPECT_EQ(ring.capacity(), 1024u);
  EXPECT_EQ(ring.used(), 0u);
  EXPECT_EQ(ring.available(), 1024u);
  EXPECT_TRUE(ring.is_empty());
  EXPECT_FALSE(ring.read_event().has_value());
}

TEST(ring_buffer, write_single_event) {
  RingBuffer ring = make_ring(1024);
  const auto payload = make_payload(1, 10);
  ASSERT_TRUE(ring.write_event(header_for(1, 10), payload).has_value());
  EXPECT_FALSE(ring.is_empty());
  EXPECT_EQ(ring.used(), 32u);  // 16 + 10, padded to 8
  EXPECT_EQ(ring.available(), 1024u - 32u);
}

TEST(ring_buffer, read_single_event) {
  RingBuffer ring = make_ring(1024);
  const auto payload = make_payload(7, 24);
  ASSERT_TRUE(ring.write_event(header_for(7, 24, 3), payload).has_value());
  const auto view = ring.read_event();
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->header.timestamp, 7u);
  EXPECT_EQ(view->header.event_type, 3);
  EXPECT_EQ(view->header.payload_len, 24);
  ASSERT_EQ(view->payload.size(), 24u);
  EXPECT_TRUE(payload_matches(7, view->payload));
  EXPECT_TRUE(ring.is_empty());
  EXPECT_FALSE(ring.read_event().has_value());
}

TEST(ring_buffer, write_multiple_events) {
  RingBuffer ring = make_ring(4096);
  for (std::uint64_t seq = 0; seq < 20; ++seq) {
    const auto payload = make_payload(seq, seq * 3);
    ASSERT_TRUE(ring.write_event(header_for(seq, payload.size()), payload).has_value());
  }
  for (std::uint64_t seq = 0; seq < 20; ++seq) {
    const auto view = ring.read_event();
    ASSERT_TRUE(view.has_value());
    EXPECT_EQ(view->header.timestamp, seq);
    EXPECT_EQ(view->payload.size(), seq * 3);
    EXPECT_TRUE(payload_matches(seq, view->payload));
  }
  EXPECT_TRUE(ring.is_empty());
}

TEST(ring_buffer, buffer_full_returns_error) {
  RingBuffer ring = make_ring(256);
  const auto payload = make_payload(0, 48);  // 64-byte records: exactly four fit
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(ring.write_event(header_for(i, 48), payload));
  const auto full = ring.write_event(header_for(4, 48), payload);
  ASSERT_FALSE(full.has_value());
  const auto* space = std::get_if<ring::NotEnoughSpace>(&full.error());
  ASSERT_NE(space, nullptr) << ring::to_string(full.error());
  EXPECT_EQ(space->required, 64u);
  EXPECT_EQ(space->available, 0u);
  EXPECT_EQ(ring.used(), 256u);
  // The failed write changed nothing: the four events come back intact.
  for (std::uint64_t seq = 0; seq < 4; ++seq) {
    const auto view = ring.read_event();
    ASSERT_TRUE(view.has_value());
    EXPECT_EQ(view->header.timestamp, seq);
  }
  EXPECT_FALSE(ring.read_event().has_value());
}

TEST(ring_buffer, wrap_around_works) {
  RingBuffer ring = make_ring(256);
  // 40-byte records (24-byte payload) do not divide 256, so writing wraps with padding.
  std::uint64_t next_write = 0;
  std::uint64_t next_read = 0;
  for (int round = 0; round < 100; ++round) {
    while (ring.write_event(header_for(next_write, 24), make_payload(next_write, 24))) {
      ++next_write;
    }
    for (int i = 0; i < 3; ++i) {
      const auto view = ring.read_event();
      ASSERT_TRUE(view.has_value());
      ASSERT_EQ(view->header.timestamp, next_read);
      ASSERT_TRUE(payload_matches(next_read, view->payload));
      ASSERT_EQ(reinterpret_cast<std::uintptr_t>(view->payload.data()) % 8, 0u);
      ++next_read;
    }
  }
  EXPECT_GT(next_write, 256u / 40 * 20);  // many laps
  while (auto view = ring.read_event()) EXPECT_EQ(view->header.timestamp, next_read++);
  EXPECT_EQ(next_read, next_write);
}

TEST(ring_buffer, capacity_must_be_power_of_two) {
  for (std::size_t bad : {0ul, 1ul, 32ul, 63ul, 100ul, 1000ul, 4097ul}) {
    const auto ring = RingBuffer::create(bad);
    ASSERT_FALSE(ring.has_value()) << bad;
    const auto* invalid = std::get_if<ring::InvalidCapacity>(&ring.error());
    ASSERT_NE(invalid, nullptr);
    EXPECT_EQ(invalid->capacity, bad);
  }
  for (std::size_t good : {64ul, 128ul, 4096ul, 1ul << 20}) {
    EXPECT_TRUE(RingBuffer::create(good).has_value()) << good;
  }
}

TEST(ring_buffer, rejects_payload_that_can_never_fit) {
  RingBuffer ring = make_ring(256);
  EXPECT_EQ(ring::max_payload_len(256), 96u);
  const auto payload = make_payload(0, 97);
  const auto result = ring.write_event(header_for(0, 97), payload);
  ASSERT_FALSE(result.has_value());
  const auto* too_large = std::get_if<ring::PayloadTooLarge>(&result.error());
  ASSERT_NE(too_large, nullptr);
  EXPECT_EQ(too_large->payload_len, 97u);
  EXPECT_EQ(too_large->max_len, 96u);
  EXPECT_TRUE(ring.is_empty());
  EXPECT_TRUE(ring.write_event(header_for(0, 96), make_payload(0, 96)).has_value());
}

TEST(ring_buffer, rejects_length_mismatch_and_reserved_flag) {
  RingBuffer ring = make_ring(256);
  const auto payload = make_payload(0, 8);
  const auto mismatch = ring.write_event(header_for(0, 9), payload);
  ASSERT_FALSE(mismatch.has_value());
  EXPECT_TRUE(std::holds_alternative<ring::LengthMismatch>(mismatch.error()));

  auto header = header_for(0, 8);
  header.flags = 0x80;
  const auto reserved = ring.write_event(header, payload);
  ASSERT_FALSE(reserved.has_value());
  EXPECT_TRUE(std::holds_alternative<ring::ReservedFlag>(reserved.error()));
  EXPECT_TRUE(ring.is_empty());
}

TEST(ring_buffer, claim_commit_writes_in_place) {
  RingBuffer ring = make_ring(256);
  auto claimed = ring.try_claim(header_for(5, 12));
  ASSERT_TRUE(claimed.has_value());
  ASSERT_EQ(claimed->size(), 12u);
  EXPECT_TRUE(ring.is_empty()) << "nothing is visible before commit";
  for (std::size_t i = 0; i < 12; ++i) (*claimed)[i] = test::payload_byte(5, i);
  ring.commit();
  const auto view = ring.read_event();
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->header.timestamp, 5u);
  EXPECT_TRUE(payload_matches(5, view->payload));
}

TEST(ring_buffer, aborted_claim_leaves_nothing) {
  RingBuffer ring = make_ring(256);
  ASSERT_TRUE(ring.try_claim(header_for(1, 40)).has_value());
  ring.abort();
  ring.commit();  // nothing is claimed any more: commits nothing
  EXPECT_TRUE(ring.is_empty());
  EXPECT_FALSE(ring.read_event().has_value());
}

TEST(ring_buffer, errors_read_well_in_a_log_line) {
  EXPECT_EQ(ring::to_string(ring::NotEnoughSpace{80, 24}),
            "not enough space in ring: event needs 80 bytes, 24 available");
  EXPECT_EQ(ring::to_string(ring::InvalidCapacity{100, "must be a power of two"}),
            "invalid ring capacity 100: must be a power of two");
  EXPECT_EQ(ring::to_string(ring::PayloadTooLarge{70000, 65535}),
            "payload of 70000 bytes is larger than this ring's maximum of 65535");
}

// Where contracts are checked (Debug, sanitizer and fuzz builds), handing back more than a peek
// gave stops the process with the contract's words instead of corrupting the ring.
TEST(spsc_contracts, releasing_more_than_was_peeked_stops_the_process) {
#if defined(RINGLOG_ASSERTIONS) || !defined(NDEBUG)
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto ring = ring::SpscRingBuffer::create(1024);
  ASSERT_TRUE(ring.has_value());
  auto [producer, consumer] = ring->split();
  ASSERT_TRUE(producer.write_event(header_for(1, 8), make_payload(1, 8)));
  const auto records = consumer.peek_records();
  ASSERT_EQ(records.size(), 24u);
  EXPECT_DEATH(consumer.release_records(records.size() + 8),
               "contract broken.*no more than the last peek_records");
#else
  GTEST_SKIP() << "contracts are checked in Debug, sanitizer and fuzz builds only";
#endif
}
