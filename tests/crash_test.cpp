// Crash tests: a child process appends with asynchronous flushes and reports, over a pipe, how
// many events are durable; the parent SIGKILLs it at a random moment. After every kill the log
// (or journal) must hold every event reported durable, intact and in order, hand out nothing
// damaged, and take further appends. Fifty rounds each, so each round recovers from the last.
#include <ringlog/journal.hpp>
#include <ringlog/log_file.hpp>

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
using journal::Journal;
using journal::JournalReader;
using journal::MmapReader;
using journal::MmapWriter;

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

// The child's next report, or nothing if none comes within a minute (a stuck child). Generous:
// a slow host's first flush, behind its first touch of new memory, can take seconds.
std::optional<std::uint64_t> next_report(int fd) {
  constexpr int patience_ms = 60'000;
  pollfd ready{fd, POLLIN, 0};
  std::uint64_t durable = 0;
  if (::poll(&ready, 1, patience_ms) != 1 || read(fd, &durable, sizeof durable) != sizeof durable) {
    return std::nullopt;
  }
  return durable;
}

// The journal's child: appends single events and batches with a flush policy of 64 KiB or
// 200 us, and reports durable_sequence() whenever it has moved.
[[noreturn]] void journal_append_until_killed(const std::filesystem::path& dir, int report_fd) {
  journal::JournalOptions options;
  options.segment_bytes = journal::JournalOptions::min_segment_bytes;  // rolls every few rounds
  options.keep_segments = 0;
  options.flush = {64 << 10, std::chrono::microseconds(200)};
  auto journal = Journal::open(dir, options);
  if (!journal) _exit(2);
  std::uint64_t reported = journal->durable_sequence();
  for (;;) {
    const std::uint64_t seq = journal->next_sequence();
    const auto payload = test::make_payload(seq, payload_size);
    if (!journal->append(test::header_for(seq, payload_size), payload)) _exit(3);
    if (seq % 64 == 0) journal->flush_if_due();
    if (journal->failure()) _exit(5);
    if (const std::uint64_t durable = journal->durable_sequence(); durable != reported) {
      reported = durable;
      if (write(report_fd, &reported, sizeof reported) != sizeof reported) _exit(4);
    }
  }
}

// Starts `child_main(report_fd)` in a child process, SIGKILLs it after a random number of
// durability reports and a random 0-100 us more, and returns the last durable count reported.
template <class ChildMain>
std::optional<std::uint64_t> kill_at_random(ChildMain child_main, std::mt19937& random) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return std::nullopt;
  const pid_t child = fork();
  if (child < 0) return std::nullopt;
  if (child == 0) {
    close(pipe_fds[0]);
    child_main(pipe_fds[1]);
  }
  close(pipe_fds[1]);
  std::uint64_t durable = 0;
  const int reports_before_kill = 1 + static_cast<int>(random() % 8);
  for (int i = 0; i < reports_before_kill; ++i) {
    const auto report = next_report(pipe_fds[0]);
    if (!report) {
      kill(child, SIGKILL);
      waitpid(child, nullptr, 0);
      ADD_FAILURE() << "the child stopped reporting";
      return std::nullopt;
    }
    durable = *report;
  }
  std::this_thread::sleep_for(std::chrono::microseconds(random() % 100));
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFSIGNALED(status)) {
    ADD_FAILURE() << "the child exited with " << WEXITSTATUS(status);
    return std::nullopt;
  }
  for (std::uint64_t later; read(pipe_fds[0], &later, sizeof later) == sizeof later;) {
    durable = later;  // reports sent before the kill landed
  }
  close(pipe_fds[0]);
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
    const std::optional<std::uint64_t> durable =
        kill_at_random([&](int report_fd) { append_until_killed(path, report_fd); }, random);
    ASSERT_TRUE(durable.has_value()) << "round " << round;

    auto reader = MmapReader::open(path);
    ASSERT_TRUE(reader.has_value()) << reader.error().message();
    ASSERT_GE(reader->event_count(), *durable) << "round " << round << " lost durable events";
    std::uint64_t expected = 0;
    reader->replay([&](const event::EventView& view) {
      ASSERT_EQ(view.header.timestamp, expected);
      ASSERT_TRUE(test::payload_matches(expected, view.payload)) << "event " << expected;
      ++expected;
    });
    torn_tails += reader->scan().damaged ? 1 : 0;
    kills_past_durable += reader->event_count() > *durable ? 1 : 0;
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

TEST(crash, journal_sigkill_never_loses_a_durable_event_and_recovery_continues) {
  test::TempDir dir;
  std::mt19937 random(1126);
  int kills_past_durable = 0;
  std::uint64_t max_durable = 0;
  for (int round = 0; round < 50; ++round) {
    const std::optional<std::uint64_t> durable = kill_at_random(
        [&](int report_fd) { journal_append_until_killed(dir.path(), report_fd); }, random);
    ASSERT_TRUE(durable.has_value()) << "round " << round;
    ASSERT_GE(*durable, max_durable) << "durable_sequence went backwards across a restart";
    max_durable = *durable;

    auto reader = JournalReader::open(dir.path());
    ASSERT_TRUE(reader.has_value()) << reader.error().message();
    std::uint64_t expected = 0;
    reader->replay([&](const journal::JournalEvent& event) {
      ASSERT_EQ(event.sequence, expected);
      ASSERT_EQ(event.view.header.timestamp, expected);
      ASSERT_TRUE(test::payload_matches(expected, event.view.payload)) << "event " << expected;
      ++expected;
    });
    ASSERT_GE(expected, *durable) << "round " << round << " lost durable events";
    kills_past_durable += expected > *durable ? 1 : 0;
  }
  auto journal = Journal::open(dir.path());
  ASSERT_TRUE(journal.has_value()) << journal.error().message();
  const std::uint64_t next = journal->next_sequence();
  ASSERT_TRUE(journal->append(test::header_for(next, 8), test::make_payload(next, 8)));
  ASSERT_TRUE(journal->sync().has_value());
  EXPECT_EQ(journal->durable_sequence(), next + 1);
  std::printf("50 journal kills: %d with events past the durable mark, %zu segments\n",
              kills_past_durable, journal->segment_count());
  EXPECT_GT(kills_past_durable, 0) << "no kill landed while appending: the test lost its point";
}
