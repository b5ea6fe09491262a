// Tier: suite. Zeroed bytes never pass for a record: a stored checksum is never zero (format
// version 3), so a zeroed header fails its check for every seed, the one seed where its CRC is
// zero included; files of earlier versions read a zeroed header as their end.
#include <ringlog/journal.hpp>

#include "journal/file/log_format.hpp"
#include "test_support.hpp"

#include <ringlog/detail/crc32c.hpp>

#include <gtest/gtest.h>

#include <array>
#include <random>
#include <vector>

using namespace ringlog;
using journal::Journal;
using journal::JournalOptions;
using journal::JournalReader;
namespace format = journal::detail;

namespace {

// The first sequence whose segment seed gives 12 zero header bytes a CRC-32C of zero.
constexpr std::uint64_t zero_crc_first_sequence = 2714851057;

// A file image: a header of `version` with `seed`, then zeroed bytes.
std::vector<std::byte> zeroed_file(std::uint32_t version, std::uint32_t seed) {
  std::vector<std::byte> file(4096);
  journal::FileHeader header = format::new_file_header();
  header.version = version;
  std::memcpy(file.data(), &header, sizeof header);
  format::store_segment_info(file.data(), {zero_crc_first_sequence, seed, format::segment_in_use,
                                           {}});
  return file;
}

JournalOptions starting_at(std::uint64_t first_sequence) {
  JournalOptions options;
  options.segment_bytes = JournalOptions::min_segment_bytes;
  options.flush = journal::FlushPolicy::on_request();
  options.first_sequence = first_sequence;
  return options;
}

}  // namespace

TEST(zeroed_bytes, the_seed_where_a_zeroed_header_has_a_zero_crc_exists) {
  // Why the rule is needed: a CRC is affine in its seed, so some seed makes any fixed bytes
  // check out to zero. This is the one for a zeroed header.
  const std::uint32_t seed = format::segment_seed(zero_crc_first_sequence);
  const std::array<std::byte, 12> zeros{};
  EXPECT_EQ(ringlog::detail::crc32c(seed, zeros.data(), zeros.size()), 0u);
}

TEST(zeroed_bytes, no_stored_checksum_is_zero_so_a_zeroed_header_never_passes) {
  const std::uint32_t seed = format::segment_seed(zero_crc_first_sequence);
  const format::ChecksumRule rule{seed, true};
  EXPECT_EQ(format::record_checksum(event::EventHeader{}, {}, rule), ~std::uint32_t{0})
      << "the CRC of zero is stored as ~0";
  const std::vector<std::byte> file = zeroed_file(journal::file_version, seed);
  EXPECT_FALSE(format::check_unit(file, journal::FileHeader::SIZE, format::checksum_rule(
                                                                       file.data())));
  EXPECT_EQ(format::scan_records(file).event_count, 0u);
}

TEST(zeroed_bytes, files_of_earlier_versions_end_where_zeroed_bytes_begin) {
  const std::uint32_t seed = format::segment_seed(zero_crc_first_sequence);
  for (const std::uint32_t version : {1u, 2u}) {
    const std::vector<std::byte> file = zeroed_file(version, seed);
    const format::ChecksumRule rule = format::checksum_rule(file.data());
    EXPECT_FALSE(rule.never_zero);
    EXPECT_EQ(format::record_checksum(event::EventHeader{}, {}, rule), 0u)
        << "as those versions wrote it: the zeroed header's checksum matches";
    EXPECT_FALSE(format::check_unit(file, journal::FileHeader::SIZE, rule)) << "version " << version;
    EXPECT_EQ(format::scan_records(file).event_count, 0u);
  }
}

TEST(zeroed_bytes, a_reopened_journal_holds_exactly_the_events_written_at_any_first_sequence) {
  std::mt19937_64 random(20261207);
  std::vector<std::uint64_t> firsts = {zero_crc_first_sequence};
  for (int i = 0; i < 200; ++i) firsts.push_back(random() >> 1);
  for (const std::uint64_t first : firsts) {
    test::TempDir dir;
    {
      auto journal = Journal::open(dir.path(), starting_at(first));
      ASSERT_TRUE(journal.has_value()) << journal.error().message();
      const auto payload = test::make_payload(first, 24);
      ASSERT_TRUE(journal->append(test::header_for(first, payload.size()), payload));
      ASSERT_TRUE(journal->sync().has_value());
    }
    auto reopened = Journal::open(dir.path(), starting_at(first));
    ASSERT_TRUE(reopened.has_value()) << reopened.error().message();
    EXPECT_EQ(reopened->next_sequence(), first + 1) << "first sequence " << first;
    auto reader = JournalReader::open(dir.path());
    ASSERT_TRUE(reader.has_value());
    EXPECT_EQ(reader->replay([](const journal::JournalEvent&) {}), 1u) << "first sequence " << first;
  }
}
