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

namespace {

// The SPSC handles driven from one thread, every operation checked against the model.
class SpscModel {
 public:
  SpscModel(ring::Producer& producer, ring::Consumer& consumer)
      : producer_(producer), consumer_(consumer), size_of_(0, producer.max_payload()) {}

  void step(std::mt19937_64& random) {
    switch (random() % 5) {
      case 0: write(random); break;
      case 1: claim(random); break;
      case 2: poll(random() % 4); break;
      case 3: read(); break;
      default: peek_and_release(random); break;
    }
    ASSERT_EQ(consumer_.is_empty(), model_.empty());
  }
  std::uint64_t written() const { return next_; }
  std::uint64_t bytes_written() const { return bytes_; }

 private:
  void write(std::mt19937_64& random) {
    const std::size_t size = size_of_(random);
    if (producer_.write_event(header_for(next_, size), make_payload(next_, size))) pushed(size);
  }
  void claim(std::mt19937_64& random) {
    const std::size_t size = size_of_(random);
    auto claimed = producer_.try_claim(header_for(next_, size));
    if (!claimed) return;
    const auto payload = make_payload(next_, size);
    std::copy(payload.begin(), payload.end(), claimed->begin());
    switch (random() % 8) {
      case 0: producer_.abort(); break;
      case 1: break;  // left pending: the next write_event() or try_claim() drops it
      default:
        producer_.commit();
        pushed(size);
    }
  }
  void poll(std::size_t limit) {
    const std::size_t polled =
        consumer_.poll([&](const event::EventView& view) { expect_front(view); }, limit);
    ASSERT_LE(polled, limit);
  }
  void read() {
    const auto view = consumer_.read_event();
    ASSERT_EQ(view.has_value(), !model_.empty());
    if (view) expect_front(*view);
  }
  // Takes a random number of the peeked records, as a journal that fills a segment does.
  void peek_and_release(std::mt19937_64& random) {
    const auto records = consumer_.peek_records();
    ASSERT_EQ(records.empty(), model_.empty());
    std::size_t taken = 0;
    const std::size_t wanted = random() % 4;
    for (std::size_t count = 0; count < wanted && taken < records.size(); ++count) {
      const event::EventView view = ringlog::detail::view_at(records.data() + taken);
      expect_front(view);
      taken += ringlog::detail::record_size(view.header.payload_len);
    }
    ASSERT_LE(taken, records.size());
    consumer_.release_records(taken);
  }
  void pushed(std::size_t size) {
    model_.push_back({next_++, size});
    bytes_ += ringlog::detail::record_size(size);
  }
  void expect_front(const event::EventView& view) {
    ASSERT_FALSE(model_.empty());
    ASSERT_EQ(view.header.timestamp, model_.front().sequence);
    ASSERT_EQ(view.payload.size(), model_.front().size);
    ASSERT_TRUE(payload_matches(model_.front().sequence, view.payload));
    model_.pop_front();
  }

  ring::Producer& producer_;
  ring::Consumer& consumer_;
  std::uniform_int_distribution<std::size_t> size_of_;
  std::deque<Expected> model_;
  std::uint64_t next_ = 0;
  std::uint64_t bytes_ = 0;
};

}  // namespace

// Every write and read path of the SPSC handles, with claims aborted or overtaken, over many
// laps of small rings, so that records of every length meet the wrap and stale commit marks
// from earlier laps lie everywhere.
TEST(ring_model, spsc_handles_match_a_queue_on_one_thread) {
  for (std::size_t capacity : {128ul, 1024ul}) {
    auto ring = ring::SpscRingBuffer::create(capacity);
    ASSERT_TRUE(ring.has_value());
    auto [producer, consumer] = ring->split();
    std::mt19937_64 random(42);
    SpscModel model(producer, consumer);
    for (int op = 0; op < operations; ++op) {
      model.step(random);
      if (HasFatalFailure()) return;
    }
    EXPECT_GT(model.bytes_written(), capacity * 1000) << "the test should lap the ring often";
  }
}
