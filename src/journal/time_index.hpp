// A sealed segment's time index, as Kafka keeps one: beside "<segment>.evtl", a file
// "<segment>.evtl.tidx" with the segment's greatest timestamp and, every time_index_every_bytes,
// the unit boundary there, its sequence number and the greatest timestamp of the segment's events
// before it. Timestamps are opaque to the journal and may step backwards (publishers' clocks
// differ): the index keeps the running maximum, so that seeking finds the first event, in
// sequence order, whose timestamp is at or after the one asked for.
//
// The housekeeper writes it once a segment is sealed (all durable, no more appends), off the
// appending thread, and removes it with the segment. It is a cache: missing, damaged or written
// for another file of the same name, it is ignored and the segment scanned instead.
#pragma once

#include "journal/file/log_format.hpp"

#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <vector>

namespace ringlog::storage::detail {

inline constexpr char time_index_suffix[] = ".tidx";
inline constexpr std::size_t time_index_every_bytes = std::size_t{64} << 10;

std::filesystem::path time_index_path(const std::filesystem::path& segment);

struct TimeIndexEntry {
  std::uint64_t offset;          // a unit boundary in the segment
  std::uint64_t sequence;        // of the first event at or after it
  std::uint64_t max_before;      // the greatest timestamp of the segment's events before it
};

// What identifies the segment file an index was made from, and its greatest timestamp.
struct TimeIndexSummary {
  std::uint64_t first_sequence = 0;
  std::int64_t created_at = 0;     // the segment header's
  std::uint32_t record_seed = 0;
  std::uint64_t max_timestamp = 0;  // over all its events; 0 when it has none
  std::uint64_t entry_count = 0;
};

// Scans the sealed segment at `segment` (mapped read-only here) and writes its index beside it
// (a new file renamed into place; no fdatasync: it is a cache).
std::expected<void, Error> write_time_index(const std::filesystem::path& segment);

// The index's summary when the file is whole and its header checksum holds.
std::optional<TimeIndexSummary> read_time_index_summary(const std::filesystem::path& index);
// Its entries when their checksum holds too.
std::optional<std::vector<TimeIndexEntry>> read_time_index_entries(
    const std::filesystem::path& index, const TimeIndexSummary&);

}  // namespace ringlog::storage::detail
