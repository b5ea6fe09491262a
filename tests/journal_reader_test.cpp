// Reading the journal while it is written: a reader that follows a writer in another thread or
// in another process, and a durable reader that hands out only what a completed flush covers.
#include <ringlog/journal.hpp>

#include "journal_support.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <thread>

using namespace ringlog;
using journal::FlushPolicy;
using journal::Journal;
using journal::JournalEvent;
using journal::JournalReader;
using test::append_events, test::payload_size_of, test::segment_bytes, test::small_segments;

TEST(journal, reader_follows_a_writer_in_another_thread) {
  test::TempDir dir;
  auto journal = Journal::open(dir.path(), small_segments());
  ASSERT_TRUE(journal.has_value());
  constexpr std::uint64_t total = 50'000;
  std::thread writer([&] {
    for (std::uint64_t seq = 0; seq < total; ++seq) {
      const auto payload = test::make_payload(seq, payload_size_of(seq));
      if (!journal->append(test::header_for(seq, payload.size()), payload)) {
        ADD_FAILURE() << "the append of event " << seq << " failed";
        return;
      }
      if (seq % 512 == 0) journal->flush_if_due();
    }
  });
  auto reader = JournalReader::open(dir.path());
  ASSERT_TRUE(reader.has_value());
  std::uint64_t expected = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (expected < total && std::chrono::steady_clock::now() < deadline) {
    if (reader->poll([&](const JournalEvent& event) {
          ASSERT_EQ(event.sequence, expected);
          ASSERT_TRUE(test::payload_matches(expected, event.view.payload));
          ++expected;
        }) == 0) {
      std::this_thread::yield();  // caught up with the writer
    }
  }
  writer.join();
  EXPECT_EQ(expected, total);
  EXPECT_EQ(reader->position(), total);
}

TEST(journal, a_durable_reader_hands_out_only_what_a_completed_flush_covers) {
  test::TempDir dir;
  auto journal = Journal::open(dir.path(), small_segments(FlushPolicy::on_request()));
  ASSERT_TRUE(journal.has_value());
  auto appended = JournalReader::open(dir.path());
  auto durable = JournalReader::open(dir.path(), journal::ReadLimit::durable);
  ASSERT_TRUE(appended.has_value() && durable.has_value());
  const auto count = [](JournalReader& reader) { return reader.poll([](const JournalEvent&) {}); };

  append_events(*journal, 1000);
  EXPECT_EQ(count(*appended), 1000u);
  EXPECT_EQ(count(*durable), 0u) << "nothing was flushed yet";
  ASSERT_TRUE(journal->sync().has_value());
  EXPECT_EQ(count(*durable), 1000u);

  // Across a roll: the sealed segments are durable whole, the newest up to its checkpoint.
  append_events(*journal, 3 * segment_bytes / 64);
  ASSERT_GT(journal->segment_count(), 2u);
  const std::uint64_t flushed_through = journal->next_sequence();
  ASSERT_TRUE(journal->sync().has_value());
  append_events(*journal, 100);
  EXPECT_EQ(count(*durable), flushed_through - 1000);
  EXPECT_EQ(durable->position(), journal->durable_sequence());
  ASSERT_TRUE(journal->sync().has_value());
  EXPECT_EQ(count(*durable), 100u);
}

TEST(journal, reader_follows_a_writer_in_another_process) {
  test::TempDir dir;
  constexpr std::uint64_t total = 30'000;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto journal = Journal::open(dir.path(), small_segments());
    if (!journal) _exit(2);
    for (std::uint64_t seq = 0; seq < total; ++seq) {
      const auto payload = test::make_payload(seq, payload_size_of(seq));
      if (!journal->append(test::header_for(seq, payload.size()), payload)) _exit(3);
    }
    _exit(journal->sync() ? 0 : 4);
  }
  std::uint64_t expected = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::optional<JournalReader> reader;
  while (expected < total && std::chrono::steady_clock::now() < deadline) {
    if (!reader) {  // the child may not have made the directory yet
      if (auto opened = JournalReader::open(dir.path())) reader.emplace(std::move(*opened));
      continue;
    }
    reader->poll([&](const JournalEvent& event) {
      ASSERT_EQ(event.sequence, expected);
      ASSERT_TRUE(test::payload_matches(expected, event.view.payload));
      ++expected;
    });
  }
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(expected, total);
}
