// The sampled stage timings (commit -> journaled -> durable): a delay injected into one stage
// shows in that stage's histogram and not in the other's. The consumer is stalled for real (the
// service runs in a child process the test freezes), and a flush for real (a flush interval of
// two seconds).
#include "forked_service.hpp"
#include "test_support.hpp"

#include <ringlog/publisher.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <thread>

using namespace ringlog;
using service::ServiceConfig;

namespace {

constexpr std::uint64_t half_a_second_ns = 500'000'000;

ServiceConfig sampling_everything(const test::TempDir& dir) {
  ServiceConfig config;
  config.name = "stages";
  config.runtime_dir = dir / "run";
  config.journal_dir = dir / "journal";
  config.latency_sample_every = 1;
  return config;
}

bool write(service::Publisher& publisher, std::uint64_t sequence) {
  const auto payload = test::make_payload(sequence, 24);
  return publisher.write_event(event::EventHeader(sequence, 1, 24), payload);
}

// One stage's histogram from the service's JSON status: its count, and how many of its
// observations lie above half a second.
struct StageFigures {
  std::uint64_t count = 0;
  std::uint64_t over_half_a_second = 0;
};
StageFigures stage_of(const ServiceConfig& config, const std::string& stage) {
  const auto text = service::query_status(config.runtime_dir, config.name, "json");
  EXPECT_TRUE(text.has_value());
  if (!text) return {};
  const auto histogram = nlohmann::json::parse(*text)["channels"][0]["stages"][stage];
  StageFigures figures{histogram["count"].get<std::uint64_t>(), 0};
  for (const auto& bucket : histogram["buckets"]) {
    if (bucket["le_ns"].is_null() || bucket["le_ns"].get<std::uint64_t>() > half_a_second_ns) {
      figures.over_half_a_second += bucket["count"].get<std::uint64_t>();
    }
  }
  return figures;
}

// Whether the stage has counted `count` samples within 30 s (the drain thread moves each on
// once it sees the stage end).
bool counted(const ServiceConfig& config, const std::string& stage, std::uint64_t count) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (stage_of(config, stage).count < count) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // between status queries
  }
  return true;
}

}  // namespace

TEST(service, stage_timings_show_a_stalled_consumer_in_commit_to_journaled) {
  test::TempDir dir;
  const ServiceConfig config = sampling_everything(dir);
  test::ForkedService service(config);
  ASSERT_TRUE(service.started());
  auto publisher = service::Publisher::attach({config.name, config.runtime_dir, "default"});
  ASSERT_TRUE(publisher.has_value()) << publisher.error();
  service.freeze();
  constexpr std::uint64_t events = 32;
  for (std::uint64_t sequence = 0; sequence < events; ++sequence) {
    ASSERT_TRUE(write(*publisher, sequence));
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the injected delay, not a wait
  service.thaw();
  ASSERT_TRUE(publisher->wait_durable(events, std::chrono::seconds(30)));
  // The samples reach the last stage once the drain thread has seen the flush that covers them.
  ASSERT_TRUE(counted(config, "journaled_to_durable", events));
  const StageFigures journaled = stage_of(config, "commit_to_journaled");
  EXPECT_EQ(journaled.count, events);
  EXPECT_EQ(journaled.over_half_a_second, events) << "every sample waited out the stall";
  EXPECT_LT(stage_of(config, "journaled_to_durable").over_half_a_second, events)
      << "the stall is not the flush's";
  EXPECT_EQ(stage_of(config, "durable_to_shipped").count, 0u) << "nothing ships";
  const auto text = service::query_status(config.runtime_dir, config.name, "text");
  ASSERT_TRUE(text.has_value());
  EXPECT_TRUE(std::regex_search(*text, std::regex("sampled: commit_to_journaled p50 <= [0-9.]+ s, ")))
      << *text;
  const auto prometheus = service::query_status(config.runtime_dir, config.name, "prometheus");
  ASSERT_TRUE(prometheus.has_value());
  EXPECT_NE(prometheus->find("ringlog_publisher_stage_latency_seconds_count{channel=\"default\","
                             "stage=\"commit_to_journaled\"} 32\n"),
            std::string::npos)
      << *prometheus;
}

TEST(service, stage_timings_show_a_slow_flush_in_journaled_to_durable) {
  test::TempDir dir;
  ServiceConfig config = sampling_everything(dir);
  // Two seconds: the events below are journaled well within the first 1.5 of them, even on a
  // loaded machine or under a sanitizer.
  config.journal.flush = {.every_bytes = std::size_t{1} << 30, .every = std::chrono::seconds(2)};
  test::ForkedService service(config);
  ASSERT_TRUE(service.started());
  auto publisher = service::Publisher::attach({config.name, config.runtime_dir, "default"});
  ASSERT_TRUE(publisher.has_value()) << publisher.error();
  ASSERT_TRUE(write(*publisher, 0));
  ASSERT_TRUE(publisher->wait_durable(1, std::chrono::seconds(30)));
  // Right after a flush: the next is due a second later.
  constexpr std::uint64_t events = 32;
  for (std::uint64_t sequence = 1; sequence <= events; ++sequence) {
    ASSERT_TRUE(write(*publisher, sequence));
  }
  ASSERT_TRUE(publisher->wait_durable(events + 1, std::chrono::seconds(30)));
  ASSERT_TRUE(counted(config, "journaled_to_durable", events + 1));
  EXPECT_GE(stage_of(config, "journaled_to_durable").over_half_a_second, events);
  const StageFigures journaled = stage_of(config, "commit_to_journaled");
  EXPECT_EQ(journaled.count, events + 1);
  EXPECT_EQ(journaled.over_half_a_second, 0u) << "the consumer kept up";
}
