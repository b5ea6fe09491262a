#include <ringlog/dispatcher.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace ringlog;
using dispatch::EventDispatcher;
using test::header_for;
using test::make_payload;

namespace {

// Records what it sees; fails every event whose timestamp is divisible by `fail_every`.
class Recording final : public dispatch::EventConsumer {
 public:
  explicit Recording(std::vector<std::uint64_t>* seen, std::uint64_t fail_every = 0)
      : seen_(seen), fail_every_(fail_every) {}
  bool consume(const event::EventHeader& header, std::span<const std::byte> payload) override {
    EXPECT_EQ(payload.size(), header.payload_len);
    seen_->push_back(header.timestamp);
    return fail_every_ == 0 || header.timestamp % fail_every_ != 0;
  }
  void flush() override { ++flushes; }
  std::string_view name() const override { return "recording"; }
  int flushes = 0;

 private:
  std::vector<std::uint64_t>* seen_;
  std::uint64_t fail_every_;
};

ring::RingBuffer ring_with(std::uint64_t events) {
  auto ring = ring::RingBuffer::create(1 << 16);
  if (!ring) throw std::runtime_error(ring::to_string(ring.error()));
  for (std::uint64_t seq = 1; seq <= events; ++seq) {
    if (!ring->write_event(header_for(seq, 8), make_payload(seq, 8))) {
      throw std::runtime_error("ring full");
    }
  }
  return std::move(*ring);
}

}  // namespace

TEST(dispatcher, drain_empty_buffer) {
  EventDispatcher dispatcher;
  std::vector<std::uint64_t> seen;
  Recording& recording = dispatcher.add_consumer(Recording(&seen));
  auto ring = ring_with(0);
  const auto stats = dispatcher.drain(ring);
  EXPECT_EQ(stats.events_read, 0u);
  EXPECT_EQ(stats.events_delivered, 0u);
  EXPECT_EQ(stats.events_failed, 0u);
  EXPECT_TRUE(seen.empty());
  EXPECT_EQ(recording.flushes, 1);
}

TEST(dispatcher, drain_delivers_to_consumer) {
  EventDispatcher dispatcher;
  std::vector<std::uint64_t> seen;
  dispatcher.add_consumer(Recording(&seen));
  auto ring = ring_with(10);
  const auto stats = dispatcher.drain(ring);
  EXPECT_EQ(stats.events_read, 10u);
  EXPECT_EQ(stats.events_delivered, 10u);
  EXPECT_EQ(stats.events_failed, 0u);
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_TRUE(ring.is_empty());
}

TEST(dispatcher, drain_tracks_failures) {
  EventDispatcher dispatcher;
  std::vector<std::uint64_t> seen;
  dispatcher.add_consumer(Recording(&seen, 3));
  auto ring = ring_with(10);
  const auto stats = dispatcher.drain(ring);
  EXPECT_EQ(stats.events_read, 10u);
  EXPECT_EQ(stats.events_delivered, 7u);
  EXPECT_EQ(stats.events_failed, 3u);  // 3, 6 and 9
}

TEST(dispatcher, drain_batch_respects_limit) {
  EventDispatcher dispatcher;
  std::vector<std::uint64_t> seen;
  dispatcher.add_consumer(Recording(&seen));
  auto ring = ring_with(10);
  EXPECT_EQ(dispatcher.drain_batch(ring, 4).events_read, 4u);
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(dispatcher.drain_batch(ring, 4).events_read, 4u);
  EXPECT_EQ(dispatcher.drain_batch(ring, 4).events_read, 2u);
  EXPECT_EQ(dispatcher.drain_batch(ring, 4).events_read, 0u);
  EXPECT_EQ(seen.size(), 10u);
}

TEST(dispatcher, multiple_consumers) {
  EventDispatcher dispatcher;
  std::vector<std::uint64_t> first_seen;
  std::vector<std::uint64_t> second_seen;
  const Recording& first = dispatcher.add_consumer(Recording(&first_seen));
  const dispatch::EventConsumer& second =
      dispatcher.add_consumer(std::make_unique<Recording>(&second_seen, 2));
  EXPECT_EQ(dispatcher.consumer_count(), 2u);
  auto ring = ring_with(6);
  const auto stats = dispatcher.drain(ring);
  EXPECT_EQ(stats.events_read, 6u);
  EXPECT_EQ(stats.events_delivered, 6u + 3u);
  EXPECT_EQ(stats.events_failed, 3u);
  EXPECT_EQ(first_seen, second_seen);

  const auto totals = dispatcher.totals();
  ASSERT_EQ(totals.size(), 2u);
  EXPECT_EQ(totals[0].name, "recording");
  EXPECT_EQ(totals[0].delivered, 6u);
  EXPECT_EQ(totals[0].failed, 0u);
  EXPECT_EQ(totals[1].delivered, 3u);
  EXPECT_EQ(totals[1].failed, 3u);
  EXPECT_DOUBLE_EQ(totals[1].success_rate(), 0.5);
  // Both are named "recording": only the handle add_consumer gave tells them apart.
  EXPECT_EQ(dispatcher.totals_of(first).failed, 0u);
  EXPECT_EQ(dispatcher.totals_of(second).failed, 3u);
  EXPECT_EQ(dispatcher.totals_of(second).delivered, 3u);
}

// RINGLOG_CHECK holds in Release too: asked about a consumer it never had, the dispatcher stops
// the process with the contract's words rather than answer "delivered nothing".
TEST(dispatcher, totals_of_a_consumer_it_never_had_stops_the_process_even_in_release) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EventDispatcher dispatcher;
  std::vector<std::uint64_t> seen;
  dispatcher.add_consumer(Recording(&seen));
  EventDispatcher other;
  const Recording& stranger = other.add_consumer(Recording(&seen));
  EXPECT_DEATH((void)dispatcher.totals_of(stranger),
               "contract broken.*a consumer added to this dispatcher");
}

TEST(dispatcher, success_rate_calculation) {
  dispatch::DrainStats stats;
  stats.events_delivered = 3;
  stats.events_failed = 1;
  EXPECT_DOUBLE_EQ(stats.success_rate(), 0.75);
  stats.events_delivered = 0;
  EXPECT_DOUBLE_EQ(stats.success_rate(), 0.0);
}

TEST(dispatcher, success_rate_empty) {
  EXPECT_DOUBLE_EQ(dispatch::DrainStats{}.success_rate(), 1.0);
}

TEST(dispatcher, drains_an_spsc_consumer) {
  auto ring = ring::SpscRingBuffer::create(4096);
  ASSERT_TRUE(ring.has_value());
  auto [producer, ring_consumer] = ring->split();
  for (std::uint64_t seq = 1; seq <= 30; ++seq) {
    ASSERT_TRUE(producer.write_event(header_for(seq, 8), make_payload(seq, 8)));
  }
  EventDispatcher dispatcher;
  std::vector<std::uint64_t> seen;
  Recording& recording = dispatcher.add_consumer(Recording(&seen));
  EXPECT_EQ(dispatcher.drain_batch(ring_consumer, 10).events_read, 10u);
  EXPECT_EQ(dispatcher.drain(ring_consumer).events_read, 20u);
  ASSERT_EQ(seen.size(), 30u);
  EXPECT_EQ(seen.back(), 30u);
  EXPECT_EQ(recording.flushes, 2);
  EXPECT_TRUE(ring->is_empty());
}

namespace {

// Takes whole runs of ring records, as a journal does, and checks each record in them.
class RunTaking final : public dispatch::EventConsumer {
 public:
  bool consume(const event::EventHeader&, std::span<const std::byte>) override {
    ADD_FAILURE() << "a run-taking consumer gets runs, not single events";
    return false;
  }
  std::size_t consume_records(std::span<const std::byte> records, std::size_t count) override {
    const ringlog::detail::RecordRun run = ringlog::detail::measure_records(records);
    EXPECT_EQ(run.bytes, records.size()) << "a run is whole records, padding left out";
    EXPECT_EQ(run.events, count);
    for (std::size_t at = 0; at < records.size();) {
      const event::EventView view = ringlog::detail::view_at(records.data() + at);
      EXPECT_EQ(view.header.timestamp, next);
      EXPECT_TRUE(test::payload_matches(next, view.payload));
      ++next;
      at += ringlog::detail::record_size(view.header.payload_len);
    }
    ++runs;
    return count;
  }
  std::string_view name() const override { return "runs"; }
  std::uint64_t next = 0;
  int runs = 0;
};

}  // namespace

TEST(dispatcher, hands_runs_of_records_to_consumers_that_take_them_whole) {
  auto ring = ring::SpscRingBuffer::create(1024);  // small: the events wrap many times
  ASSERT_TRUE(ring.has_value());
  auto [producer, consumer] = ring->split();
  EventDispatcher dispatcher;
  RunTaking& runs = dispatcher.add_consumer(RunTaking{});
  std::vector<std::uint64_t> seen;
  dispatcher.add_consumer(Recording(&seen));
  std::uint64_t written = 0;
  for (int round = 0; round < 200; ++round) {
    // Sizes vary, so that the wrap's padding falls at many offsets.
    while (producer.write_event(header_for(written, written % 50),
                                make_payload(written, written % 50))) {
      ++written;
    }
    const dispatch::DrainStats stats = dispatcher.drain_batch(consumer, 7 + round % 5);
    EXPECT_LE(stats.events_read, 7u + round % 5);
    dispatcher.drain(consumer);
  }
  EXPECT_EQ(runs.next, written);
  EXPECT_EQ(seen.size(), written);
  EXPECT_GT(runs.runs, 200);
  EXPECT_EQ(dispatcher.totals()[0].delivered, written);
}

// The journal service tells a dead publisher's unmarked drops from what the markers it drained
// counted: the dispatcher adds those counts up, over a batch and over the rest.
TEST(dispatcher, adds_up_what_the_drop_markers_it_drains_count) {
  auto ring = ring::SpscRingBuffer::create(1024);
  ASSERT_TRUE(ring.has_value());
  auto [producer, consumer] = ring->split();
  EventDispatcher dispatcher;
  std::vector<std::uint64_t> seen;
  dispatcher.add_consumer(Recording(&seen));
  ASSERT_TRUE(producer.write_event(header_for(1, 8), make_payload(1, 8)));
  ASSERT_TRUE(producer.write_drop_marker({.dropped_events = 7}));
  ASSERT_TRUE(producer.write_event(header_for(2, 8), make_payload(2, 8)));
  ASSERT_TRUE(producer.write_drop_marker({.dropped_events = 5}));
  const dispatch::DrainStats first = dispatcher.drain_batch(consumer, 2);
  EXPECT_EQ(first.events_read, 2u);
  EXPECT_EQ(first.marked_dropped, 7u);
  const dispatch::DrainStats rest = dispatcher.drain(consumer);
  EXPECT_EQ(rest.events_read, 2u);
  EXPECT_EQ(rest.marked_dropped, 5u);
  EXPECT_EQ(seen.size(), 4u) << "markers are delivered as events";
}
