// The segmented journal's writing side: appends across segments named by their first sequence,
// claims, batches of ring records and the dispatcher's runs, a first sequence of its own, and
// retention by count, bytes and age, recycling the oldest segments.
#include <ringlog/journal.hpp>
#include <ringlog/journal_consumer.hpp>
#include <ringlog/ring.hpp>

#include "journal/journal_directory.hpp"
#include "journal/file/log_file.hpp"
#include "journal/file/log_format.hpp"
#include "journal_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace ringlog;
using journal::Journal;
using journal::JournalOptions;
using journal::JournalReader;
using test::append_events, test::expect_events, test::file_names, test::payload_size_of,
    test::ring_records, test::segment_bytes, test::small_segments;

TEST(journal, appends_across_segments_named_by_their_first_sequence) {
  test::TempDir dir;
  auto journal = Journal::open(dir.path(), small_segments());
  ASSERT_TRUE(journal.has_value()) << journal.error().message();
  append_events(*journal, 40'000);  // about 4 MiB: several 1 MiB segments
  ASSERT_TRUE(journal->sync().has_value());
  EXPECT_EQ(journal->durable_sequence(), 40'000u);
  EXPECT_GE(journal->segment_count(), 4u);

  // Each segment's name is the sequence number of its first event.
  auto reader = JournalReader::open(dir.path());
  ASSERT_TRUE(reader.has_value());
  std::uint64_t first_in_next = 0;
  for (const auto& path : test::segment_paths(dir.path())) {
    EXPECT_EQ(path.filename().string(), journal::detail::segment_file_name(first_in_next));
    auto file = journal::MmapReader::open(path);
    ASSERT_TRUE(file.has_value()) << file.error().message();
    first_in_next += file->event_count();
  }
  EXPECT_EQ(first_in_next, 40'000u);
  expect_events(dir.path(), 0, 40'000);
}

TEST(journal, reopens_after_its_last_event_and_continues) {
  test::TempDir dir;
  {
    auto journal = Journal::open(dir.path(), small_segments());
    ASSERT_TRUE(journal.has_value());
    append_events(*journal, 15'000);
    ASSERT_TRUE(journal->sync().has_value());
  }
  auto journal = Journal::open(dir.path(), small_segments());
  ASSERT_TRUE(journal.has_value()) << journal.error().message();
  EXPECT_EQ(journal->next_sequence(), 15'000u);
  EXPECT_TRUE(journal->recovery().clean()) << journal->recovery().summary();
  append_events(*journal, 15'000);
  ASSERT_TRUE(journal->sync().has_value());
  expect_events(dir.path(), 0, 30'000);
}

TEST(journal, a_new_journal_starts_at_the_first_sequence_it_is_given) {
  test::TempDir dir;
  JournalOptions options = small_segments();
  options.first_sequence = 5000;
  {
    auto journal = Journal::open(dir.path(), options);
    ASSERT_TRUE(journal.has_value());
    EXPECT_EQ(journal->next_sequence(), 5000u);
    append_events(*journal, 300);
    ASSERT_TRUE(journal->sync().has_value());
  }
  EXPECT_EQ(file_names(dir.path()).front(), "00000000000000005000.evtl");
  expect_events(dir.path(), 5000, 5300);
  options.first_sequence = 0;  // an existing journal keeps its own
  auto reopened = Journal::open(dir.path(), options);
  ASSERT_TRUE(reopened.has_value());
  EXPECT_EQ(reopened->next_sequence(), 5300u);
}

TEST(journal, claim_commit_and_abort) {
  test::TempDir dir;
  auto journal = Journal::open(dir.path(), small_segments());
  ASSERT_TRUE(journal.has_value());
  for (std::uint64_t seq = 0; seq < 20'000; ++seq) {
    const std::size_t size = payload_size_of(seq);
    auto claimed = journal->try_claim(test::header_for(seq, size));
    ASSERT_TRUE(claimed.has_value());
    ASSERT_EQ(claimed->size(), size);
    std::ranges::copy(test::make_payload(seq, size), claimed->begin());
    journal->commit();
    if (seq % 7 == 0) {  // an aborted claim leaves no trace
      ASSERT_TRUE(journal->try_claim(test::header_for(999, 16)).has_value());
      journal->abort();
    }
  }
  event::EventHeader framing = test::header_for(0, 0);
  framing.flags = ringlog::detail::framing_flag;
  EXPECT_FALSE(journal->try_claim(framing).has_value()) << "flags bit 7 is the library's";
  const auto payload = test::make_payload(0, 8);
  EXPECT_FALSE(journal->append(test::header_for(0, 9), payload)) << "length mismatch";
  ASSERT_TRUE(journal->sync().has_value());
  expect_events(dir.path(), 0, 20'000);
}

TEST(journal, batches_of_ring_records_split_across_segments) {
  test::TempDir dir;
  auto journal = Journal::open(dir.path(), small_segments());
  ASSERT_TRUE(journal.has_value());
  std::uint64_t next = 0;
  std::mt19937 random(7);
  while (next < 60'000) {
    const std::uint64_t count = 1 + random() % 3000;
    std::vector<std::byte> run = ring_records(next, count);
    // A ring hands out runs that may end in its wrap padding: it is not an event.
    const std::size_t padded = run.size();
    run.resize(padded + 48);
    ringlog::detail::store_header(run.data() + padded, ringlog::detail::padding_header());
    ASSERT_TRUE(journal->append_records(run));
    next += count;
    ASSERT_EQ(journal->next_sequence(), next);
  }
  ASSERT_TRUE(journal->sync().has_value());
  EXPECT_GE(journal->segment_count(), 5u);
  expect_events(dir.path(), 0, next);
  // Every file on its own is a valid log, and a reader can start inside a batch.
  for (const auto& path : test::segment_paths(dir.path())) {
    auto file = journal::MmapReader::open(path);
    ASSERT_TRUE(file.has_value());
    EXPECT_FALSE(file->scan().damaged) << path;
  }
  expect_events(dir.path(), 12'345, next);
}

TEST(journal, takes_events_from_the_dispatcher_in_runs_and_one_by_one) {
  test::TempDir dir;
  auto journal = Journal::open(dir.path(), small_segments());
  ASSERT_TRUE(journal.has_value());
  dispatch::EventDispatcher dispatcher;
  dispatcher.add_consumer(dispatch::JournalConsumer(*journal));
  // An SPSC ring's consumer hands runs of records over (append_records)...
  auto spsc = ring::SpscRingBuffer::create(1 << 16);
  ASSERT_TRUE(spsc.has_value());
  auto [producer, ring_consumer] = spsc->split();
  std::uint64_t written = 0;
  while (written < 30'000) {
    for (;; ++written) {
      const auto payload = test::make_payload(written, payload_size_of(written));
      if (!producer.write_event(test::header_for(written, payload.size()), payload)) break;
    }
    dispatcher.drain(ring_consumer);
  }
  // ...and a single-threaded ring one event at a time (append).
  auto single = ring::RingBuffer::create(1 << 16);
  ASSERT_TRUE(single.has_value());
  for (std::uint64_t seq = written; seq < written + 100; ++seq) {
    const auto payload = test::make_payload(seq, payload_size_of(seq));
    ASSERT_TRUE(single->write_event(test::header_for(seq, payload.size()), payload).has_value());
  }
  dispatcher.drain(*single);
  written += 100;
  EXPECT_EQ(dispatcher.totals()[0].delivered, written);
  EXPECT_EQ(dispatcher.totals()[0].failed, 0u);
  ASSERT_TRUE(journal->sync().has_value());
  expect_events(dir.path(), 0, written);
}

TEST(journal, refuses_a_run_that_is_not_whole_records) {
  test::TempDir dir;
  auto journal = Journal::open(dir.path(), small_segments());
  ASSERT_TRUE(journal.has_value());
  std::vector<std::byte> run = ring_records(0, 10);
  run.resize(run.size() - 8);  // the last record claims bytes the run does not hold
  EXPECT_FALSE(journal->append_records(run));
  EXPECT_EQ(journal->next_sequence(), 0u);
  EXPECT_FALSE(journal->failure().has_value()) << "a bad run is refused, not fatal";
}

TEST(journal, retention_keeps_the_newest_segments_and_recycles_the_oldest) {
  test::TempDir dir;
  JournalOptions options = small_segments();
  options.keep_segments = 3;
  std::uint64_t end = 0;
  {
    auto journal = Journal::open(dir.path(), options);
    ASSERT_TRUE(journal.has_value());
    for (int round = 0; round < 12; ++round) {
      append_events(*journal, 10'000);
      ASSERT_TRUE(journal->sync().has_value());
    }
    end = journal->next_sequence();
    EXPECT_LE(journal->segment_count(), 3u);
  }  // the housekeeper has finished its renames and retirements here
  const auto names = file_names(dir.path());
  const auto segments = test::segment_paths(dir.path());
  EXPECT_LE(segments.size(), 3u);
  const bool recycled = std::ranges::count(names, "recycled-segment.spare") == 1 ||
                        std::ranges::count(names, "next-segment.prepared") == 1;
  EXPECT_TRUE(recycled) << "no recycled segment waits for reuse";
  // The kept segments hold the newest events, intact, though the files held older ones before.
  const std::uint64_t oldest = std::stoull(segments.front().filename().string());
  EXPECT_GT(oldest, 0u);
  expect_events(dir.path(), oldest, end);
}

// Tier: suite. A recycled segment is reused as it is: its blocks stay written (no flush there
// converts an extent) and its previous lap's records stay in place, past the end mark the writer
// keeps after its last unit. None of them is ever read as an event, and a clean close leaves a
// clean end: the reopen finds no torn tail to clear.
TEST(journal, a_recycled_segment_keeps_its_blocks_and_never_reads_its_old_records) {
  test::TempDir dir;
  JournalOptions options = small_segments();
  options.keep_segments = 2;
  std::uint64_t end = 0;
  {
    auto journal = Journal::open(dir.path(), options);
    ASSERT_TRUE(journal.has_value());
    for (int round = 0; round < 10; ++round) {  // about ten segments: laps over three files
      append_events(*journal, 10'000);
      ASSERT_TRUE(journal->sync().has_value());
    }
    append_events(*journal, 1'000);  // the newest segment: a recycled file, a little used
    ASSERT_TRUE(journal->sync().has_value());
    end = journal->next_sequence();
  }
  const std::filesystem::path newest = test::segment_paths(dir.path()).back();
  const std::vector<char> bytes = test::read_file(newest);
  const journal::ScanResult scan =
      journal::detail::scan_records(std::as_bytes(std::span(bytes.data(), bytes.size())));
  EXPECT_FALSE(scan.damaged) << "the end mark fails to end the scan cleanly";
  const std::size_t past_end = scan.end_offset + journal::detail::LogFile::end_mark_bytes;
  ASSERT_LT(past_end, bytes.size());
  EXPECT_TRUE(std::all_of(bytes.begin() + static_cast<std::ptrdiff_t>(scan.end_offset),
                          bytes.begin() + static_cast<std::ptrdiff_t>(past_end),
                          [](char b) { return b == 0; }))
      << "no end mark after the last unit";
  EXPECT_TRUE(std::any_of(bytes.begin() + static_cast<std::ptrdiff_t>(past_end), bytes.end(),
                          [](char b) { return b != 0; }))
      << "the newest segment was cleared, not recycled as it was";
  if (test::tracks_unwritten_extents(dir.path())) {
    EXPECT_EQ(test::unwritten_bytes(newest), 0u) << "a recycled segment's blocks stay written";
  }

  auto reopened = Journal::open(dir.path(), options);
  ASSERT_TRUE(reopened.has_value()) << reopened.error().message();
  EXPECT_FALSE(reopened->recovery().cleared_tail.has_value()) << *reopened->recovery().cleared_tail;
  EXPECT_EQ(reopened->next_sequence(), end);
  append_events(*reopened, 5'000);
  ASSERT_TRUE(reopened->sync().has_value());
  const std::uint64_t oldest = std::stoull(test::segment_paths(dir.path()).front().filename());
  expect_events(dir.path(), oldest, end + 5'000);
}

// Tier: suite. A segment the housekeeper makes new has every block written, given the time
// (it is asked for once the current one is half full), before the appender reaches it, so that
// no flush there converts an unwritten extent.
TEST(journal, a_new_segment_has_its_blocks_written_before_the_appender_reaches_it) {
  test::TempDir dir;
  if (!test::tracks_unwritten_extents(dir.path())) {
    GTEST_SKIP() << dir.path() << " is on a file system that reports no unwritten extents";
  }
  auto journal = Journal::open(dir.path(), small_segments());
  ASSERT_TRUE(journal.has_value());
  append_events(*journal, 8'000);  // past half of the first segment: the next is asked for
  journal->flush_if_due();
  const std::filesystem::path prepared = dir / "next-segment.prepared";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (test::unwritten_bytes(prepared).value_or(1) != 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_EQ(test::unwritten_bytes(prepared), 0u) << "the prepared segment's blocks never were";
  append_events(*journal, 7'000);  // a little way into it
  ASSERT_GE(journal->segment_count(), 2u);
  // Named by the housekeeper once the appender is on it (sync() would write the pages ahead).
  while (test::segment_paths(dir.path()).size() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_GE(test::segment_paths(dir.path()).size(), 2u) << "the second segment was never named";
  const std::filesystem::path second = test::segment_paths(dir.path())[1];
  EXPECT_EQ(test::unwritten_bytes(second), 0u) << second << ", past the appender too";
}

TEST(journal, retention_by_bytes_keeps_what_fits_and_by_age_lets_old_segments_go) {
  test::TempDir dir;
  JournalOptions options = small_segments();
  options.keep_bytes = 3 * segment_bytes + segment_bytes / 2;  // room for three segments
  {
    auto journal = Journal::open(dir.path(), options);
    ASSERT_TRUE(journal.has_value());
    for (int round = 0; round < 8; ++round) {
      append_events(*journal, 10'000);
      ASSERT_TRUE(journal->sync().has_value());
    }
  }
  EXPECT_LE(test::segment_paths(dir.path()).size(), 3u);
  // By age: every sealed segment but the newest two had their newest event two hours ago.
  options = small_segments();
  options.keep_for = std::chrono::hours(1);
  auto segments = test::segment_paths(dir.path());
  ASSERT_GE(segments.size(), 3u);
  const auto two_hours_ago =
      std::filesystem::file_time_type::clock::now() - std::chrono::hours(2);
  for (std::size_t i = 0; i + 2 < segments.size(); ++i) {
    std::filesystem::last_write_time(segments[i], two_hours_ago);
  }
  std::uint64_t end = 0;
  {
    auto journal = Journal::open(dir.path(), options);
    ASSERT_TRUE(journal.has_value());
    end = journal->next_sequence();
  }
  const auto kept = test::segment_paths(dir.path());
  ASSERT_EQ(kept.size(), 2u) << "the segments older than keep_for stayed";
  EXPECT_EQ(kept.front(), segments[segments.size() - 2]);
  expect_events(dir.path(), std::stoull(kept.front().filename().string()), end);
}
