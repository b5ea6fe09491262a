// Seeking by time: JournalReader::seek_time lands on the first event, in sequence order, whose
// timestamp is at or after the one asked for, where the running maximum of the timestamps so far
// first reaches it (Kafka's rule, for clocks that step backwards); the same with the sealed
// segments' time indexes and without them (deleted or damaged: scanned instead); past the newest
// event it waits at the end for the events to come. The indexes a segment's writer builds as it
// appends hold what a scan of the segment finds.
#include <ringlog/detail/framing.hpp>
#include <ringlog/journal.hpp>

#include "journal/file/log_file.hpp"
#include "journal/time_index.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <expected>
#include <random>

using namespace ringlog;
using journal::Journal;
using journal::JournalOptions;
using journal::JournalReader;

namespace {

// Timestamps that mostly rise, and every 7th event one from 50 µs earlier: another
// publisher's clock behind this one's. Events 45,000 to 85,000 come from a clock 50 ms behind,
// older than all before them: a whole segment of them, whose greatest timestamp is below the
// segments' before it.
std::uint64_t timestamp_of(std::uint64_t sequence) {
  const std::uint64_t clock_behind = sequence >= 45'000 && sequence < 85'000 ? 50'000'000 : 0;
  const std::uint64_t base = 100'000'000 + sequence * 1'000 - clock_behind;
  return sequence % 7 == 3 ? base - 50'000 : base;
}

constexpr std::uint64_t total = 120'000;  // about seven 1 MiB segments

// The journal in `dir`, in 1 MiB segments.
std::expected<Journal, Error> open_small_segments(const std::filesystem::path& dir,
                                                  std::size_t keep_segments = 0) {
  JournalOptions options;
  options.segment_bytes = JournalOptions::min_segment_bytes;
  options.keep_segments = keep_segments;
  return Journal::open(dir, options);
}

// `total` events in 1 MiB segments, stamped by `timestamp`, the journal closed after: its
// housekeeper's indexes and retirements done.
void write_journal(const std::filesystem::path& dir,
                   std::uint64_t (*timestamp)(std::uint64_t) = timestamp_of,
                   std::size_t keep_segments = 0) {
  auto journal = open_small_segments(dir, keep_segments);
  ASSERT_TRUE(journal.has_value());
  for (std::uint64_t seq = 0; seq < total; ++seq) {
    const auto payload = test::make_payload(seq, 24);
    ASSERT_TRUE(journal->append(event::EventHeader(timestamp(seq), 1, 24), payload));
    if (seq % 1024 == 0) journal->flush_if_due();
  }
  ASSERT_TRUE(journal->sync().has_value());
}

// Where the running maximum first reaches `wanted`: the answer, worked out the slow way.
std::uint64_t expected_for(std::uint64_t wanted) {
  std::uint64_t running = 0;
  for (std::uint64_t seq = 0; seq < total; ++seq) {
    running = std::max(running, timestamp_of(seq));
    if (running >= wanted) return seq;
  }
  return total;
}

void expect_seeks_land_right(const std::filesystem::path& dir) {
  auto reader = JournalReader::open(dir);
  ASSERT_TRUE(reader.has_value());
  std::mt19937_64 random(11);
  std::vector<std::uint64_t> wanted = {0, timestamp_of(0), timestamp_of(total - 1),
                                       timestamp_of(total - 1) + 1, timestamp_of(3) + 1,
                                       timestamp_of(50'003)};
  for (int i = 0; i < 200; ++i) wanted.push_back(random() % (timestamp_of(total - 1) + 2'000));
  std::uint64_t past_the_end = 0;
  std::uint64_t in_the_last_quarter = 0;  // the seeks reach every segment
  for (const std::uint64_t timestamp : wanted) {
    reader->seek_time(timestamp);
    const std::uint64_t expected = expected_for(timestamp);
    const auto event = reader->next();
    if (expected == total) {
      EXPECT_FALSE(event.has_value()) << "at " << timestamp;
      EXPECT_EQ(reader->position(), total);
      ++past_the_end;
      continue;
    }
    in_the_last_quarter += expected >= total / 4 * 3;
    ASSERT_TRUE(event.has_value()) << "at " << timestamp;
    EXPECT_EQ(event->sequence, expected) << "at " << timestamp;
    EXPECT_TRUE(test::payload_matches(event->sequence, event->view.payload));
  }
  EXPECT_GT(past_the_end, 0u);
  EXPECT_GT(in_the_last_quarter, 20u);
}

std::vector<std::filesystem::path> indexes_in(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> found;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().string().ends_with(journal::detail::time_index_suffix)) {
      found.push_back(entry.path());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

// Each sealed segment's index ends where the next segment starts and carries the greatest
// timestamp of all events before its segment.
void expect_indexes_carry_the_maximum_before(const std::filesystem::path& dir) {
  const auto segments = test::segment_paths(dir);
  std::uint64_t running = 0;
  std::uint64_t sequence = 0;
  bool passed_by = false;  // a segment all older than the ones before it
  for (std::size_t i = 0; i + 1 < segments.size(); ++i) {
    const auto summary = journal::detail::read_time_index_summary(
        journal::detail::time_index_path(segments[i]));
    ASSERT_TRUE(summary.has_value()) << segments[i];
    EXPECT_EQ(summary->first_sequence, sequence) << segments[i];
    ASSERT_TRUE(summary->max_before.has_value()) << segments[i];
    EXPECT_EQ(*summary->max_before, running) << segments[i];
    passed_by = passed_by || summary->max_timestamp < running;
    for (; sequence < summary->end_sequence; ++sequence) {
      running = std::max(running, timestamp_of(sequence));
    }
  }
  EXPECT_TRUE(passed_by) << "no segment has only timestamps older than those before it";
}

// Events [first, first + count) as one run of records, stamped by timestamp_of.
std::vector<std::byte> records_of(std::uint64_t first, std::uint64_t count) {
  std::vector<std::byte> records;
  for (std::uint64_t seq = first; seq < first + count; ++seq) {
    const std::size_t at = records.size();
    records.resize(at + ringlog::detail::record_size(24));
    ringlog::detail::store_header(records.data() + at, event::EventHeader(timestamp_of(seq), 1, 24));
    const auto payload = test::make_payload(seq, 24);
    std::memcpy(records.data() + at + event::EventHeader::SIZE, payload.data(), payload.size());
  }
  return records;
}

// The index now beside `segment` holds `content`, entry for entry.
void expect_index_holds(const std::filesystem::path& segment,
                        const journal::detail::TimeIndexContent& content) {
  const auto index = journal::detail::time_index_path(segment);
  const auto summary = journal::detail::read_time_index_summary(index);
  ASSERT_TRUE(summary.has_value()) << index;
  EXPECT_EQ(summary->max_timestamp, content.max_timestamp) << index;
  EXPECT_EQ(summary->end_sequence, content.end_sequence) << index;
  const auto entries = journal::detail::read_time_index_entries(index, *summary);
  ASSERT_TRUE(entries.has_value()) << index;
  ASSERT_EQ(entries->size(), content.entries.size()) << index;
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const auto& [offset, sequence, max_before] = (*entries)[i];
    EXPECT_EQ(offset, content.entries[i].offset) << index << " entry " << i;
    EXPECT_EQ(sequence, content.entries[i].sequence) << index << " entry " << i;
    EXPECT_EQ(max_before, content.entries[i].max_before) << index << " entry " << i;
  }
}

// What `segment`'s index holds now, read back.
std::optional<journal::detail::TimeIndexContent> index_content(
    const std::filesystem::path& segment) {
  const auto index = journal::detail::time_index_path(segment);
  const auto summary = journal::detail::read_time_index_summary(index);
  if (!summary) return std::nullopt;
  auto entries = journal::detail::read_time_index_entries(index, *summary);
  if (!entries) return std::nullopt;
  return journal::detail::TimeIndexContent{std::move(*entries), summary->max_timestamp,
                                           summary->end_sequence};
}

}  // namespace

TEST(time_index, a_segment_written_from_its_start_builds_what_a_scan_finds) {
  test::TempDir dir;
  const std::string path = (dir.path() / "segment.evtl").string();
  std::optional<journal::detail::TimeIndexContent> built;
  {
    auto file = journal::detail::LogFile::create(path, JournalOptions::min_segment_bytes);
    ASSERT_TRUE(file.has_value()) << file.error().message();
    file->start_segment(0, journal::detail::new_journal_id());
    std::mt19937 random(5);
    for (std::uint64_t seq = 0; seq < 25'000;) {  // about 1 MiB: single records and batches
      const std::uint64_t batch = random() % 3 == 0 ? 1 + random() % 100 : 0;
      if (batch > 0) {
        ASSERT_TRUE(file->write_batch(records_of(seq, batch), std::uint32_t(batch)));
        seq += batch;
      } else {
        const auto payload = test::make_payload(seq, 24);
        ASSERT_TRUE(file->write_event(event::EventHeader(timestamp_of(seq), 1, 24), payload));
        ++seq;
      }
    }
    built = file->take_time_index();
  }
  ASSERT_TRUE(built.has_value());
  EXPECT_GE(built->entries.size(), 10u);
  ASSERT_TRUE(journal::detail::write_time_index_if_missing(path, std::nullopt));  // scanned
  expect_index_holds(path, *built);
}

TEST(time_index, a_segment_continued_after_an_open_builds_what_a_scan_finds) {
  test::TempDir dir;
  const std::string path = (dir.path() / "segment.evtl").string();
  constexpr std::uint64_t half = 12'000;  // about half a 1 MiB segment each time
  {
    auto file = journal::detail::LogFile::create(path, JournalOptions::min_segment_bytes);
    ASSERT_TRUE(file.has_value()) << file.error().message();
    file->start_segment(0, journal::detail::new_journal_id());
    ASSERT_TRUE(file->write_batch(records_of(0, half), std::uint32_t(half)));
  }
  std::optional<journal::detail::TimeIndexContent> built;
  {
    auto reopened = journal::detail::LogFile::open(path);  // its scan saw the first half
    ASSERT_TRUE(reopened.has_value()) << reopened.error().message();
    for (std::uint64_t seq = half; seq < 2 * half; ++seq) {
      const auto payload = test::make_payload(seq, 24);
      ASSERT_TRUE(reopened->write_event(event::EventHeader(timestamp_of(seq), 1, 24), payload));
    }
    built = reopened->take_time_index();
  }
  ASSERT_TRUE(built.has_value());
  EXPECT_EQ(built->end_sequence, 2 * half);
  ASSERT_TRUE(journal::detail::write_time_index_if_missing(path, std::nullopt));  // scanned
  expect_index_holds(path, *built);
}

// The journal's sealed segments, indexed from what their writer built: a scan finds the same.
TEST(time_index, a_journals_indexes_are_what_scans_of_its_segments_find) {
  test::TempDir dir;
  {
    auto journal = open_small_segments(dir.path());
    ASSERT_TRUE(journal.has_value());
    std::mt19937 random(9);
    for (std::uint64_t seq = 0; seq < total;) {
      const std::uint64_t batch = std::min<std::uint64_t>(1 + random() % 2000, total - seq);
      if (random() % 2 == 0) {
        ASSERT_TRUE(journal->append_records(records_of(seq, batch)));
        seq += batch;
      } else {
        const auto payload = test::make_payload(seq, 24);
        ASSERT_TRUE(journal->append(event::EventHeader(timestamp_of(seq), 1, 24), payload));
        ++seq;
      }
    }
    ASSERT_TRUE(journal->sync().has_value());
  }
  const auto segments = test::segment_paths(dir.path());
  ASSERT_GE(segments.size(), 4u);
  for (std::size_t i = 0; i + 1 < segments.size(); ++i) {
    const auto written = index_content(segments[i]);
    ASSERT_TRUE(written.has_value()) << segments[i];
    std::filesystem::remove(journal::detail::time_index_path(segments[i]));
    ASSERT_TRUE(journal::detail::write_time_index_if_missing(segments[i], std::nullopt));
    expect_index_holds(segments[i], *written);
  }
  expect_indexes_carry_the_maximum_before(dir.path());
}

TEST(time_seek, each_index_carries_the_greatest_timestamp_of_the_segments_before_it) {
  test::TempDir dir;
  write_journal(dir.path());
  expect_indexes_carry_the_maximum_before(dir.path());
}

TEST(time_seek, a_reopened_journal_indexes_the_sealed_segments_that_lack_one) {
  test::TempDir dir;
  write_journal(dir.path());
  auto indexes = indexes_in(dir.path());
  ASSERT_GE(indexes.size(), 3u);
  // Two gone, one of the format before (its header checksum does not cover the magic).
  std::filesystem::remove(indexes[0]);
  std::filesystem::remove(indexes[2]);
  std::vector<char> bytes = test::read_file(indexes[1]);
  bytes[7] = '1';
  test::write_file(indexes[1], bytes);
  ASSERT_FALSE(journal::detail::read_time_index_summary(indexes[1]).has_value());
  expect_seeks_land_right(dir.path());  // scanning where the indexes are missing
  auto journal = open_small_segments(dir.path());
  ASSERT_TRUE(journal.has_value());
  // The housekeeper writes them in the background: waited for, with a bound.
  const bool indexed = test::wait_until(std::chrono::seconds(20), [&] {
    return std::ranges::all_of(indexes, [](const std::filesystem::path& index) {
      return journal::detail::read_time_index_summary(index).has_value();
    });
  });
  ASSERT_TRUE(indexed) << "the reopened journal did not index its sealed segments";
  expect_indexes_carry_the_maximum_before(dir.path());
  expect_seeks_land_right(dir.path());
}

// Appending after such a reopen seals segments while the missing indexes are still being
// written: theirs learn the maximum before them too, once the older ones are there.
TEST(time_seek, segments_sealed_during_the_reindexing_at_open_get_the_maximum_too) {
  test::TempDir dir;
  write_journal(dir.path());
  for (const auto& index : indexes_in(dir.path())) std::filesystem::remove(index);
  auto journal = open_small_segments(dir.path());
  ASSERT_TRUE(journal.has_value());
  for (std::uint64_t seq = total; seq < total + 60'000; ++seq) {  // two more segments or so
    const auto payload = test::make_payload(seq, 24);
    ASSERT_TRUE(journal->append(event::EventHeader(timestamp_of(seq), 1, 24), payload));
  }
  ASSERT_TRUE(journal->sync().has_value());
  const auto segments = test::segment_paths(dir.path());
  ASSERT_GE(segments.size(), 7u);
  const bool indexed = test::wait_until(std::chrono::seconds(20), [&] {
    return std::all_of(segments.begin(), segments.end() - 1, [](const auto& segment) {
      const auto summary = journal::detail::read_time_index_summary(
          journal::detail::time_index_path(segment));
      return summary && summary->max_before.has_value();
    });
  });
  ASSERT_TRUE(indexed) << "a sealed segment's index never learned the maximum before it";
  expect_indexes_carry_the_maximum_before(dir.path());
}

TEST(time_seek, lands_where_the_running_maximum_reaches_the_time_across_segments) {
  test::TempDir dir;
  write_journal(dir.path());
  const auto segments = test::segment_paths(dir.path());
  ASSERT_GT(segments.size(), 4u);
  EXPECT_EQ(indexes_in(dir.path()).size(), segments.size() - 1)
      << "every sealed segment has its time index";
  expect_seeks_land_right(dir.path());
}

TEST(time_seek, without_its_indexes_or_with_damaged_ones_it_scans_to_the_same_answers) {
  test::TempDir dir;
  write_journal(dir.path());
  const auto indexes = indexes_in(dir.path());
  ASSERT_GE(indexes.size(), 3u);
  // One index damaged in its entries, one in its header, one gone.
  std::vector<char> bytes = test::read_file(indexes[0]);
  bytes[bytes.size() - 3] ^= 0x7f;
  test::write_file(indexes[0], bytes);
  bytes = test::read_file(indexes[1]);
  bytes[20] ^= 0x7f;
  test::write_file(indexes[1], bytes);
  std::filesystem::remove(indexes[2]);
  expect_seeks_land_right(dir.path());
}

TEST(time_seek, past_the_newest_event_it_waits_for_the_events_to_come) {
  test::TempDir dir;
  auto journal = open_small_segments(dir.path());
  ASSERT_TRUE(journal.has_value());
  for (std::uint64_t seq = 0; seq < 1'000; ++seq) {
    ASSERT_TRUE(journal->append(event::EventHeader(seq, 1, 0), {}));
  }
  auto reader = JournalReader::open(dir.path());
  ASSERT_TRUE(reader.has_value());
  reader->seek_time(5'000);
  EXPECT_FALSE(reader->next().has_value());
  EXPECT_EQ(reader->position(), 1'000u);
  ASSERT_TRUE(journal->append(event::EventHeader(7'000, 1, 0), {}));
  const auto next = reader->next();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->sequence, 1'000u);
}

// "So far" counts from the journal's first event: a segment retention removed still holds the
// seek's answer, and a seek for a time it had reached lands on the oldest event left.
TEST(time_seek, segments_retention_removed_do_not_move_where_a_seek_lands) {
  test::TempDir dir;
  // Event 100's clock is far ahead: the running maximum stays there for the rest.
  const auto timestamp = [](std::uint64_t seq) -> std::uint64_t {
    return seq == 100 ? 9'000'000 : 1'000 + seq;
  };
  write_journal(dir.path(), timestamp, /*keep_segments=*/2);
  auto reader = JournalReader::open(dir.path());
  ASSERT_TRUE(reader.has_value());
  const auto oldest_left = reader->next();
  ASSERT_TRUE(oldest_left.has_value());
  ASSERT_GT(oldest_left->sequence, 100u) << "event 100's segment was not removed";
  // Every event left is older than 5,000,000, yet the running maximum passed it at event 100.
  reader->seek_time(5'000'000);
  const auto landed = reader->next();
  ASSERT_TRUE(landed.has_value());
  EXPECT_EQ(landed->sequence, oldest_left->sequence);
  reader->seek_time(9'000'001);  // beyond the greatest timestamp ever: the end
  EXPECT_FALSE(reader->next().has_value());
  EXPECT_EQ(reader->position(), total);
}
