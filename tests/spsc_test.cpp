// Two-thread tests of SpscRingBuffer: a start barrier, then every event checked for order and
// for every payload byte. These also run under the ThreadSanitizer build.
#include <ringlog/ring.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <stdexcept>
#include <thread>

using namespace ringlog;
using test::header_for;
using test::payload_byte;
using test::payload_matches;

namespace {

// Sizes cycle through 0..71 so that records of every padded length meet the wrap point.
std::size_t size_for(std::uint64_t sequence) { return sequence % 72; }

struct Received {
  std::uint64_t count = 0;
  std::uint64_t first_bad = UINT64_MAX;  // sequence of the first wrong event, if any
};

// A broken ring tends to hang rather than crash; the watchdog turns that into a failure.
class Watchdog {
 public:
  explicit Watchdog(std::chrono::seconds limit)
      : deadline_(std::chrono::steady_clock::now() + limit) {}
  bool expired() {
    if (++calls_ % 4096 == 0 && std::chrono::steady_clock::now() > deadline_) {
      stopped.store(true, std::memory_order_relaxed);
    }
    return stopped.load(std::memory_order_relaxed);
  }
  std::atomic<bool> stopped{false};

 private:
  std::chrono::steady_clock::time_point deadline_;
  std::uint64_t calls_ = 0;
};

constexpr std::chrono::seconds time_limit{120};

void check(const event::EventView& view, Received& received) {
  const std::uint64_t expected = received.count++;
  const bool ok = view.header.timestamp == expected && view.header.event_type == 1 &&
                  view.payload.size() == size_for(expected) &&
                  payload_matches(expected, view.payload);
  if (!ok && received.first_bad == UINT64_MAX) received.first_bad = expected;
}

}  // namespace

TEST(spsc, ten_million_events_arrive_in_order_and_intact) {
  constexpr std::uint64_t events = 10'000'000;
  auto ring = ring::SpscRingBuffer::create(64 * 1024);
  ASSERT_TRUE(ring.has_value());
  auto [producer, consumer] = ring->split();
  std::latch start(2);
  Watchdog watchdog(time_limit);

  std::thread producing([&, &producer = producer] {
    std::array<std::byte, 72> payload;
    start.arrive_and_wait();
    for (std::uint64_t seq = 0; seq < events; ++seq) {
      const std::size_t size = size_for(seq);
      for (std::size_t i = 0; i < size; ++i) payload[i] = payload_byte(seq, i);
      while (!producer.write_event(header_for(seq, size), {payload.data(), size})) {
        if (watchdog.stopped.load(std::memory_order_relaxed)) return;
      }
    }
  });

  Received received;
  start.arrive_and_wait();
  while (received.count < events && !watchdog.expired()) {
    if (auto view = consumer.read_event()) check(*view, received);
  }
  producing.join();
  ASSERT_FALSE(watchdog.stopped) << "stalled after " << received.count << " events";
  EXPECT_EQ(received.first_bad, UINT64_MAX) << "first wrong event: " << received.first_bad;
  EXPECT_EQ(received.count, events);
  EXPECT_FALSE(consumer.read_event().has_value());
  EXPECT_TRUE(ring->is_empty());
}

TEST(spsc, claim_commit_producer_and_polling_consumer) {
  constexpr std::uint64_t events = 1'000'000;
  auto ring = ring::SpscRingBuffer::create(4096);
  ASSERT_TRUE(ring.has_value());
  auto [producer, consumer] = ring->split();
  std::latch start(2);
  Watchdog watchdog(time_limit);

  std::thread producing([&, &producer = producer] {
    start.arrive_and_wait();
    for (std::uint64_t seq = 0; seq < events; ++seq) {
      const std::size_t size = size_for(seq);
      std::optional<std::span<std::byte>> claimed;
      while (!(claimed = producer.try_claim(header_for(seq, size)))) {
        if (watchdog.stopped.load(std::memory_order_relaxed)) return;
      }
      for (std::size_t i = 0; i < size; ++i) (*claimed)[i] = payload_byte(seq, i);
      producer.commit();
    }
  });

  Received received;
  start.arrive_and_wait();
  while (received.count < events && !watchdog.expired()) {
    consumer.poll([&](const event::EventView& view) { check(view, received); }, 64);
  }
  producing.join();
  ASSERT_FALSE(watchdog.stopped) << "stalled after " << received.count << " events";
  EXPECT_EQ(received.first_bad, UINT64_MAX) << "first wrong event: " << received.first_bad;
  EXPECT_EQ(received.count, events);
  EXPECT_TRUE(ring->is_empty());
}

TEST(spsc, producer_refuses_what_never_fits) {
  auto ring = ring::SpscRingBuffer::create(128);
  ASSERT_TRUE(ring.has_value());
  auto [producer, consumer] = ring->split();
  EXPECT_EQ(producer.max_payload(), 32u);  // half the ring, less two headers
  const auto payload = test::make_payload(0, 33);
  EXPECT_FALSE(producer.write_event(header_for(0, 33), payload));
  EXPECT_FALSE(producer.write_event(header_for(0, 32), {payload.data(), 31}));
  EXPECT_TRUE(producer.write_event(header_for(0, 32), {payload.data(), 32}));
  EXPECT_TRUE(consumer.read_event().has_value());
}

TEST(spsc, consumer_releases_space_when_drained) {
  auto ring = ring::SpscRingBuffer::create(256);
  ASSERT_TRUE(ring.has_value());
  auto [producer, consumer] = ring->split();
  const auto payload = test::make_payload(0, 48);
  int written = 0;
  while (producer.write_event(header_for(written, 48), payload)) ++written;
  // 64-byte records, and the header slot the producer keeps clear after the last one.
  EXPECT_EQ(written, 3);
  EXPECT_EQ(consumer.poll([](const event::EventView&) {}), 3u);
  EXPECT_TRUE(ring->is_empty());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(producer.write_event(header_for(i, 48), payload));
}

TEST(spsc, a_consumer_that_goes_away_hands_back_what_it_read) {
  auto ring = ring::SpscRingBuffer::create(4096);
  ASSERT_TRUE(ring.has_value());
  auto handles = ring->split();
  const auto payload = test::make_payload(0, 40);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(handles.first.write_event(header_for(i, 40), payload));
  {
    ring::Consumer consumer = std::move(handles.second);  // the moved-from one hands back nothing
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(consumer.read_event().has_value());
    EXPECT_FALSE(ring->is_empty()) << "read, and not yet handed back";
  }
  EXPECT_TRUE(ring->is_empty()) << "the consumer went away without handing back what it read";
  EXPECT_EQ(ring->used(), 0u);
}

TEST(spsc, split_twice_is_refused) {
  auto ring = ring::SpscRingBuffer::create(256);
  ASSERT_TRUE(ring.has_value());
  [[maybe_unused]] auto handles = ring->split();
  EXPECT_THROW((void)ring->split(), std::logic_error);
}
