// Each channel's overflow policy under a stalled consumer: the service runs in a child process
// that the test stops (SIGSTOP), so that the publisher's ring fills for real. block waits for
// room and gives up at its deadline; fail refuses at once; drop drops, and a drop marker in the
// journal says how many and where, read back by `ringlog verify` and `ringlog dump`. Every
// policy's counts reach the service's status.
#include "programs/ringlog/log_tools.hpp"
#include "service/service.hpp"

#include "forked_service.hpp"
#include "test_support.hpp"

#include <ringlog/journal.hpp>
#include <ringlog/publisher.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>

using namespace ringlog;
using service::ServiceConfig;
using service::OverflowPolicy;
using service::Publisher;

namespace {

// Event `sequence` of the test's publisher: its timestamp is 1000 + sequence.
event::EventHeader header_of(std::uint64_t sequence) {
  return event::EventHeader(1000 + sequence, 1, static_cast<std::uint16_t>(8 + sequence % 57));
}
std::vector<std::byte> payload_of(std::uint64_t sequence) {
  return test::make_payload(sequence, 8 + sequence % 57);
}
bool write(Publisher& publisher, std::uint64_t sequence) {
  return publisher.write_event(header_of(sequence), payload_of(sequence));
}

// The journal's events in order: each the test's event `sequence` from `from` on, except drop
// markers, handed to `on_marker` with the sequence of the event after them.
template <class OnMarker>
std::uint64_t check_journal(const std::filesystem::path& dir, OnMarker on_marker) {
  auto reader = journal::JournalReader::open(dir);
  EXPECT_TRUE(reader.has_value());
  if (!reader) return 0;
  std::uint64_t next = 0;
  reader->replay([&](const journal::JournalEvent& event) {
    if (const auto marker = event::as_drop_marker(event.view)) {
      next = on_marker(*marker, next);
      return;
    }
    EXPECT_EQ(event.view.header.timestamp, header_of(next).timestamp);
    const auto payload = payload_of(next);
    EXPECT_TRUE(std::ranges::equal(event.view.payload, payload)) << "event " << next;
    ++next;
  });
  return next;
}

// A service with one channel of the smallest ring, under `policy`, and a publisher attached.
struct Stalled {
  explicit Stalled(OverflowPolicy policy, std::chrono::microseconds block_timeout) {
    config.name = "overflow";
    config.runtime_dir = dir / "run";
    config.journal_dir = dir / "journal";
    config.channels = {{.name = "orders",
                        .ring_bytes = 64 << 10,
                        .overflow = policy,
                        .block_timeout = block_timeout}};
    service.emplace(config);
    if (!service->started()) return;
    auto attached = Publisher::attach({config.name, config.runtime_dir, "orders"});
    if (attached) publisher.emplace(std::move(*attached));
  }

  // Freezes the service and writes until the ring is full: the events it took.
  std::uint64_t fill() {
    service->freeze();
    while (write(*publisher, written)) ++written;
    return written;
  }

  // One figure of the channel's in the service's Prometheus exposition.
  std::uint64_t metric(const std::string& name) const {
    const auto text = service::query_status(config.runtime_dir, config.name, "prometheus");
    if (!text) return UINT64_MAX;
    const std::string prefix = name + "{channel=\"orders\"} ";
    const std::size_t at = text->find(prefix);
    return at == std::string::npos ? UINT64_MAX : std::stoull(text->substr(at + prefix.size()));
  }

  // After a clean stop: the journal's events, checked, where no drop marker may be.
  std::uint64_t stop_and_count_events_unmarked() {
    publisher.reset();
    EXPECT_EQ(service->stop(), 0);
    return check_journal(config.journal_dir, [](auto, std::uint64_t) -> std::uint64_t {
      ADD_FAILURE() << "a drop marker under a policy that drops nothing";
      return 0;
    });
  }

  test::TempDir dir;
  ServiceConfig config;
  std::optional<test::ForkedService> service;
  std::optional<Publisher> publisher;
  std::uint64_t written = 0;
};

std::string output_of(int (*tool)(const std::filesystem::path&, std::FILE*),
                      const std::filesystem::path& path, int& status) {
  std::FILE* out = std::tmpfile();
  status = tool(path, out);
  std::rewind(out);
  std::string text;
  for (int c; (c = std::fgetc(out)) != EOF;) text += static_cast<char>(c);
  std::fclose(out);
  return text;
}

int dump_text(const std::filesystem::path& path, std::FILE* out) {
  return programs::dump_log(path, {}, out);
}
int dump_json(const std::filesystem::path& path, std::FILE* out) {
  programs::DumpOptions options;
  options.format.json = true;
  return programs::dump_log(path, options, out);
}

}  // namespace

TEST(service, overflow_block_waits_for_room_and_gives_up_at_its_deadline) {
  // Long enough for a thawed service to free room even on a loaded machine.
  Stalled run(OverflowPolicy::block, std::chrono::seconds(2));
  ASSERT_TRUE(run.publisher.has_value());
  EXPECT_EQ(run.publisher->overflow_policy(), OverflowPolicy::block);
  EXPECT_EQ(run.publisher->block_deadline(), std::chrono::seconds(2));
  const auto waited_from = std::chrono::steady_clock::now();
  const std::uint64_t taken = run.fill();
  EXPECT_GE(std::chrono::steady_clock::now() - waited_from, std::chrono::seconds(2))
      << "the write that found the ring full waited out its deadline";
  EXPECT_EQ(run.publisher->overflow_counts().waits, 1u);
  EXPECT_EQ(run.publisher->overflow_counts().timeouts, 1u);

  // A write that waits, and gets its room when the consumer comes back.
  bool wrote = false;
  std::thread writer([&] { wrote = write(*run.publisher, taken); });
  while (run.publisher->overflow_counts().waits < 2) std::this_thread::yield();
  run.service->thaw();
  writer.join();
  EXPECT_TRUE(wrote);
  ASSERT_TRUE(run.publisher->wait_durable(taken + 1, std::chrono::seconds(30)));
  EXPECT_EQ(run.publisher->overflow_counts().timeouts, 1u);
  EXPECT_EQ(run.metric("ringlog_publisher_overflow_waits_total"), 2u);
  EXPECT_EQ(run.metric("ringlog_publisher_overflow_timeouts_total"), 1u);
  EXPECT_EQ(run.stop_and_count_events_unmarked(), taken + 1);
}

TEST(service, overflow_fail_refuses_at_once_and_counts) {
  Stalled run(OverflowPolicy::fail, std::chrono::microseconds(0));
  ASSERT_TRUE(run.publisher.has_value());
  const std::uint64_t taken = run.fill();
  EXPECT_FALSE(write(*run.publisher, taken));
  EXPECT_EQ(run.publisher->overflow_counts().failed, 2u);
  EXPECT_EQ(run.publisher->overflow_counts().waits, 0u);
  run.service->thaw();
  ASSERT_TRUE(run.publisher->wait_durable(taken, std::chrono::seconds(30)));
  EXPECT_TRUE(write(*run.publisher, taken)) << "the ring has room again";
  ASSERT_TRUE(run.publisher->wait_durable(taken + 1, std::chrono::seconds(30)));
  EXPECT_EQ(run.metric("ringlog_publisher_overflow_failed_total"), 2u);
  const auto json = service::query_status(run.config.runtime_dir, run.config.name, "json");
  ASSERT_TRUE(json.has_value());
  EXPECT_NE(json->find(R"("overflow":{"policy":"fail","waits":0,"timeouts":0,"failed":2,)"),
            std::string::npos)
      << *json;
  EXPECT_EQ(run.stop_and_count_events_unmarked(), taken + 1);
}

TEST(service, overflow_drop_journals_a_marker_in_order_that_verify_and_dump_show) {
  Stalled run(OverflowPolicy::drop, std::chrono::microseconds(0));
  ASSERT_TRUE(run.publisher.has_value());
  const std::uint64_t taken = run.fill();
  constexpr std::uint64_t dropped = 100;  // the write that found the ring full, and 99 more
  for (std::uint64_t sequence = taken + 1; sequence < taken + dropped; ++sequence) {
    EXPECT_FALSE(write(*run.publisher, sequence));
  }
  EXPECT_EQ(run.publisher->overflow_counts().dropped, dropped);
  run.service->thaw();
  ASSERT_TRUE(run.publisher->wait_durable(taken, std::chrono::seconds(30)));
  // The marker goes in first, then the event.
  EXPECT_TRUE(write(*run.publisher, taken + dropped));
  ASSERT_TRUE(run.publisher->wait_durable(taken + 2, std::chrono::seconds(30)));
  EXPECT_EQ(run.publisher->overflow_counts().marked, dropped);
  EXPECT_EQ(run.metric("ringlog_publisher_overflow_dropped_total"), dropped);
  run.publisher.reset();
  EXPECT_EQ(run.service->stop(), 0);

  // One marker, unless the room a full ring had left took a marker but no event: then several,
  // which together count every drop, each where its drops began.
  int markers = 0;
  std::uint64_t counted = 0;
  std::uint64_t first_count = 0;  // the first marker's
  const std::uint64_t after = check_journal(
      run.config.journal_dir, [&](const event::DropMarker& marker, std::uint64_t at) {
        ++markers;
        EXPECT_EQ(at, taken + counted) << "where the drops began";
        EXPECT_EQ(marker.first_timestamp, header_of(at).timestamp);
        EXPECT_EQ(marker.last_timestamp, header_of(at + marker.dropped_events - 1).timestamp);
        if (markers == 1) first_count = marker.dropped_events;
        counted += marker.dropped_events;
        return at + marker.dropped_events;  // the events it counts
      });
  EXPECT_GE(markers, 1);
  EXPECT_EQ(counted, dropped);
  EXPECT_EQ(after, taken + dropped + 1);

  int status = -1;
  const std::string verified = output_of(programs::verify_log, run.config.journal_dir, status);
  EXPECT_EQ(status, 0) << verified;
  EXPECT_NE(verified.find(fmt::format("DROPS: {} drop marker(s) count {} event(s) publishers "
                                      "dropped on a full ring, the first at sequence {}",
                                      markers, dropped, taken)),
            std::string::npos)
      << verified;
  const std::string text = output_of(dump_text, run.config.journal_dir, status);
  EXPECT_NE(text.find(fmt::format("DROPPED {} event(s) here, timestamps {} to {}", first_count,
                                  header_of(taken).timestamp,
                                  header_of(taken + first_count - 1).timestamp)),
            std::string::npos)
      << text.substr(0, 2000);
  const std::string json = output_of(dump_json, run.config.journal_dir, status);
  EXPECT_NE(json.find(fmt::format(R"({{"sequence":{},"timestamp":{},"dropped_events":{},)", taken,
                                  header_of(taken).timestamp, first_count)),
            std::string::npos);
}

// A publisher that goes away with drops no marker in its ring counted (the ring stayed full):
// the service journals the marker for it, after its last event.
TEST(service, overflow_drops_left_unmarked_at_detach_are_journaled_by_the_service) {
  Stalled run(OverflowPolicy::drop, std::chrono::milliseconds(10));
  ASSERT_TRUE(run.publisher.has_value());
  const std::uint64_t taken = run.fill();
  for (std::uint64_t sequence = taken + 1; sequence < taken + 10; ++sequence) {
    EXPECT_FALSE(write(*run.publisher, sequence));
  }
  run.publisher.reset();  // its last marker finds no room in 10 ms: the service is frozen
  run.service->thaw();
  EXPECT_EQ(run.service->stop(), 0);
  int markers = 0;
  const std::uint64_t after = check_journal(
      run.config.journal_dir, [&](const event::DropMarker& marker, std::uint64_t at) {
        ++markers;
        EXPECT_EQ(at, taken);
        EXPECT_EQ(marker.dropped_events, 10u);
        EXPECT_EQ(marker.first_timestamp, 0u) << "unknown to the service";
        return at;
      });
  EXPECT_EQ(markers, 1);
  EXPECT_EQ(after, taken);
}
