// Opening a journal that was left damaged: a directory that is not a journal, torn and corrupted
// tails, damage below the durable checkpoint, a checkpoint a killed writer left short, and
// segments after a lost one.
#include <ringlog/journal.hpp>

#include "journal/journal_directory.hpp"
#include "journal/file/log_format.hpp"
#include "journal_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

using namespace ringlog;
using journal::FlushPolicy;
using journal::Journal;
using journal::JournalEvent;
using journal::JournalReader;
using test::append_events, test::expect_events, test::file_names, test::segment_bytes,
    test::small_segments;

TEST(journal, a_directory_that_is_not_a_journal_is_refused_untouched) {
  test::TempDir dir;
  test::write_file(dir / "notes.txt", {'h', 'i'});
  auto journal = Journal::open(dir.path());
  ASSERT_FALSE(journal.has_value());
  EXPECT_EQ(journal.error().code, journal::make_error_code(journal::LogErrc::not_a_journal));
  EXPECT_NE(journal.error().message().find("notes.txt"), std::string::npos)
      << journal.error().message();
  EXPECT_EQ(file_names(dir.path()), std::vector<std::string>{"notes.txt"});
  EXPECT_FALSE(JournalReader::open(dir.path()).has_value());

  // A segment-named file that is not a log: refused, and left as it was.
  test::TempDir other;
  const std::vector<char> junk(4096, 'x');
  test::write_file(other / journal::detail::segment_file_name(0), junk);
  auto opened = Journal::open(other.path());
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, journal::make_error_code(journal::LogErrc::not_a_log));
  EXPECT_EQ(test::read_file(other / journal::detail::segment_file_name(0)), junk);
}

TEST(journal, torn_and_corrupted_tails_recover_to_the_last_intact_event) {
  std::mt19937 random(99);
  for (int round = 0; round < 20; ++round) {
    test::TempDir dir;
    constexpr std::uint64_t total = 25'000;
    {
      // Flushes only on request and none requested: nothing is durable, any byte may be lost.
      auto journal = Journal::open(dir.path(), small_segments(FlushPolicy::on_request()));
      ASSERT_TRUE(journal.has_value());
      append_events(*journal, total);
    }
    const auto segments = test::segment_paths(dir.path());
    const auto& victim = segments[random() % segments.size()];
    std::vector<char> bytes = test::read_file(victim);
    const std::size_t offset =
        journal::FileHeader::SIZE + random() % (bytes.size() / 2 - journal::FileHeader::SIZE);
    if (round % 2 == 0) {
      bytes[offset] = static_cast<char>(bytes[offset] ^ (1 + random() % 255));  // a flipped byte
    } else {
      std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(offset), bytes.end(), 0);  // torn
    }
    test::write_file(victim, bytes);

    // What a reader sees before recovery is what survives it: the events up to the damage.
    std::uint64_t intact = 0;
    JournalReader::open(dir.path())->replay([&](const JournalEvent& event) {
      ASSERT_EQ(event.sequence, intact);
      ASSERT_TRUE(test::payload_matches(intact, event.view.payload));
      ++intact;
    });
    ASSERT_LT(intact, total) << "round " << round << ": the damage went unnoticed";

    auto journal = Journal::open(dir.path(), small_segments(FlushPolicy::on_request()));
    ASSERT_TRUE(journal.has_value()) << journal.error().message();
    EXPECT_EQ(journal->next_sequence(), intact) << journal->recovery().summary();
    // Zeros from a record boundary on at the end of the newest segment look like space never
    // written to; anything else is reported.
    if (round % 2 == 0 || victim != segments.back()) {
      EXPECT_FALSE(journal->recovery().clean()) << journal->recovery().summary();
    }
    append_events(*journal, 100);
    ASSERT_TRUE(journal->sync().has_value());
    expect_events(dir.path(), 0, intact + 100);
  }
}

TEST(journal, damage_below_the_durable_checkpoint_is_refused) {
  test::TempDir dir;
  {
    auto journal = Journal::open(dir.path(), small_segments());
    ASSERT_TRUE(journal.has_value());
    append_events(*journal, 2'000);
    ASSERT_TRUE(journal->sync().has_value());
    append_events(*journal, 1);  // its flush carries the checkpoint of the ones before
    ASSERT_TRUE(journal->sync().has_value());
  }
  const auto path = test::segment_paths(dir.path()).back();
  std::vector<char> bytes = test::read_file(path);
  bytes[journal::FileHeader::SIZE + 1000] ^= 0x40;
  test::write_file(path, bytes);
  auto journal = Journal::open(dir.path(), small_segments());
  ASSERT_FALSE(journal.has_value());
  EXPECT_EQ(journal.error().code,
            journal::make_error_code(journal::LogErrc::damaged_durable_data));
  EXPECT_EQ(test::read_file(path), bytes) << "a refused journal is left as it was";
}

// A writer killed after a segment's last flush was issued but before its checkpoint was
// recorded leaves a sealed segment whose checkpoint stops short. Its records are the journal's;
// the next writer makes them durable and records the checkpoint, or a reader limited to durable
// events would stop there for good (the shipper did, under a SIGKILLed service).
TEST(journal, reopening_records_the_checkpoint_a_killed_writer_left_short) {
  test::TempDir dir;
  {
    auto journal = Journal::open(dir.path(), small_segments(FlushPolicy::on_request()));
    ASSERT_TRUE(journal.has_value());
    append_events(*journal, 3 * segment_bytes / 64);
    ASSERT_GT(journal->segment_count(), 2u);
    ASSERT_TRUE(journal->sync().has_value());
  }
  const auto sealed = test::segment_paths(dir.path())[1];
  const std::uint64_t first = std::stoull(sealed.filename().string());
  const auto checkpoint_of = [](const std::filesystem::path& path) {
    journal::FileHeader header{};
    std::memcpy(&header, test::read_file(path).data(), sizeof header);
    return std::pair{header.event_count, header.write_offset};
  };
  const auto recorded = checkpoint_of(sealed);
  ASSERT_GT(recorded.first, 0u);
  {  // the state the kill left: no flush of this segment recorded
    std::vector<char> bytes = test::read_file(sealed);
    const std::uint64_t nothing_durable[2] = {0, journal::FileHeader::SIZE};
    std::memcpy(bytes.data() + offsetof(journal::FileHeader, event_count), nothing_durable,
                sizeof nothing_durable);
    test::write_file(sealed, bytes);
  }

  auto journal = Journal::open(dir.path(), small_segments(FlushPolicy::on_request()));
  ASSERT_TRUE(journal.has_value()) << journal.error().message();
  EXPECT_EQ(checkpoint_of(sealed), recorded);
  auto durable = JournalReader::open(dir.path(), journal::ReadLimit::durable);
  ASSERT_TRUE(durable.has_value());
  durable->seek(first);
  std::uint64_t read = 0;
  durable->poll([&](const JournalEvent&) { ++read; });
  EXPECT_EQ(durable->position(), journal->durable_sequence())
      << "a durable reader stopped inside the sealed segment, " << read << " events past "
      << first;
}

TEST(journal, segments_after_a_gap_are_set_aside) {
  test::TempDir dir;
  {
    auto journal = Journal::open(dir.path(), small_segments(FlushPolicy::on_request()));
    ASSERT_TRUE(journal.has_value());
    append_events(*journal, 40'000);
  }
  auto segments = test::segment_paths(dir.path());
  ASSERT_GE(segments.size(), 3u);
  std::filesystem::remove(segments[1]);  // a lost file: later events follow a gap
  auto journal = Journal::open(dir.path(), small_segments(FlushPolicy::on_request()));
  ASSERT_TRUE(journal.has_value()) << journal.error().message();
  const std::uint64_t first_lost = std::stoull(segments[1].filename().string());
  EXPECT_EQ(journal->next_sequence(), first_lost);
  EXPECT_EQ(journal->recovery().set_aside.size(), segments.size() - 2);
  EXPECT_TRUE(std::filesystem::exists(segments[2].string() + ".dropped"));
  expect_events(dir.path(), 0, first_lost);
}

