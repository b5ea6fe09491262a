// Named readers: a reader that keeps its place in the journal's directory resumes after its last
// committed position, across a SIGKILL, without a gap or a duplicate; a damaged cursor or an
// impossible name is an error naming it; retention holds the segments a lagging reader still
// needs, and past the hold limit lets them go, and the reader is told which events it lost.
#include <ringlog/journal.hpp>

#include "journal/reader_cursor.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>

using namespace ringlog;
using journal::Journal;
using journal::JournalEvent;
using journal::JournalOptions;
using journal::JournalReader;
using journal::LogErrc;
using journal::ReaderOptions;

namespace {

JournalOptions small_segments() {
  JournalOptions options;
  options.segment_bytes = JournalOptions::min_segment_bytes;
  return options;
}

void append_events(Journal& journal, std::uint64_t count) {
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t seq = journal.next_sequence();
    const auto payload = test::make_payload(seq, 24);
    ASSERT_TRUE(journal.append(test::header_for(seq, payload.size()), payload)) << seq;
  }
  ASSERT_TRUE(journal.sync().has_value());
}

// Reads `count` events, each the one expected next, intact.
void read_in_order(JournalReader& reader, std::uint64_t count) {
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t expected = reader.position();
    const auto event = reader.next();
    ASSERT_TRUE(event.has_value()) << "no event " << expected;
    ASSERT_EQ(event->sequence, expected);
    ASSERT_TRUE(test::payload_matches(expected, event->view.payload)) << expected;
  }
}

bool has_code(const Error& error, LogErrc code) {
  return error.code == journal::make_error_code(code);
}

}  // namespace

TEST(named_reader, resumes_after_the_position_it_committed) {
  test::TempDir dir;
  {
    auto journal = Journal::open(dir.path(), small_segments());
    ASSERT_TRUE(journal.has_value());
    append_events(*journal, 10'000);
  }
  {
    auto reader = JournalReader::open(dir.path(), ReaderOptions{.name = "risk"});
    ASSERT_TRUE(reader.has_value()) << reader.error().message();
    EXPECT_EQ(reader->position(), 0u) << "a new reader starts at the oldest event";
    read_in_order(*reader, 4'000);
    ASSERT_TRUE(reader->commit_position().has_value());
    read_in_order(*reader, 1'000);  // read, never committed
  }
  auto resumed = JournalReader::open(dir.path(), ReaderOptions{.name = "risk"});
  ASSERT_TRUE(resumed.has_value()) << resumed.error().message();
  EXPECT_EQ(resumed->position(), 4'000u);
  read_in_order(*resumed, 6'000);
  EXPECT_FALSE(resumed->next().has_value());

  auto readers = journal::list_readers(dir.path());
  ASSERT_TRUE(readers.has_value()) << readers.error().message();
  ASSERT_EQ(readers->size(), 1u);
  EXPECT_EQ(readers->front().name, "risk");
  EXPECT_EQ(readers->front().position, 4'000u);
  EXPECT_FALSE(readers->front().problem.has_value());
  // The journal, with a reader's cursor in its directory, still opens and appends.
  auto reopened = Journal::open(dir.path(), small_segments());
  ASSERT_TRUE(reopened.has_value()) << reopened.error().message();
  EXPECT_EQ(reopened->next_sequence(), 10'000u);
}

TEST(named_reader, a_damaged_cursor_is_an_error_naming_it) {
  test::TempDir dir;
  auto journal = Journal::open(dir.path(), small_segments());
  ASSERT_TRUE(journal.has_value());
  append_events(*journal, 100);
  auto reader = JournalReader::open(dir.path(), ReaderOptions{.name = "audit"});
  ASSERT_TRUE(reader.has_value());
  read_in_order(*reader, 50);
  ASSERT_TRUE(reader->commit_position().has_value());
  const auto path = journal::detail::cursor_path(dir.path(), "audit");
  std::vector<char> bytes = test::read_file(path);
  for (const std::size_t at : {std::size_t{17}, std::size_t{0}}) {  // the position, the magic
    std::vector<char> damaged = bytes;
    damaged[at] ^= 0x40;
    test::write_file(path, damaged);
    auto opened = JournalReader::open(dir.path(), ReaderOptions{.name = "audit"});
    ASSERT_FALSE(opened.has_value()) << "byte " << at;
    EXPECT_TRUE(has_code(opened.error(), LogErrc::reader_cursor_damaged));
    EXPECT_NE(opened.error().message().find(path.string()), std::string::npos)
        << opened.error().message();
  }
  test::write_file(path, std::vector<char>(bytes.begin(), bytes.begin() + 12));  // cut short
  auto cut = JournalReader::open(dir.path(), ReaderOptions{.name = "audit"});
  ASSERT_FALSE(cut.has_value());
  EXPECT_TRUE(has_code(cut.error(), LogErrc::reader_cursor_damaged)) << cut.error().message();
  auto listed = journal::list_readers(dir.path());
  ASSERT_TRUE(listed.has_value());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE(listed->front().problem.has_value()) << "a damaged cursor is listed as such";
}

TEST(named_reader, names_that_cannot_be_file_names_are_refused) {
  test::TempDir dir;
  for (const char* name : {"../escape", ".hidden", "with space", "a/b"}) {
    auto reader = JournalReader::open(dir.path(), ReaderOptions{.name = name});
    ASSERT_FALSE(reader.has_value()) << name;
    EXPECT_TRUE(has_code(reader.error(), LogErrc::invalid_reader_name)) << name;
  }
  auto unnamed = JournalReader::open(dir.path());
  ASSERT_TRUE(unnamed.has_value());
  auto committed = unnamed->commit_position();
  ASSERT_FALSE(committed.has_value()) << "a reader without a name has no place to keep";
  EXPECT_TRUE(has_code(committed.error(), LogErrc::invalid_reader_name));
}

TEST(named_reader, killed_mid_stream_resumes_exactly_where_it_committed) {
  test::TempDir dir;
  constexpr std::uint64_t total = 200'000;
  constexpr std::uint64_t batch = 1'000;  // events between commits
  {
    auto journal = Journal::open(dir.path(), small_segments());
    ASSERT_TRUE(journal.has_value());
    append_events(*journal, total);
  }
  std::mt19937 random(7);
  std::uint64_t resumed_at = 0;
  for (int round = 0; round < 20 && resumed_at < total; ++round) {
    int reports[2];
    ASSERT_EQ(::pipe(reports), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {  // reads and commits a batch at a time, then reports the commit
      ::close(reports[0]);
      auto reader = JournalReader::open(dir.path(), ReaderOptions{.name = "risk"});
      if (!reader) _exit(2);
      for (;;) {
        std::uint64_t read = 0;
        while (read < batch && reader->next()) ++read;
        if (read == 0) _exit(0);
        if (!reader->commit_position()) _exit(3);
        const std::uint64_t committed = reader->position();
        if (::write(reports[1], &committed, sizeof committed) != sizeof committed) _exit(4);
      }
    }
    ::close(reports[1]);
    // Killed after a random number of reported commits: mid-batch, mid-commit or between.
    const int commits = 1 + static_cast<int>(random() % 8);
    std::uint64_t reported = resumed_at;
    for (int i = 0; i < commits; ++i) {
      std::uint64_t committed = 0;
      if (::read(reports[0], &committed, sizeof committed) != sizeof committed) break;
      reported = committed;
    }
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    // Killed is the only way it may end: an exit means it failed (2 open, 3 commit, 4 report).
    ASSERT_FALSE(WIFEXITED(status)) << "round " << round << ": the reader exited "
                                    << WEXITSTATUS(status) << " before the kill";
    // It may have gone on committing before the kill landed: the reports still in the pipe
    // (the pipe ends once the child is gone) tell how far.
    for (std::uint64_t committed = 0;
         ::read(reports[0], &committed, sizeof committed) == sizeof committed;) {
      reported = committed;
    }
    ::close(reports[0]);
    auto reader = JournalReader::open(dir.path(), ReaderOptions{.name = "risk"});
    ASSERT_TRUE(reader.has_value()) << reader.error().message();
    // What it reported committed, or the commit it was killed after making and before saying
    // so: never anything between (a torn cursor), never behind (a duplicate), never beyond.
    const std::uint64_t position = reader->position();
    EXPECT_TRUE(position == reported || position == std::min(reported + batch, total))
        << "round " << round << ": resumed at " << position << ", reported " << reported;
    read_in_order(*reader, std::min<std::uint64_t>(10, total - position));
    resumed_at = position;
  }
  EXPECT_GT(resumed_at, 0u);
}

TEST(named_reader, retention_holds_segments_for_a_lagging_reader_until_the_hold_limit) {
  test::TempDir dir;
  JournalOptions options = small_segments();
  options.keep_segments = 2;
  options.reader_hold_limit = std::chrono::hours(1);
  {
    auto reader = JournalReader::open(dir.path(), ReaderOptions{.name = "slow"});
    ASSERT_TRUE(reader.has_value());
    ASSERT_TRUE(reader->commit_position().has_value());  // at 0: it needs every segment
  }
  std::uint64_t end = 0;
  {
    auto journal = Journal::open(dir.path(), options);
    ASSERT_TRUE(journal.has_value());
    append_events(*journal, 150'000);  // about 8 segments of 1 MiB
    end = journal->next_sequence();
  }
  const auto held = test::segment_paths(dir.path());
  ASSERT_GT(held.size(), 4u) << "retention did not keep what the reader has not read";
  EXPECT_EQ(std::stoull(held.front().filename().string()), 0u)
      << "the segment the reader still needs was removed";
  {
    auto reader = JournalReader::open(dir.path(), ReaderOptions{.name = "slow"});
    ASSERT_TRUE(reader.has_value()) << reader.error().message();
    read_in_order(*reader, end);
  }
  // The reader last committed two hours ago, past the hour it may hold segments for.
  const auto cursor = journal::detail::cursor_path(dir.path(), "slow");
  std::filesystem::last_write_time(
      cursor, std::filesystem::file_time_type::clock::now() - std::chrono::hours(2));
  {
    auto journal = Journal::open(dir.path(), options);
    ASSERT_TRUE(journal.has_value());
    append_events(*journal, 20'000);
  }
  const auto segments = test::segment_paths(dir.path());
  EXPECT_LE(segments.size(), 2u);
  const std::uint64_t oldest = std::stoull(segments.front().filename().string());
  auto lost = JournalReader::open(dir.path(), ReaderOptions{.name = "slow"});
  ASSERT_FALSE(lost.has_value()) << "a reader whose events went must be told";
  EXPECT_TRUE(has_code(lost.error(), LogErrc::reader_events_removed));
  EXPECT_NE(lost.error().message().find("events 0 to " + std::to_string(oldest - 1)),
            std::string::npos)
      << lost.error().message();
}
