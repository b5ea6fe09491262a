// The journal service end to end, with real processes: publishers attach over the control
// socket, write through their shared rings and learn what is durable; the journal holds each
// publisher's events in order, byte-exact, also when one of them is killed mid-stream; a
// process without access to the socket, or asking for an unknown channel, is refused.
#include "service/service.hpp"

#include "test_support.hpp"

#include <ringlog/journal.hpp>
#include <ringlog/publisher.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>
#include <vector>

using namespace ringlog;
using service::Service;
using service::ServiceConfig;

namespace {

std::size_t payload_size_of(std::uint64_t sequence) { return 8 + sequence % 57; }

// Publisher `index`'s event `sequence`: its type names the publisher, its timestamp the
// sequence, and its payload is a function of both.
std::vector<std::byte> payload_of(int index, std::uint64_t sequence) {
  return test::make_payload((std::uint64_t(index) << 40) + sequence, payload_size_of(sequence));
}

// A child process that waits for `go`, attaches, writes `count` events (forever when 0) and
// waits until they are all durable. Exit codes name what failed.
pid_t fork_publisher(int index, std::uint64_t count, const ServiceConfig& config, int& go) {
  int pipe_ends[2];
  if (::pipe(pipe_ends) != 0) return -1;
  const pid_t child = ::fork();
  if (child != 0) {
    ::close(pipe_ends[0]);
    go = pipe_ends[1];
    return child;
  }
  ::close(pipe_ends[1]);
  char byte = 0;
  if (::read(pipe_ends[0], &byte, 1) != 1) _exit(10);
  auto publisher = service::Publisher::attach({config.name, config.runtime_dir, "default"});
  if (!publisher) _exit(11);
  ring::Producer& producer = publisher->producer();
  for (std::uint64_t sequence = 0; count == 0 || sequence < count; ++sequence) {
    const auto payload = payload_of(index, sequence);
    const event::EventHeader header(sequence, static_cast<std::uint8_t>(index + 1),
                                    static_cast<std::uint16_t>(payload.size()));
    while (!producer.write_event(header, payload)) {
    }
  }
  // Asleep in the futex until the service has made every event durable (not spinning)...
  if (!publisher->wait_durable(count, std::chrono::seconds(60))) _exit(12);
  if (publisher->durable_events() < count) _exit(13);
  // ...and a count it never wrote is never reached: the wait ends at its timeout.
  if (publisher->wait_durable(count + 1, std::chrono::milliseconds(100))) _exit(14);
  _exit(0);
}

void release(int& go) {
  ASSERT_EQ(::write(go, "g", 1), 1);
  ::close(go);
}

int exit_code_of(pid_t child) {
  int status = 0;
  if (::waitpid(child, &status, 0) != child) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

ServiceConfig config_in(const test::TempDir& dir) {
  ServiceConfig config;
  config.name = "test";
  config.runtime_dir = dir / "run";
  config.journal_dir = dir / "journal";
  config.journal.segment_bytes = journal::JournalOptions::min_segment_bytes;  // many rolls
  return config;
}

// Each publisher's events in the journal, checked in order and byte-exact: how many it has.
std::map<int, std::uint64_t> journaled_per_publisher(const std::filesystem::path& dir) {
  std::map<int, std::uint64_t> next;
  auto reader = journal::JournalReader::open(dir);
  EXPECT_TRUE(reader.has_value()) << reader.error().message();
  if (!reader) return next;
  reader->replay([&](const journal::JournalEvent& event) {
    const int index = event.view.header.event_type - 1;
    std::uint64_t& expected = next[index];
    EXPECT_EQ(event.view.header.timestamp, expected) << "publisher " << index;
    const auto payload = payload_of(index, expected);
    EXPECT_TRUE(std::equal(event.view.payload.begin(), event.view.payload.end(), payload.begin(),
                           payload.end()))
        << "publisher " << index << " event " << expected;
    ++expected;
  });
  return next;
}

}  // namespace

TEST(service, two_publisher_processes_are_journaled_in_order_and_byte_exact) {
  test::TempDir dir;
  const ServiceConfig config = config_in(dir);
  constexpr std::uint64_t count = 300'000;
  int go[2];
  const pid_t publishers[2] = {fork_publisher(0, count, config, go[0]),
                               fork_publisher(1, count, config, go[1])};
  ASSERT_GT(publishers[0], 0);
  ASSERT_GT(publishers[1], 0);
  auto service = Service::start(config);
  ASSERT_TRUE(service.has_value()) << service.error();
  release(go[0]);
  release(go[1]);
  EXPECT_EQ(exit_code_of(publishers[0]), 0) << "see the exit codes in fork_publisher";
  EXPECT_EQ(exit_code_of(publishers[1]), 0);
  ASSERT_TRUE((*service)->stop().has_value());
  EXPECT_EQ((*service)->status().attaches, 2u);
  const auto journaled = journaled_per_publisher(config.journal_dir);
  EXPECT_EQ(journaled, (std::map<int, std::uint64_t>{{0, count}, {1, count}}));
}

TEST(service, a_publisher_killed_mid_stream_leaves_the_others_and_nothing_corrupt) {
  test::TempDir dir;
  const ServiceConfig config = config_in(dir);
  constexpr std::uint64_t count = 200'000;
  int go[2];
  const pid_t endless = fork_publisher(0, 0, config, go[0]);
  const pid_t finishing = fork_publisher(1, count, config, go[1]);
  ASSERT_GT(endless, 0);
  ASSERT_GT(finishing, 0);
  auto service = Service::start(config);
  ASSERT_TRUE(service.has_value()) << service.error();
  release(go[0]);
  release(go[1]);
  // Killed once the service has journaled a good part of its stream.
  const auto journaled_of = [&](int pid) -> std::uint64_t {
    for (const service::PublisherStatus& p : (*service)->status().publishers) {
      if (p.peer.pid == pid) return p.journaled;
    }
    return 0;
  };
  while (journaled_of(endless) < 100'000) {
  }
  ASSERT_EQ(::kill(endless, SIGKILL), 0);
  EXPECT_EQ(exit_code_of(endless), 128 + SIGKILL);
  EXPECT_EQ(exit_code_of(finishing), 0);
  // The dead publisher's ring is drained and dropped.
  while (!(*service)->status().publishers.empty()) {
  }
  ASSERT_TRUE((*service)->stop().has_value());
  const auto journaled = journaled_per_publisher(config.journal_dir);
  EXPECT_EQ(journaled.at(1), count);
  EXPECT_GE(journaled.at(0), 100'000u) << "every event journaled before the kill is kept";
}

TEST(service, unknown_channels_and_processes_without_access_are_refused) {
  test::TempDir dir;
  const ServiceConfig config = config_in(dir);
  auto service = Service::start(config);
  ASSERT_TRUE(service.has_value()) << service.error();
  const auto refused = service::Publisher::attach({config.name, config.runtime_dir, "orders"});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message(),
            "the service refused channel \"orders\": no channel \"orders\" (channels: default)");
  EXPECT_EQ((*service)->status().refusals, 1u);

  const auto nowhere = service::Publisher::attach({"other", config.runtime_dir, "default"});
  ASSERT_FALSE(nowhere.has_value());
  EXPECT_EQ(nowhere.error().code, ringlog::SetupErrc::service_unreachable);
  EXPECT_NE(nowhere.error().message().find("is `ringlog serve` running?"), std::string::npos)
      << nowhere.error();

  if (::geteuid() != 0) GTEST_SKIP() << "the permission check needs root to become another user";
  const passwd* nobody = ::getpwnam("nobody");
  if (nobody == nullptr) GTEST_SKIP() << "no user nobody here";
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::setgid(nobody->pw_gid) != 0 || ::setuid(nobody->pw_uid) != 0) _exit(10);
    const auto denied = service::Publisher::attach({config.name, config.runtime_dir, "default"});
    if (denied.has_value()) _exit(11);
    _exit(denied.error().code == std::errc::permission_denied ? 0 : 12);
  }
  EXPECT_EQ(exit_code_of(child), 0) << "11: attached without access; 12: another error";
  ASSERT_TRUE((*service)->stop().has_value());
}

TEST(service, status_is_served_as_text_json_and_prometheus) {
  test::TempDir dir;
  const ServiceConfig config = config_in(dir);
  auto service = Service::start(config);
  ASSERT_TRUE(service.has_value()) << service.error();
  auto publisher = service::Publisher::attach({config.name, config.runtime_dir, "default"});
  ASSERT_TRUE(publisher.has_value()) << publisher.error();
  for (std::uint64_t sequence = 0; sequence < 1000; ++sequence) {
    const auto payload = payload_of(0, sequence);
    while (!publisher->producer().write_event(
        event::EventHeader(sequence, 1, static_cast<std::uint16_t>(payload.size())), payload)) {
    }
  }
  while (publisher->durable_events() < 1000) {
  }
  const auto prometheus = service::query_status(config.runtime_dir, config.name, "prometheus");
  ASSERT_TRUE(prometheus.has_value()) << prometheus.error();
  // By channel, which outlives the process; the process is in the info metric.
  EXPECT_NE(prometheus->find("ringlog_publisher_durable_events_total{channel=\"default\"} 1000\n"),
            std::string::npos) << *prometheus;
  EXPECT_NE(prometheus->find(fmt::format("ringlog_publisher_info{{channel=\"default\",id=\"{}\","
                                         "pid=\"{}\",uid=\"{}\",gid=\"{}\"}} 1\n",
                                         publisher->id(), ::getpid(), ::getuid(), ::getgid())),
            std::string::npos) << *prometheus;
  EXPECT_NE(prometheus->find("# TYPE ringlog_journal_events_total counter\n"
                             "ringlog_journal_events_total 1000\n"),
            std::string::npos)
      << *prometheus;
  // Every batch became durable, so the histogram counted at least one, all under +Inf.
  const std::string count_prefix =
      "ringlog_publisher_durable_latency_seconds_count{channel=\"default\"} ";
  const std::size_t count_at = prometheus->find(count_prefix);
  ASSERT_NE(count_at, std::string::npos) << *prometheus;
  const std::string count = prometheus->substr(
      count_at + count_prefix.size(),
      prometheus->find('\n', count_at) - count_at - count_prefix.size());
  EXPECT_GT(std::stoull(count), 0u) << *prometheus;
  EXPECT_NE(prometheus->find("ringlog_publisher_durable_latency_seconds_bucket{channel=\"default\","
                             "le=\"+Inf\"} " + count + "\n"),
            std::string::npos)
      << *prometheus;
  const auto json = service::query_status(config.runtime_dir, config.name, "json");
  ASSERT_TRUE(json.has_value()) << json.error();
  EXPECT_NE(json->find("\"journaled\":1000,\"durable\":1000,\"attached\":true"), std::string::npos)
      << *json;
  const auto text = service::query_status(config.runtime_dir, config.name, "text");
  ASSERT_TRUE(text.has_value()) << text.error();
  EXPECT_NE(text->find("1 attached now"), std::string::npos) << *text;
  EXPECT_NE(text->find("1 segment(s)"), std::string::npos) << *text;
  const auto unknown = service::query_status(config.runtime_dir, config.name, "xml");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().message(), "unexpected message \"status xml\"");
  ASSERT_TRUE((*service)->stop().has_value());
}

// What recovery found in the journal is a count, never a rate: a restarted service with no
// publisher takes 0 events/s, once its first one-second window has passed.
TEST(service, a_channel_keeps_counting_across_the_publishers_that_attach_to_it) {
  test::TempDir dir;
  const ServiceConfig config = config_in(dir);
  auto service = Service::start(config);
  ASSERT_TRUE(service.has_value()) << service.error();
  const auto publish = [&](std::uint64_t count) {
    auto publisher = service::Publisher::attach({config.name, config.runtime_dir, "default"});
    ASSERT_TRUE(publisher.has_value()) << publisher.error();
    for (std::uint64_t sequence = 0; sequence < count; ++sequence) {
      const auto payload = payload_of(0, sequence);
      while (!publisher->producer().write_event(
          event::EventHeader(sequence, 1, static_cast<std::uint16_t>(payload.size())), payload)) {
      }
    }
    while (publisher->durable_events() < count) {
    }
  };
  publish(700);  // a publisher that then exits
  publish(300);  // and the one that replaces it
  const auto channel = [&] { return (*service)->status().channels.at(0); };
  EXPECT_EQ(channel().name, "default");
  EXPECT_EQ(channel().journaled, 1000u);
  EXPECT_EQ(channel().durable, 1000u);
  EXPECT_GE(channel().journaled_to_durable.count, 2u);  // a batch of each, at least
}

TEST(service, the_recovered_backlog_is_not_reported_as_a_rate) {
  test::TempDir dir;
  const ServiceConfig config = config_in(dir);
  {
    auto journal = journal::Journal::open(config.journal_dir, config.journal);
    ASSERT_TRUE(journal.has_value()) << journal.error().message();
    for (std::uint64_t sequence = 0; sequence < 50'000; ++sequence) {
      const auto payload = payload_of(0, sequence);
      ASSERT_TRUE(journal->append(
          event::EventHeader(sequence, 1, static_cast<std::uint16_t>(payload.size())), payload));
    }
    ASSERT_TRUE(journal->sync().has_value());
  }
  auto service = Service::start(config);
  ASSERT_TRUE(service.has_value()) << service.error();
  EXPECT_EQ((*service)->status().journal_next_sequence, 50'000u);
  // A rate is measured over a second: this waits for the window, not for another thread.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ((*service)->status().events_per_second, 0.0);
  ASSERT_TRUE((*service)->stop().has_value());
}

// A journal that fails (its file system full): the publisher's connection is closed, a new
// attachment is refused with the reason, the status keeps the failure until the stop, the stop
// reports it and records it for the next start, and every event made durable is journaled.
TEST(service, a_failed_journal_tells_its_publishers_and_keeps_saying_so_until_stopped) {
  test::SmallFileSystem disk(3 * journal::JournalOptions::min_segment_bytes + (256 << 10));
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a small tmpfs here: " << disk.error();
  test::TempDir dir;
  ServiceConfig config = config_in(dir);
  config.journal_dir = disk.path();
  auto service = Service::start(config);
  ASSERT_TRUE(service.has_value()) << service.error();
  auto publisher = service::Publisher::attach({config.name, config.runtime_dir, "default"});
  ASSERT_TRUE(publisher.has_value()) << publisher.error();
  // More than the file system holds: written until the service closes the connection.
  for (std::uint64_t sequence = 0; publisher->connected(); ++sequence) {
    ASSERT_LT(sequence, 10'000'000u) << "the file system never filled";
    const auto payload = payload_of(0, sequence);
    const event::EventHeader header(sequence, 1, static_cast<std::uint16_t>(payload.size()));
    while (!publisher->producer().write_event(header, payload) && publisher->connected()) {
    }
  }
  const service::ServiceStatus failed = (*service)->status();
  ASSERT_TRUE(failed.failure.has_value());
  EXPECT_NE(failed.failure->find("No space left on device"), std::string::npos) << *failed.failure;
  EXPECT_TRUE(failed.publishers.empty()) << "a failed service drains no one, and lists no one";
  const auto refused = service::Publisher::attach({config.name, config.runtime_dir, "default"});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ringlog::SetupErrc::service_refused);
  EXPECT_NE(refused.error().message().find("it has failed (" + *failed.failure), std::string::npos)
      << refused.error();
  EXPECT_EQ((*service)->status().failure, failed.failure) << "the failure stays until the stop";

  const auto stopped = (*service)->stop();
  ASSERT_FALSE(stopped.has_value());
  EXPECT_EQ(stopped.error().code, ringlog::SetupErrc::journal_failed);
  EXPECT_EQ(stopped.error().message(), *failed.failure);
  EXPECT_TRUE(std::filesystem::exists(service::failure_record_path(config)));
  const std::uint64_t durable = (*service)->status().journal_durable_sequence;
  EXPECT_GT(durable, 0u);
  EXPECT_GE(journaled_per_publisher(disk.path()).at(0), durable);
}
