// Damaged files: torn tails, flipped bytes, lost pages, foreign files. A reader never hands out
// a damaged event, and a writer never buries durable events or resurrects stale ones.
#include <ringlog/log_file.hpp>

#include <ringlog/detail/crc32c.hpp>
#include "test_support.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

using namespace ringlog;
using journal::FileHeader;
using journal::MmapReader;
using journal::MmapWriter;
using test::header_for;
using test::make_payload;
using test::payload_matches;

namespace {

constexpr std::size_t record = 80;  // 16-byte header + 64-byte payload

// A log of `count` 64-byte events; the first `durable` of them synced (checkpointed).
std::filesystem::path make_log(const test::TempDir& dir, std::uint64_t count,
                               std::uint64_t durable, std::size_t capacity = 1 << 16) {
  const auto path = dir / "log.evtl";
  auto writer = MmapWriter::create(path, capacity);
  if (!writer) throw std::runtime_error(writer.error().message());
  for (std::uint64_t seq = 0; seq < count; ++seq) {
    if (!writer->write_event(header_for(seq, 64), make_payload(seq, 64))) {
      throw std::runtime_error("write failed");
    }
    if (seq + 1 == durable && !writer->sync()) throw std::runtime_error("sync failed");
  }
  return path;
}

std::size_t offset_of(std::uint64_t sequence) { return FileHeader::SIZE + sequence * record; }

// The timestamps a reader hands out, each checked to be intact.
std::vector<std::uint64_t> replay(const std::filesystem::path& path) {
  auto reader = MmapReader::open(path);
  if (!reader) throw std::runtime_error(reader.error().message());
  std::vector<std::uint64_t> seen;
  reader->replay([&](const event::EventView& view) {
    EXPECT_TRUE(payload_matches(view.header.timestamp, view.payload));
    seen.push_back(view.header.timestamp);
  });
  return seen;
}

// XORs one byte of the file with `mask`; returns the file's bytes as they are now.
std::vector<char> flip(const std::filesystem::path& path, std::size_t offset, char mask) {
  auto bytes = test::read_file(path);
  bytes.at(offset) = static_cast<char>(bytes.at(offset) ^ mask);
  test::write_file(path, bytes);
  return bytes;
}

std::vector<std::uint64_t> sequence(std::uint64_t first, std::uint64_t end) {
  std::vector<std::uint64_t> result;
  for (std::uint64_t seq = first; seq < end; ++seq) result.push_back(seq);
  return result;
}

}  // namespace

TEST(storage_damage, torn_tail_is_not_handed_out) {
  test::TempDir dir;
  const auto path = make_log(dir, 10, 0);
  // Cut the file in the middle of event 7's payload, as a crash during its write would.
  std::filesystem::resize_file(path, offset_of(7) + 40);
  EXPECT_EQ(replay(path), sequence(0, 7));
}

TEST(storage_damage, flipped_payload_byte_stops_the_reader_there) {
  test::TempDir dir;
  const auto path = make_log(dir, 10, 0);
  flip(path, offset_of(4) + 16 + 30, 0x01);
  const auto reader = MmapReader::open(path);
  ASSERT_TRUE(reader.has_value());
  EXPECT_TRUE(reader->scan().damaged);
  EXPECT_EQ(reader->scan().end_offset, offset_of(4));
  EXPECT_EQ(replay(path), sequence(0, 4));
}

TEST(storage_damage, flipped_header_byte_stops_the_reader_there) {
  test::TempDir dir;
  const auto path = make_log(dir, 10, 0);
  flip(path, offset_of(6) + 10, 0x40);  // payload_len: would misframe every later event
  EXPECT_EQ(replay(path), sequence(0, 6));
}

TEST(storage_damage, reopen_clears_a_damaged_tail_and_appends_after_the_intact_events) {
  test::TempDir dir;
  const auto path = make_log(dir, 10, 3);
  flip(path, offset_of(5) + 20, static_cast<char>(0xFF));
  {
    auto writer = MmapWriter::open(path);
    ASSERT_TRUE(writer.has_value()) << writer.error().message();
    EXPECT_TRUE(writer->recovery().damaged);
    EXPECT_EQ(writer->event_count(), 5u);
    for (std::uint64_t seq = 100; seq < 103; ++seq) {
      ASSERT_TRUE(writer->write_event(header_for(seq, 64), make_payload(seq, 64)));
    }
  }
  auto expected = sequence(0, 5);
  for (std::uint64_t seq = 100; seq < 103; ++seq) expected.push_back(seq);
  EXPECT_EQ(replay(path), expected);
}

TEST(storage_damage, a_lost_page_never_resurrects_later_events) {
  test::TempDir dir;
  const auto path = make_log(dir, 6, 0);
  // Event 2 never reached the disk but events 3..5 did (writeback is not in order).
  auto bytes = test::read_file(path);
  std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(offset_of(2)),
            bytes.begin() + static_cast<std::ptrdiff_t>(offset_of(3)), 0);
  test::write_file(path, bytes);
  EXPECT_EQ(replay(path), sequence(0, 2));
  {
    auto writer = MmapWriter::open(path);
    ASSERT_TRUE(writer.has_value()) << writer.error().message();
    EXPECT_FALSE(writer->recovery().damaged) << "unwritten space is not damage";
    ASSERT_TRUE(writer->write_event(header_for(50, 64), make_payload(50, 64)));
  }
  // Event 50 took event 2's place; the stale events 3..5 behind it must stay gone.
  EXPECT_EQ(replay(path), (std::vector<std::uint64_t>{0, 1, 50}));
}

TEST(storage_damage, damage_below_the_durable_checkpoint_refuses_to_append) {
  test::TempDir dir;
  const auto path = make_log(dir, 10, 8);
  const auto bytes = flip(path, offset_of(3) + 40, 0x10);
  const auto writer = MmapWriter::open(path);
  ASSERT_FALSE(writer.has_value());
  EXPECT_EQ(writer.error().code, journal::LogErrc::damaged_durable_data);
  EXPECT_NE(writer.error().message().find("refusing to append"), std::string::npos);
  EXPECT_EQ(test::read_file(path), bytes) << "the file must be left as it was";
  EXPECT_EQ(replay(path), sequence(0, 3));
}

TEST(storage_damage, wrong_magic_and_version_are_errors) {
  test::TempDir dir;
  const auto path = make_log(dir, 3, 3);
  const auto good = test::read_file(path);

  auto bad_magic = good;
  bad_magic[0] = 'X';
  test::write_file(path, bad_magic);
  auto opened = MmapReader::open(path);
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, journal::LogErrc::not_a_log);
  EXPECT_FALSE(MmapWriter::open(path).has_value());
  EXPECT_EQ(test::read_file(path), bad_magic) << "a foreign file is never modified";

  auto bad_version = good;
  bad_version[4] = journal::file_version + 1;  // from a later release
  test::write_file(path, bad_version);
  opened = MmapReader::open(path);
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, journal::LogErrc::unsupported_version);
  EXPECT_NE(opened.error().message().find(fmt::format("version {}", journal::file_version + 1)),
            std::string::npos);
  EXPECT_FALSE(MmapWriter::open(path).has_value());
}

TEST(storage_damage, short_and_empty_files_are_errors) {
  test::TempDir dir;
  for (std::size_t size : {0ul, 1ul, 10ul, 63ul}) {
    const auto path = dir / "short.evtl";
    auto bytes = std::vector<char>(size, 0);
    if (size >= 4) std::copy_n("EVTL", 4, bytes.begin());
    test::write_file(path, bytes);
    const auto reader = MmapReader::open(path);
    ASSERT_FALSE(reader.has_value()) << size;
    EXPECT_EQ(reader.error().code, journal::LogErrc::truncated) << size;
    EXPECT_NE(reader.error().message().find("shorter than the 64-byte file header"),
              std::string::npos);
    EXPECT_FALSE(MmapWriter::open(path).has_value());
  }
}

TEST(storage_damage, random_bytes_after_a_valid_header_yield_nothing) {
  test::TempDir dir;
  const auto path = make_log(dir, 0, 0, 1 << 16);
  auto bytes = test::read_file(path);
  std::mt19937 random(7);
  for (std::size_t i = FileHeader::SIZE; i < bytes.size(); ++i) {
    bytes[i] = static_cast<char>(random());
  }
  test::write_file(path, bytes);
  const auto reader = MmapReader::open(path);
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ(reader->event_count(), 0u);
  EXPECT_TRUE(reader->scan().damaged);
}

TEST(storage_damage, huge_length_near_the_end_is_not_followed) {
  test::TempDir dir;
  const auto path = make_log(dir, 2, 0, FileHeader::SIZE + 3 * record);
  auto bytes = test::read_file(path);
  // A well-formed header whose 65535-byte payload would run far past the end of the file.
  auto header = header_for(2, 65535);
  const std::uint32_t over_header = detail::crc32c(0, &header, 12);
  header.reserved = over_header;
  std::memcpy(bytes.data() + offset_of(2), &header, sizeof header);
  test::write_file(path, bytes);
  EXPECT_EQ(replay(path), sequence(0, 2));
}
