// The on-disk rules shared by log files and journal segments: header checks, the records'
// checksums, how a writer publishes a record, and the scan that finds where intact records end.
//
// A file holds two kinds of units after its header: a single record, whose header.reserved is
// the CRC-32C of its first 12 header bytes and its payload, and a batch: a framing record
// (FramingKind::batch) whose 8-byte payload holds the CRC-32C and the event count of the run of
// records that follows it, and whose timestamp field holds that run's length in bytes. Records
// inside a batch carry whatever their reserved field held in the ring; the batch checksum covers
// them. Every checksum starts from the file's record seed (SegmentInfo), so records left over in a
// recycled segment never pass for new ones.
//
// Zeroed bytes never pass for a record (format version 3 on). A checksum is stored as computed,
// except that a computed zero is stored as ~0: no stored checksum is zero, and a header of zero
// bytes, whose checksum field is zero, fails its check whatever the seed. Without that rule
// (versions 1 and 2) the seed of one first sequence in 2^32 gives 12 zero header bytes a CRC of
// zero, so a zeroed header passed for an empty event; in files of those versions a header of 16
// zero bytes is therefore never taken for a record, so they end where zeroed bytes begin. (What
// that costs such a file: an event written with timestamp 0, type 0, flags 0 and no payload in a
// segment of that one seed reads as the segment's end.)
#pragma once

#include <ringlog/log_file.hpp>

#include <array>
#include <atomic>
#include <cstring>
#include <functional>
#include <optional>
#include <span>
#include <string>

namespace ringlog::journal::detail {

// A journal's identity: a random 128-bit number drawn when the journal is made, in the header of
// every segment it writes (format version 2), so that a segment of another journal is told
// apart by more than its sequence numbers. All zero in a version-1 segment, which carries none.
using JournalId = std::array<std::uint8_t, 16>;
JournalId new_journal_id();                  // from getrandom(2)
std::string to_string(const JournalId&);     // 32 hex digits
inline bool carries_id(const JournalId& id) noexcept { return id != JournalId{}; }

// What the library keeps in FileHeader::reserved. A plain log file leaves it zero.
struct SegmentInfo {
  std::uint64_t first_sequence = 0;  // the sequence number of the file's first event
  std::uint32_t record_seed = 0;     // where every checksum in the file starts
  std::uint32_t flags = 0;
  JournalId journal_id{};            // zero before format version 2
};
static_assert(sizeof(SegmentInfo) == sizeof(FileHeader::reserved));
// Set once a journal has given the segment its first sequence number and started writing to it.
inline constexpr std::uint32_t segment_in_use = 1;

SegmentInfo segment_info(const std::byte* file) noexcept;
void store_segment_info(std::byte* file, const SegmentInfo&) noexcept;
// A seed no other segment of the same journal shares.
std::uint32_t segment_seed(std::uint64_t first_sequence) noexcept;

// How a file's checksums are made: where they start, and whether a zero is stored as ~0 (a file
// of version 3 on) or as it is (versions 1 and 2, read with the zero-header rule above).
struct ChecksumRule {
  std::uint32_t seed = 0;
  bool never_zero = true;
};
ChecksumRule checksum_rule(const std::byte* file) noexcept;  // from the file's header

// The checksum a single record carries in header.reserved.
std::uint32_t record_checksum(const event::EventHeader&, std::span<const std::byte> payload,
                              ChecksumRule rule);

inline constexpr std::size_t batch_header_bytes = 24;  // a framing record with 8 payload bytes

// The header of a batch that covers `records`, `event_count` events.
event::EventHeader batch_header(std::span<const std::byte> records, std::uint32_t event_count,
                                ChecksumRule rule, std::byte* batch_payload) noexcept;

// Records are written and read as a concurrent writer publishes them: see publish_header() in
// ringlog/detail/framing.hpp.
using ringlog::detail::load_published_header;
using ringlog::detail::publish_header;

// An Error when `file` does not start with a ringlog header of a version this build reads.
std::optional<Error> check_file_header(std::span<const std::byte> file, const std::string& path);

// One intact unit: a record, or a batch with its records.
struct Unit {
  std::size_t size;      // bytes, batch header included
  std::uint32_t events;  // events in it, framing not counted
};
// The unit at offset `at` of `file` if it is whole and intact, read as a concurrent writer
// publishes it.
std::optional<Unit> check_unit(std::span<const std::byte> file, std::size_t at,
                               ChecksumRule rule) noexcept;

// Walks the units from offset `from` (a unit boundary after the header) and stops at the first
// that is not intact; event_count counts the events from `from` on. `on_unit(at, unit)`, where
// given, sees each intact unit.
using UnitVisitor = std::function<void(std::size_t at, const Unit&)>;
ScanResult scan_records(std::span<const std::byte> file, std::size_t from = FileHeader::SIZE,
                        const UnitVisitor& on_unit = {}) noexcept;

FileHeader new_file_header() noexcept;

// An Error when the checkpoint in `header` promises more than the intact records of file `name`
// (`scan`, from its start) hold: events reported durable are gone or damaged, and appending
// would bury the evidence.
std::optional<Error> checkpoint_beyond_records(const FileHeader& header, const ScanResult& scan,
                                               const std::string& name);

}  // namespace ringlog::journal::detail
