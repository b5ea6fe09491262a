// Randomized model tests: random payload sizes over many laps of a small ring, every result
// checked against a plain std::deque doing the same operations.
#include <ringlog/ring.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <random>

using namespace ringlog;
using test::header_for;
using test::make_payload;
using test::payload_matches;

namespace {

struct Expected {
  std::uint64_t sequence;
  std::size_t size;
};

constexpr int operations = 200'000;

}  // namespace

TEST(ring_model, ring_buffer_matches_a_queue) {
  for (std::size_t capacity : {64ul, 256ul, 4096ul}) {
    auto ring = ring::RingBuffer::create(capacity);
    ASSERT_TRUE(ring.has_value());
    std::mt19937_64 random(capacity);
    std::uniform_int_distribution<std::size_t> size_of(0, ring::max_payload_len(capacity));
    std::deque<Expected> model;
    std::size_t model_bytes = 0;
    std::uint64_t next = 0;
    for (int op = 0; op < operations; ++op) {
      if (random() % 2 == 0) {
        const std::size_t size = size_of(random);
        const auto result = ring->write_event(header_for(next, size), make_payload(next, size));
        const std::size_t record = detail::record_size(size);
        if (result) {
          model.push_back({next++, size});
          model_bytes += record;
        } else {
          // Only a lack of room may refuse a valid event, and never with room to spare.
          const auto* space = std::get_if<ring::NotEnoughSpace>(&result.error());
          ASSERT_NE(space, nullptr) << ring::to_string(result.error());
          ASSERT_GT(space->required, space->available);
        }
      } else {
        const auto view = ring->read_event();
        ASSERT_EQ(view.has_value(), !model.empty());
        if (!view) continue;
        ASSERT_EQ(view->header.timestamp, model.front().sequence);
        ASSERT_EQ(view->payload.size(), model.front().size);
        ASSERT_TRUE(payload_matches(model.front().sequence, view->payload));
        model_bytes -= detail::record_size(model.front().size);
        model.pop_front();
      }
      ASSERT_EQ(ring->is_empty(), model.empty());
      ASSERT_GE(ring->used(), model_bytes);  // padding may add to it, never take away
    }
    EXPECT_GT(next * 16, capacity * 100) << "the test should lap the ring many times";
  }
}

TEST(ring_model, spsc_handles_match_a_queue_on_one_thread) {
  auto ring = ring::SpscRingBuffer::create(1024);
  ASSERT_TRUE(ring.has_value());
  auto [producer, consumer] = ring->split();
  std::mt19937_64 random(42);
  std::uniform_int_distribution<std::size_t> size_of(0, producer.max_payload());
  std::deque<Expected> model;
  std::uint64_t next = 0;
  for (int op = 0; op < operations; ++op) {
    const auto choice = random() % 3;
    if (choice == 0) {
      const std::size_t size = size_of(random);
      if (producer.write_event(header_for(next, size), make_payload(next, size))) {
        model.push_back({next++, size});
      }
    } else if (choice == 1) {
      const std::size_t size = size_of(random);
      if (auto claimed = producer.try_claim(header_for(next, size))) {
        const auto payload = make_payload(next, size);
        std::copy(payload.begin(), payload.end(), claimed->begin());
        if (random() % 4 == 0) {
          producer.abort();
        } else {
          producer.commit();
          model.push_back({next++, size});
        }
      }
    } else {
      const std::size_t limit = random() % 4;
      const std::size_t polled = consumer.poll(
          [&](const event::EventView& view) {
            ASSERT_FALSE(model.empty());
            ASSERT_EQ(view.header.timestamp, model.front().sequence);
            ASSERT_EQ(view.payload.size(), model.front().size);
            ASSERT_TRUE(payload_matches(model.front().sequence, view.payload));
            model.pop_front();
          },
          limit);
      ASSERT_LE(polled, limit);
    }
    ASSERT_EQ(consumer.is_empty(), model.empty());
  }
  EXPECT_GT(next, 10'000u);
}
