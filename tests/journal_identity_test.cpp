// One writer per journal and per log file, journals that know their own segments, and the
// agreement between what check_journal (`ringlog verify`) predicts and what a writer does, for
// every kind of damage.
#include <ringlog/journal.hpp>
#include <ringlog/log_file.hpp>

#include "journal/journal_directory.hpp"
#include "journal/file/log_format.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <functional>
#include <string>

using namespace ringlog;
using journal::Journal;
using journal::JournalOptions;
using journal::JournalReader;
using journal::LogErrc;

namespace {

constexpr std::size_t segment_bytes = JournalOptions::min_segment_bytes;
constexpr std::size_t payload_size = 100;  // 120-byte records: about 8700 to a segment

JournalOptions small_segments() {
  JournalOptions options;
  options.segment_bytes = segment_bytes;
  options.flush = journal::FlushPolicy::on_request();
  return options;
}

void append_events(Journal& journal, std::uint64_t count) {
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t seq = journal.next_sequence();
    const auto payload = test::make_payload(seq, payload_size);
    ASSERT_TRUE(journal.append(test::header_for(seq, payload.size()), payload)) << "event " << seq;
  }
}

// A journal of `count` events, every one durable.
void write_journal(const std::filesystem::path& dir, std::uint64_t count) {
  auto journal = Journal::open(dir, small_segments());
  ASSERT_TRUE(journal.has_value()) << journal.error().message();
  append_events(*journal, count);
  ASSERT_TRUE(journal->sync().has_value());
}

journal::detail::SegmentInfo info_of(const std::filesystem::path& segment) {
  const std::vector<char> bytes = test::read_file(segment);
  return journal::detail::segment_info(reinterpret_cast<const std::byte*>(bytes.data()));
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST(journal_identity, a_second_writer_in_this_process_is_refused_and_the_first_goes_on) {
  test::TempDir dir;
  auto first = Journal::open(dir.path(), small_segments());
  ASSERT_TRUE(first.has_value()) << first.error().message();
  append_events(*first, 1000);

  auto second = Journal::open(dir.path(), small_segments());
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, journal::make_error_code(LogErrc::writer_active));
  EXPECT_TRUE(contains(second.error().message(), dir.path().string()));
  EXPECT_TRUE(contains(second.error().message(), "process " + std::to_string(::getpid())))
      << second.error().message();

  // A preview of opening sees the writer, without taking its lock from it.
  const auto preview = journal::preview_open(dir.path());
  ASSERT_FALSE(preview.has_value());
  EXPECT_EQ(preview.error().message(), second.error().message());

  // Readers need no lock: they go on beside the writer.
  auto reader = JournalReader::open(dir.path());
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ(reader->replay([](const journal::JournalEvent&) {}), 1000u);
  EXPECT_TRUE(journal::check_journal(dir.path()).has_value());

  append_events(*first, 1000);
  ASSERT_TRUE(first->sync().has_value());
  first = std::unexpected(journal::Error{});  // closed: the lock goes with it
  const auto previewed = journal::preview_open(dir.path());
  ASSERT_TRUE(previewed.has_value()) << previewed.error().message();
  auto after = Journal::open(dir.path(), small_segments());
  ASSERT_TRUE(after.has_value()) << after.error().message();
  EXPECT_EQ(after->next_sequence(), 2000u);
  EXPECT_EQ(previewed->next_sequence, 2000u);
}

TEST(journal_identity, a_writer_in_another_process_is_named_and_its_lock_dies_with_it) {
  test::TempDir dir;
  int ready[2];
  int finish[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(finish), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto journal = Journal::open(dir.path(), small_segments());
    if (!journal) _exit(2);
    char byte = 1;
    if (::write(ready[1], &byte, 1) != 1) _exit(3);
    if (::read(finish[0], &byte, 1) != 1) _exit(4);  // held until the parent says so
    _exit(0);
  }
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1) << "the child did not open the journal";
  auto refused = Journal::open(dir.path(), small_segments());
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, journal::make_error_code(LogErrc::writer_active));
  EXPECT_TRUE(contains(refused.error().message(), "process " + std::to_string(child)))
      << refused.error().message();

  ASSERT_EQ(::write(finish[1], &byte, 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_TRUE(Journal::open(dir.path(), small_segments()).has_value())
      << "the lock ends with the process that held it";
  for (int fd : {ready[0], ready[1], finish[0], finish[1]}) ::close(fd);
}

TEST(journal_identity, a_second_writer_of_a_log_file_is_refused_before_it_truncates) {
  test::TempDir dir;
  const auto path = dir / "one.evtl";
  auto writer = journal::MmapWriter::create(path, 1 << 20);
  ASSERT_TRUE(writer.has_value()) << writer.error().message();
  for (std::uint64_t seq = 0; seq < 100; ++seq) {
    ASSERT_TRUE(writer->write_event(test::header_for(seq, 8), test::make_payload(seq, 8)));
  }
  ASSERT_TRUE(writer->sync().has_value());

  auto reopened = journal::MmapWriter::open(path);
  ASSERT_FALSE(reopened.has_value());
  EXPECT_EQ(reopened.error().code, journal::make_error_code(LogErrc::writer_active));
  auto recreated = journal::MmapWriter::create(path, 1 << 20);
  ASSERT_FALSE(recreated.has_value()) << "create would have truncated a file being written";
  EXPECT_TRUE(contains(recreated.error().message(), path.string()));
  EXPECT_EQ(journal::MmapReader::open(path)->event_count(), 100u) << "nothing was lost";
}

TEST(journal_identity, every_segment_carries_the_journals_id_and_a_new_journal_draws_another) {
  test::TempDir first;
  test::TempDir second;
  write_journal(first.path(), 30'000);
  write_journal(second.path(), 100);
  const auto segments = test::segment_paths(first.path());
  ASSERT_GT(segments.size(), 2u);
  const journal::detail::JournalId id = info_of(segments[0]).journal_id;
  EXPECT_TRUE(journal::detail::carries_id(id));
  for (const auto& segment : segments) {
    EXPECT_EQ(info_of(segment).journal_id, id) << segment;
    EXPECT_EQ(test::read_file(segment)[4], char(journal::file_version));
  }
  EXPECT_NE(info_of(test::segment_paths(second.path())[0]).journal_id, id);

  // Reopened, it keeps its id for the segments it adds.
  auto journal = Journal::open(first.path(), small_segments());
  ASSERT_TRUE(journal.has_value()) << journal.error().message();
  append_events(*journal, 20'000);
  ASSERT_TRUE(journal->sync().has_value());
  EXPECT_EQ(info_of(test::segment_paths(first.path()).back()).journal_id, id);
}

TEST(journal_identity, a_version_1_journal_still_opens_and_its_new_segments_carry_an_id) {
  test::TempDir dir;
  write_journal(dir.path(), 12'000);
  // What an earlier release wrote: format version 1, no id.
  for (const auto& segment : test::segment_paths(dir.path())) {
    std::vector<char> bytes = test::read_file(segment);
    auto* file = reinterpret_cast<std::byte*>(bytes.data());
    journal::detail::SegmentInfo info = journal::detail::segment_info(file);
    info.journal_id = {};
    journal::detail::store_segment_info(file, info);
    bytes[4] = 1;
    test::write_file(segment, bytes);
  }
  ASSERT_TRUE(journal::check_journal(dir.path())->problem.empty());
  auto journal = Journal::open(dir.path(), small_segments());
  ASSERT_TRUE(journal.has_value()) << journal.error().message();
  EXPECT_EQ(journal->next_sequence(), 12'000u);
  append_events(*journal, 20'000);
  ASSERT_TRUE(journal->sync().has_value());
  EXPECT_TRUE(journal::detail::carries_id(info_of(test::segment_paths(dir.path()).back()).journal_id));
  auto reader = JournalReader::open(dir.path());
  EXPECT_EQ(reader->replay([](const journal::JournalEvent&) {}), 32'000u);
  EXPECT_FALSE(reader->failure().has_value());
}

TEST(journal_identity, a_segment_of_another_journal_is_named_foreign_by_writer_reader_and_verify) {
  test::TempDir ours;
  test::TempDir theirs;
  write_journal(ours.path(), 30'000);
  write_journal(theirs.path(), 30'000);
  // Both journals name their segments alike: copy their second over ours.
  const auto victim = test::segment_paths(ours.path())[1];
  const auto intruder = test::segment_paths(theirs.path())[1];
  ASSERT_EQ(victim.filename(), intruder.filename());
  const std::string our_id = journal::detail::to_string(info_of(victim).journal_id);
  const std::string their_id = journal::detail::to_string(info_of(intruder).journal_id);
  std::filesystem::copy_file(intruder, victim, std::filesystem::copy_options::overwrite_existing);

  auto journal = Journal::open(ours.path(), small_segments());
  ASSERT_FALSE(journal.has_value());
  EXPECT_EQ(journal.error().code, journal::make_error_code(LogErrc::foreign_segment));
  EXPECT_TRUE(contains(journal.error().message(), our_id) &&
              contains(journal.error().message(), their_id) &&
              contains(journal.error().message(), victim.filename().string()))
      << journal.error().message();

  auto check = journal::check_journal(ours.path());
  ASSERT_TRUE(check.has_value());
  EXPECT_TRUE(check->foreign_segment);
  EXPECT_EQ(check->problem, journal.error().message());
  EXPECT_EQ(check->intact_events, std::stoull(victim.stem().string()))
      << "a reader stops where the foreign segment starts";

  auto reader = JournalReader::open(ours.path());
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ(reader->replay([](const journal::JournalEvent&) {}), check->intact_events);
  ASSERT_TRUE(reader->failure().has_value());
  EXPECT_EQ(reader->failure()->code, journal::make_error_code(LogErrc::foreign_segment));
  EXPECT_TRUE(contains(reader->failure()->message(), their_id));
}

// Every kind of damage: check_journal predicts exactly what Journal::open then does (the same
// refusal, or the same recovery), and the prediction holds in the directory afterwards.
enum class Writer { appends, clears_tail, sets_aside, refuses };

struct Damage {
  const char* name;
  std::function<void(const std::filesystem::path& dir)> inflict;
  Writer writer;  // what the writer does about it: the test also checks it noticed the damage
};

class verify_agrees_with_the_writer : public testing::TestWithParam<Damage> {};

// gtest prints parameters it cannot format as bytes; a damage prints as its name.
void PrintTo(const Damage& damage, std::ostream* out) { *out << damage.name; }

TEST_P(verify_agrees_with_the_writer, on) {
  test::TempDir dir;
  write_journal(dir.path(), 30'000);  // four segments, the newest partly filled
  GetParam().inflict(dir.path());

  const auto check = journal::check_journal(dir.path());
  ASSERT_TRUE(check.has_value()) << check.error().message();
  const auto writer = Journal::open(dir.path(), small_segments());
  ASSERT_EQ(check->writer.has_value(), writer.has_value())
      << (writer ? "verify predicted a refusal: " + check->problem
                 : "the writer refused: " + writer.error().message());
  if (!writer) {
    EXPECT_EQ(GetParam().writer, Writer::refuses);
    EXPECT_EQ(check->writer.error().message(), writer.error().message());
    EXPECT_EQ(check->problem, writer.error().message());
    return;
  }
  const journal::JournalRecovery& predicted = *check->writer;
  const journal::JournalRecovery& done = writer->recovery();
  EXPECT_EQ(GetParam().writer, done.cleared_tail         ? Writer::clears_tail
                               : !done.set_aside.empty() ? Writer::sets_aside
                                                         : Writer::appends);
  EXPECT_EQ(predicted.cleared_tail, done.cleared_tail);
  EXPECT_EQ(predicted.set_aside, done.set_aside);
  EXPECT_EQ(predicted.next_sequence, done.next_sequence);
  EXPECT_EQ(predicted.segments, done.segments);
  EXPECT_EQ(check->problem.empty(), std::string(GetParam().name) == "nothing")
      << "every damage is reported, nothing else: " << check->problem;
}

namespace {

std::filesystem::path nth_segment(const std::filesystem::path& dir, std::size_t n) {
  return test::segment_paths(dir).at(n);
}

void flip_byte(const std::filesystem::path& file, std::size_t offset) {
  std::vector<char> bytes = test::read_file(file);
  bytes.at(offset) ^= 0x20;
  test::write_file(file, bytes);
}

void tear_newest(const std::filesystem::path& dir) {
  // Appended past the durable checkpoint and never flushed, then torn in the middle.
  {
    auto journal = Journal::open(dir, small_segments());
    ASSERT_TRUE(journal.has_value());
    append_events(*journal, 500);
  }
  const auto newest = test::segment_paths(dir).back();
  std::vector<char> bytes = test::read_file(newest);
  const auto end = std::find_if(bytes.rbegin(), bytes.rend(), [](char c) { return c != 0; });
  bytes.at(static_cast<std::size_t>(bytes.rend() - end) - 30) ^= 0x01;
  test::write_file(newest, bytes);
}

void rename_segment(const std::filesystem::path& from, std::uint64_t first_sequence) {
  std::filesystem::rename(from, from.parent_path() /
                                    journal::detail::segment_file_name(first_sequence));
}

// A journal never flushed (no checkpoint holds an event), whose second segment is lost: what
// follows the gap holds no durable event.
void lose_a_segment_of_a_journal_never_flushed(const std::filesystem::path& dir) {
  std::filesystem::remove_all(dir);
  {
    auto journal = Journal::open(dir, small_segments());
    ASSERT_TRUE(journal.has_value());
    append_events(*journal, 30'000);
  }
  std::filesystem::remove(nth_segment(dir, 1));
}

const Damage damages[] = {
    {"nothing", [](const std::filesystem::path&) {}, Writer::appends},
    {"a_torn_tail_in_the_newest_segment", tear_newest, Writer::clears_tail},
    {"a_flipped_byte_below_the_newest_segments_checkpoint",
     [](const std::filesystem::path& dir) { flip_byte(test::segment_paths(dir).back(), 5000); },
     Writer::refuses},
    // Sealed segments are not re-read at open: verify reports it, the writer goes on.
    {"a_flipped_byte_below_a_sealed_segments_checkpoint",
     [](const std::filesystem::path& dir) { flip_byte(nth_segment(dir, 1), 5000); },
     Writer::appends},
    {"a_lost_middle_segment",
     [](const std::filesystem::path& dir) { std::filesystem::remove(nth_segment(dir, 1)); },
     Writer::refuses},
    {"a_lost_segment_before_segments_with_no_durable_event",
     lose_a_segment_of_a_journal_never_flushed, Writer::sets_aside},
    {"a_segment_renamed_to_start_later",
     [](const std::filesystem::path& dir) {
       rename_segment(nth_segment(dir, 2), std::stoull(nth_segment(dir, 2).stem()) + 7);
     },
     Writer::refuses},
    {"a_segment_renamed_to_start_earlier",
     [](const std::filesystem::path& dir) {
       const auto last = test::segment_paths(dir).back();
       rename_segment(last, std::stoull(last.stem()) - 7);
     },
     Writer::refuses},
    {"a_segment_header_with_another_journal_id",
     [](const std::filesystem::path& dir) {
       std::vector<char> bytes = test::read_file(nth_segment(dir, 2));
       bytes.at(offsetof(journal::FileHeader, reserved) + 20) ^= 0x5a;  // inside the id
       test::write_file(nth_segment(dir, 2), bytes);
     },
     Writer::refuses},
    {"a_segment_that_is_no_log_file",
     [](const std::filesystem::path& dir) {
       test::write_file(nth_segment(dir, 1), std::vector<char>(4096, 'x'));
     },
     Writer::refuses},
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(every_kind_of_damage, verify_agrees_with_the_writer,
                         testing::ValuesIn(damages),
                         [](const testing::TestParamInfo<Damage>& damage) {
                           return std::string(damage.param.name);
                         });
