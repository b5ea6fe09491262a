// Crash tests: a child process appends with asynchronous flushes and reports, over a pipe, how
// many events are durable; the parent SIGKILLs it at a random moment. After every kill the log
// must hold every event reported durable, intact and in order, hand out nothing damaged, and
// take further appends. Fifty rounds on one file, so each round recovers from the last.
#include <ringlog/storage.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <random>
#include <thread>

using namespace ringlog;
using storage::MmapReader;
using storage::MmapWriter;

namespace {

constexpr std::size_t payload_size = 64;
constexpr std::uint64_t burst = 500;

// The child: appends bursts of events numbered from the log's current count; after each burst
// it waits for an asynchronous flush to cover it and reports how many events are durable.
[[noreturn]] void append_until_killed(const std::filesystem::path& path, int report_fd) {
  auto writer = MmapWriter::open(path);
  if (!writer) _exit(2);
  for (std::uint64_t seq = writer->event_count();;) {
    for (std::uint64_t end = seq + burst; seq < end; ++seq) {
      const auto payload = test::make_payload(seq, payload_size);
      if (!writer->write_event(test::header_for(seq, payload_size), payload)) _exit(3);
    }
    while (writer->durable_offset() != writer->write_offset()) {
      writer->sync_async();
      if (writer->failure()) _exit(5);
    }
    if (write(report_fd, &seq, sizeof seq) != sizeof seq) _exit(4);
  }
}

// The child's next report, or nothing if none comes within a few seconds (a stuck child).
std::optional<std::uint64_t> next_report(int fd) {
  pollfd ready{fd, POLLIN, 0};
  std::uint64_t durable = 0;
  if (::poll(&ready, 1, 5000) != 1 || read(fd, &durable, sizeof durable) != sizeof durable) {
    return std::nullopt;
  }
  return durable;
}

}  // namespace

TEST(crash, sigkill_never_loses_a_durable_event_and_recovery_continues) {
  test::TempDir dir;
  const auto path = dir / "crash.evtl";
  ASSERT_TRUE(MmapWriter::create(path, 64 << 20).has_value());
  std::mt19937 random(2026);
  int torn_tails = 0;
  int kills_past_durable = 0;  // the kill left events written but not yet durable

  for (int round = 0; round < 50; ++round) {
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(pipe_fds[0]);
      append_until_killed(path, pipe_fds[1]);
    }
    close(pipe_fds[1]);
    // Kill after a random number of durability reports and a random 0-100 us more: in the
    // middle of a burst, or of the flush that follows it.
    std::uint64_t durable = 0;
    const int reports_before_kill = 1 + static_cast<int>(random() % 8);
    for (int i = 0; i < reports_before_kill; ++i) {
      const auto report = next_report(pipe_fds[0]);
      ASSERT_TRUE(report.has_value()) << "round " << round << ": the child stopped reporting";
      durable = *report;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(random() % 100));
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "round " << round << ": child exited with "
                                     << WEXITSTATUS(status);
    for (std::uint64_t later; read(pipe_fds[0], &later, sizeof later) == sizeof later;) {
      durable = later;  // reports sent before the kill landed
    }
    close(pipe_fds[0]);

    auto reader = MmapReader::open(path);
    ASSERT_TRUE(reader.has_value()) << reader.error().message();
    ASSERT_GE(reader->event_count(), durable) << "round " << round << " lost durable events";
    std::uint64_t expected = 0;
    reader->replay([&](const event::EventView& view) {
      ASSERT_EQ(view.header.timestamp, expected);
      ASSERT_TRUE(test::payload_matches(expected, view.payload)) << "event " << expected;
      ++expected;
    });
    torn_tails += reader->scan().damaged ? 1 : 0;
    kills_past_durable += reader->event_count() > durable ? 1 : 0;
  }
  // Reopening after the last kill still appends in order.
  auto writer = MmapWriter::open(path);
  ASSERT_TRUE(writer.has_value()) << writer.error().message();
  const std::uint64_t count = writer->event_count();
  ASSERT_TRUE(writer->write_event(test::header_for(count, 8), test::make_payload(count, 8)));
  ASSERT_TRUE(writer->sync().has_value());
  EXPECT_EQ(MmapReader::open(path)->event_count(), count + 1);
  std::printf("50 kills: %d with events past the durable mark, %d with a torn record\n",
              kills_past_durable, torn_tails);
  EXPECT_GT(kills_past_durable, 0) << "no kill landed while appending: the test lost its point";
}
