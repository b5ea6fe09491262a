// The segmented journal: appends across segments, batches, retention and recycling, readers
// and tailers, and recovery from torn, corrupted and foreign directories.
#include <ringlog/journal.hpp>
#include <ringlog/journal_consumer.hpp>
#include <ringlog/ring.hpp>

#include "journal/journal_directory.hpp"
#include "journal/file/log_format.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <stdexcept>
#include <thread>

using namespace ringlog;
using storage::FlushPolicy;
using storage::Journal;
using storage::JournalEvent;
using storage::JournalOptions;
using storage::JournalReader;

namespace {

constexpr std::size_t segment_bytes = JournalOptions::min_segment_bytes;

JournalOptions small_segments(FlushPolicy flush = {}) {
  JournalOptions options;
  options.segment_bytes = segment_bytes;
  options.flush = flush;
  return options;
}

// Payload sizes vary with the sequence number, so that records of every alignment occur.
std::size_t payload_size_of(std::uint64_t sequence) { return 8 + sequence % 113; }

void append_events(Journal& journal, std::uint64_t count) {
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t seq = journal.next_sequence();
    const auto payload = test::make_payload(seq, payload_size_of(seq));
    ASSERT_TRUE(journal.append(test::header_for(seq, payload.size()), payload)) << "event " << seq;
  }
}

// Replays the journal and checks that it holds exactly events [from, end), each byte-exact.
void expect_events(const std::filesystem::path& dir, std::uint64_t from, std::uint64_t end) {
  auto reader = JournalReader::open(dir);
  ASSERT_TRUE(reader.has_value()) << reader.error().message();
  std::uint64_t expected = from;
  reader->replay_from(from, [&](const JournalEvent& event) {
    ASSERT_EQ(event.sequence, expected);
    ASSERT_EQ(event.view.header.timestamp, expected);
    ASSERT_EQ(event.view.payload.size(), payload_size_of(expected));
    ASSERT_TRUE(test::payload_matches(expected, event.view.payload)) << "event " << expected;
    ++expected;
  });
  EXPECT_EQ(expected, end);
}

std::vector<std::string> file_names(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Ring-framed records of events [first, first + count), as a ring's consumer would see them.
std::vector<std::byte> ring_records(std::uint64_t first, std::uint64_t count) {
  std::vector<std::byte> records;
  for (std::uint64_t seq = first; seq < first + count; ++seq) {
    const std::size_t size = payload_size_of(seq);
    const std::size_t at = records.size();
    records.resize(at + ringlog::detail::record_size(size));
    ringlog::detail::store_header(records.data() + at, test::header_for(seq, size));
    const auto payload = test::make_payload(seq, size);
    std::memcpy(records.data() + at + event::EventHeader::SIZE, payload.data(), size);
  }
  return records;
}

}  // namespace

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
    EXPECT_EQ(path.filename().string(), storage::detail::segment_file_name(first_in_next));
    auto file = storage::MmapReader::open(path);
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
    auto file = storage::MmapReader::open(path);
    ASSERT_TRUE(file.has_value());
    EXPECT_FALSE(file->scan().damaged) << path;
  }
  expect_events(dir.path(), 12'345, next);
}

TEST(journal, takes_events_from_the_dispatcher_in_runs_and_one_by_one) {
  test::TempDir dir;
  auto journal = Journal::open(dir.path(), small_segments());
  ASSERT_TRUE(journal.has_value());
  consumer::EventDispatcher dispatcher;
  dispatcher.add_consumer(consumer::JournalConsumer(*journal));
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

TEST(journal, wait_durable_sleeps_until_a_flush_covers_the_sequence) {
  test::TempDir dir;
  auto journal = Journal::open(dir.path(), small_segments(FlushPolicy::on_request()));
  ASSERT_TRUE(journal.has_value());
  append_events(*journal, 1'000);
  std::atomic<bool> returned{false};
  bool reached = false;
  std::thread gateway([&] {  // acknowledges the 1000th event once it is durable
    reached = journal->wait_durable(1'000, std::chrono::seconds(60));
    returned.store(true);
  });
  // Nothing flushes until asked: the waiter cannot have been let go yet.
  EXPECT_FALSE(returned.load());
  EXPECT_EQ(journal->durable_sequence(), 0u);
  ASSERT_TRUE(journal->sync().has_value());
  gateway.join();
  EXPECT_TRUE(reached);
  // A sequence not appended is never durable: the wait ends at its timeout, false.
  EXPECT_FALSE(journal->wait_durable(1'001, std::chrono::milliseconds(50)));
  EXPECT_TRUE(journal->wait_durable(1'000, std::chrono::milliseconds(0))) << "already durable";
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
  auto durable = JournalReader::open(dir.path(), storage::ReadLimit::durable);
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

TEST(journal, a_directory_that_is_not_a_journal_is_refused_untouched) {
  test::TempDir dir;
  test::write_file(dir / "notes.txt", {'h', 'i'});
  auto journal = Journal::open(dir.path());
  ASSERT_FALSE(journal.has_value());
  EXPECT_EQ(journal.error().code, storage::make_error_code(storage::LogErrc::not_a_journal));
  EXPECT_NE(journal.error().message().find("notes.txt"), std::string::npos)
      << journal.error().message();
  EXPECT_EQ(file_names(dir.path()), std::vector<std::string>{"notes.txt"});
  EXPECT_FALSE(JournalReader::open(dir.path()).has_value());

  // A segment-named file that is not a log: refused, and left as it was.
  test::TempDir other;
  const std::vector<char> junk(4096, 'x');
  test::write_file(other / storage::detail::segment_file_name(0), junk);
  auto opened = Journal::open(other.path());
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, storage::make_error_code(storage::LogErrc::not_a_log));
  EXPECT_EQ(test::read_file(other / storage::detail::segment_file_name(0)), junk);
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
        storage::FileHeader::SIZE + random() % (bytes.size() / 2 - storage::FileHeader::SIZE);
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
  bytes[storage::FileHeader::SIZE + 1000] ^= 0x40;
  test::write_file(path, bytes);
  auto journal = Journal::open(dir.path(), small_segments());
  ASSERT_FALSE(journal.has_value());
  EXPECT_EQ(journal.error().code,
            storage::make_error_code(storage::LogErrc::damaged_durable_data));
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
    storage::FileHeader header{};
    std::memcpy(&header, test::read_file(path).data(), sizeof header);
    return std::pair{header.event_count, header.write_offset};
  };
  const auto recorded = checkpoint_of(sealed);
  ASSERT_GT(recorded.first, 0u);
  {  // the state the kill left: no flush of this segment recorded
    std::vector<char> bytes = test::read_file(sealed);
    const std::uint64_t nothing_durable[2] = {0, storage::FileHeader::SIZE};
    std::memcpy(bytes.data() + offsetof(storage::FileHeader, event_count), nothing_durable,
                sizeof nothing_durable);
    test::write_file(sealed, bytes);
  }

  auto journal = Journal::open(dir.path(), small_segments(FlushPolicy::on_request()));
  ASSERT_TRUE(journal.has_value()) << journal.error().message();
  EXPECT_EQ(checkpoint_of(sealed), recorded);
  auto durable = JournalReader::open(dir.path(), storage::ReadLimit::durable);
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

namespace {

// Makes io_uring_setup fail with EPERM in this process from now on, as a container's seccomp
// profile does; false when the filter cannot be installed.
bool forbid_io_uring() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{static_cast<unsigned short>(std::size(filter)), filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
}


}  // namespace

TEST(journal, falls_back_to_a_flusher_thread_where_io_uring_is_forbidden) {
  test::TempDir dir;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (!forbid_io_uring()) _exit(10);
    JournalOptions demanding = small_segments();
    demanding.flush_backend = storage::FlushBackend::io_uring;
    if (Journal::open(dir / "demanding", demanding).has_value()) _exit(11);  // must say no
    auto journal = Journal::open(dir / "journal", small_segments());
    if (!journal) _exit(12);
    if (journal->flush_backend() != storage::FlushBackend::thread) _exit(13);
    if (journal->flush_backend_note().find("io_uring unavailable") == std::string::npos) _exit(14);
    for (std::uint64_t seq = 0; seq < 30'000; ++seq) {
      const auto payload = test::make_payload(seq, payload_size_of(seq));
      if (!journal->append(test::header_for(seq, payload.size()), payload)) _exit(15);
    }
    // The flusher thread, not sync(), makes everything durable.
    while (journal->durable_sequence() != journal->next_sequence()) {
      journal->sync_async();
      if (journal->failure()) _exit(16);
    }
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 10) GTEST_SKIP() << "cannot install a seccomp filter here";
  ASSERT_EQ(WEXITSTATUS(status), 0) << "see the exit codes in the child above";
  expect_events(dir / "journal", 0, 30'000);
}

// Cpus_allowed_list of each of this process's threads, by thread name.
std::multimap<std::string, std::string> allowed_cpus_by_thread() {
  std::multimap<std::string, std::string> allowed;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::ifstream status(task.path() / "status");
    std::string name;
    std::getline(comm, name);
    for (std::string line; std::getline(status, line);) {
      if (line.starts_with("Cpus_allowed_list:")) {
        allowed.emplace(name, line.substr(line.find_first_not_of(" \t", 18)));
      }
    }
  }
  return allowed;
}

// The journal's own threads, and io_uring's workers where fsync runs, stay on the housekeeping
// CPUs, away from the producer's and consumer's cores.
void check_housekeeping_cpus(storage::FlushBackend backend) {
  cpu_set_t usable;
  ASSERT_EQ(sched_getaffinity(0, sizeof usable, &usable), 0);
  if (CPU_COUNT(&usable) < 2) GTEST_SKIP() << "needs 2 CPUs: this process may use 1";
  int housekeeping = CPU_SETSIZE - 1;
  while (!CPU_ISSET(housekeeping, &usable)) --housekeeping;
  test::TempDir dir;
  JournalOptions options = small_segments(FlushPolicy::on_request());
  options.flush_backend = backend;
  options.housekeeping_cpus = {housekeeping};
  auto journal = Journal::open(dir / "journal", options);
  if (!journal && backend == storage::FlushBackend::io_uring) {
    GTEST_SKIP() << "io_uring is not available here: " << journal.error().message();
  }
  ASSERT_TRUE(journal.has_value()) << journal.error().message();
  const std::string cpu = std::to_string(housekeeping);
  EXPECT_NE(journal->flush_backend_note().find("CPUs " + cpu), std::string::npos)
      << journal->flush_backend_note();
  // Enough for a segment roll, so the housekeeper has worked, and flushes that the workers run
  // (sync() would call fdatasync itself).
  append_events(*journal, 20'000);
  while (journal->durable_sequence() != journal->next_sequence()) {
    journal->sync_async();
    ASSERT_FALSE(journal->failure().has_value()) << journal->failure()->message();
  }

  const auto allowed = allowed_cpus_by_thread();
  const std::string flusher =
      backend == storage::FlushBackend::io_uring ? "iou-wrk-" : "ringlog-flush";
  std::size_t flushers = 0;
  std::size_t housekeepers = 0;
  for (const auto& [name, cpus] : allowed) {
    if (name.starts_with(flusher)) ++flushers;
    if (name == "ringlog-segment") ++housekeepers;
    if (name.starts_with(flusher) || name == "ringlog-segment") {
      EXPECT_EQ(cpus, cpu) << "thread " << name;
    }
  }
  EXPECT_EQ(housekeepers, 1U);
  EXPECT_GE(flushers, 1U) << "no " << flusher << " thread ran the flushes";
}

TEST(journal, io_uring_workers_and_its_threads_run_on_the_housekeeping_cpus) {
  check_housekeeping_cpus(storage::FlushBackend::io_uring);
}

TEST(journal, the_flusher_thread_runs_on_the_housekeeping_cpus) {
  check_housekeeping_cpus(storage::FlushBackend::thread);
}

TEST(journal, a_full_disk_stops_it_with_a_clear_error_and_keeps_what_was_written) {
  test::SmallFileSystem disk(3 * segment_bytes + (256 << 10));
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a small tmpfs here: " << disk.error();
  std::uint64_t appended = 0;
  {
    auto journal = Journal::open(disk.path(), small_segments());
    ASSERT_TRUE(journal.has_value()) << journal.error().message();
    for (;;) {
      const std::uint64_t seq = journal->next_sequence();
      const auto payload = test::make_payload(seq, payload_size_of(seq));
      if (!journal->append(test::header_for(seq, payload.size()), payload)) break;
      if (seq % 256 == 0) journal->flush_if_due();
      ASSERT_LT(seq, 1'000'000u) << "the file system never filled";
    }
    ASSERT_TRUE(journal->failure().has_value());
    EXPECT_EQ(journal->failure()->code, std::errc::no_space_on_device)
        << journal->failure()->message();
    EXPECT_NE(journal->failure()->message().find("takes no more events"), std::string::npos)
        << journal->failure()->message();
    appended = journal->next_sequence();
    EXPECT_FALSE(journal->sync().has_value()) << "a failed journal does not claim durability";
    const auto payload = test::make_payload(appended, 8);
    EXPECT_FALSE(journal->append(test::header_for(appended, 8), payload));
  }
  ASSERT_GT(appended, 0u);
  expect_events(disk.path(), 0, appended);
  auto reopened = Journal::open(disk.path(), small_segments());
  ASSERT_TRUE(reopened.has_value()) << reopened.error().message();
  EXPECT_EQ(reopened->next_sequence(), appended);
}

namespace {

// cachestat(2), Linux 6.5: how many of a file's cached pages are dirty. Declared here because
// Debian bookworm's headers predate it.
struct CacheStat {
  std::uint64_t cached, dirty, writeback, evicted, recently_evicted;
};
std::optional<CacheStat> cache_stat(const std::filesystem::path& path) {
  constexpr long cachestat_syscall = 451;  // x86_64 and the generic table
  struct {
    std::uint64_t offset, length;  // 0, 0: the whole file
  } range{0, 0};
  CacheStat stat{};
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  const long result = ::syscall(cachestat_syscall, fd, &range, &stat, 0);
  ::close(fd);
  if (result != 0) return std::nullopt;
  return stat;
}

constexpr std::size_t pacing_test_window = std::size_t{4} << 20;

// Appends about `bytes` of events with flushes only on request, calling flush_if_due as a
// consumer does between batches; returns the newest segment's path.
std::filesystem::path append_without_flushing(const std::filesystem::path& dir,
                                              std::size_t pacing, std::size_t bytes) {
  JournalOptions options;
  options.segment_bytes = std::size_t{64} << 20;
  options.prepare_ahead_bytes = pacing_test_window;
  options.flush = FlushPolicy::on_request();
  options.writeback_every_bytes = pacing;
  auto journal = Journal::open(dir, options);
  if (!journal) throw std::runtime_error(journal.error().message());
  const auto payload = test::make_payload(0, 240);
  for (std::size_t written = 0; written < bytes; written += 256) {
    if (!journal->append(test::header_for(written, payload.size()), payload)) {
      throw std::runtime_error("the append at byte " + std::to_string(written) + " failed");
    }
    if (written % (64 << 10) == 0) journal->flush_if_due();
  }
  return test::segment_paths(dir).back();
}

}  // namespace

TEST(journal, writeback_pacing_keeps_dirty_pages_few) {
  constexpr std::size_t appended = std::size_t{32} << 20;
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  test::TempDir unpaced_dir;
  const auto unpaced = append_without_flushing(unpaced_dir.path(), 0, appended);
  const std::optional<CacheStat> left_alone = cache_stat(unpaced);
  if (!left_alone) GTEST_SKIP() << "no cachestat(2) here (Linux 6.5+): " << std::strerror(errno);
  if (left_alone->dirty * page < appended / 2) {
    GTEST_SKIP() << "this file system keeps few dirty pages anyway ("
                 << left_alone->dirty * page / 1024 << " KiB of 32 MiB)";
  }

  test::TempDir paced_dir;
  const auto paced = append_without_flushing(paced_dir.path(), 1 << 20, appended);
  // What may stay dirty: the pages prepared ahead of the writer (written as zeros, not yet
  // appended to) and the last megabyte or two appended since the last request.
  const std::uint64_t allowed = pacing_test_window + (std::size_t{2} << 20);
  // Writeback runs in the kernel after the request: wait for it, within reason.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::uint64_t dirty = UINT64_MAX;
  while (std::chrono::steady_clock::now() < deadline) {
    dirty = cache_stat(paced)->dirty * page;
    if (dirty <= allowed) break;
    std::this_thread::yield();
  }
  EXPECT_LE(dirty, allowed) << "writeback pacing left the pages dirty";
  EXPECT_LT(dirty * 4, left_alone->dirty * page);
}

// The pages ahead of the writer are the housekeeping thread's work: without it (a window of 0)
// the appending thread faults on every new page past the segment's first 4 MiB, which makes
// the fault-free test below mean something.
TEST(journal, without_pages_mapped_ahead_the_appender_faults) {
  if (test::sanitized) GTEST_SKIP() << "sanitizer shadow memory takes page faults of its own";
  test::TempDir dir;
  JournalOptions options;
  options.segment_bytes = std::size_t{64} << 20;
  options.flush = FlushPolicy::on_request();
  options.prepare_ahead_bytes = 0;
  auto journal = Journal::open(dir.path(), options);
  ASSERT_TRUE(journal.has_value());
  const std::vector<std::byte> run = ring_records(0, 1000);  // about 72 KiB
  const long before = test::thread_minor_faults();
  for (int i = 0; i < 200; ++i) {  // about 14 MiB
    ASSERT_TRUE(journal->append_records(run));
    journal->flush_if_due();
  }
  EXPECT_GT(test::thread_minor_faults() - before, 100);
}

TEST(journal, appends_take_no_page_fault_while_flushes_run_behind_them) {
  if (test::sanitized) GTEST_SKIP() << "sanitizer shadow memory takes page faults of its own";
  test::TempDir dir;
  JournalOptions options;
  options.segment_bytes = std::size_t{64} << 20;
  options.flush = {1 << 20, std::chrono::microseconds(0)};
  auto journal = Journal::open(dir.path(), options);
  ASSERT_TRUE(journal.has_value());
  const std::vector<std::byte> run = ring_records(0, 1000);  // about 72 KiB
  // Warm-up: the first appends run code, and touch the header page, for the first time.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(journal->append_records(run));
  journal->flush_if_due();

  // A consumer's shape: a batch, then the flush policy for a while (300 us, as if the ring were
  // empty). Flushes complete all along: had one covered the folio being written, the next
  // stores there would fault. It goes on until enough flushes have completed, however slow
  // this host's disk, within the segment's 64 MiB.
  long append_faults = 0;
  int flushes_completed = 0;
  int appends = 0;
  for (; appends < 500 || (flushes_completed < 10 && appends < 850); ++appends) {
    const long before = test::thread_minor_faults();
    ASSERT_TRUE(journal->append_records(run));
    append_faults += test::thread_minor_faults() - before;
    const std::uint64_t durable = journal->durable_sequence();
    const auto idle_until = std::chrono::steady_clock::now() + std::chrono::microseconds(300);
    while (std::chrono::steady_clock::now() < idle_until) journal->flush_if_due();
    flushes_completed += journal->durable_sequence() != durable ? 1 : 0;
  }
  EXPECT_GE(flushes_completed, 10) << "too few flushes completed for the test to mean much";
  ASSERT_TRUE(journal->sync().has_value());
  // A rare fault from the page cache's own folio layout is tolerated.
  EXPECT_LE(append_faults, 2);
  std::printf("%ld page faults in %d appends, flushes completed after %d of them\n",
              append_faults, appends, flushes_completed);
}
