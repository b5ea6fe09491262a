// A sealed segment's time index, as Kafka keeps one: beside "<segment>.evtl", a file
// "<segment>.evtl.tidx" with the segment's greatest timestamp and, every time_index_every_bytes,
// the unit boundary there, its sequence number and the greatest timestamp of the segment's events
// before it. Timestamps are opaque to the journal and may step backwards (publishers' clocks
// differ): the index keeps the running maximum, so that seeking finds the first event, in
// sequence order, whose timestamp is at or after the one asked for.
//
// Each index also carries the running maximum of the segments before it (taken from the index
// of the segment just before, when it was written), so that the greatest timestamp up to the
// end of each segment rises from segment to segment and seeking bisects the segments: a handful
// of small reads whatever the journal's length. Segments removed by retention later leave that
// maximum as it was: where a seek lands does not move as old segments go.
//
// The housekeeper writes it once a segment is sealed (all durable, no more appends), off the
// appending thread, from the entries the segment's writer collected as it appended (for a
// segment continued after an open, from the open's own scan on), and removes it with the
// segment; a journal opened again gets the indexes its sealed segments lack. It is a cache:
// missing, damaged, of an older format or written for another file of the same name, it is
// ignored and the segment scanned instead.
#pragma once

#include "journal/file/log_format.hpp"

#include <ringlog/detail/assert.hpp>

#include <algorithm>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <span>
#include <vector>

namespace ringlog::journal::detail {

inline constexpr char time_index_suffix[] = ".tidx";
inline constexpr std::size_t time_index_every_bytes = std::size_t{64} << 10;

std::filesystem::path time_index_path(const std::filesystem::path& segment);

struct TimeIndexEntry {
  std::uint64_t offset;          // a unit boundary in the segment
  std::uint64_t sequence;        // of the first event at or after it
  std::uint64_t max_before;      // the greatest timestamp of the segment's events before it
};

// What identifies the segment file an index was made from, and its greatest timestamps.
struct TimeIndexSummary {
  std::uint64_t first_sequence = 0;
  std::uint64_t end_sequence = 0;  // past its last event
  std::int64_t created_at = 0;     // the segment header's
  std::uint32_t record_seed = 0;
  std::uint64_t max_timestamp = 0;  // over all its events; 0 when it has none
  std::uint64_t entry_count = 0;
  // The greatest timestamp of the segments before it; unknown when the index of the segment
  // just before could not be read as this one was written (then seeking walks the segments).
  std::optional<std::uint64_t> max_before;

  // The greatest timestamp from the journal's start through this segment's last event.
  std::optional<std::uint64_t> max_through() const {
    if (!max_before) return std::nullopt;
    return std::max(*max_before, max_timestamp);
  }
};

// What a segment's index holds: entries every time_index_every_bytes at unit boundaries, the
// greatest timestamp, and the sequence number past the last event.
struct TimeIndexContent {
  std::vector<TimeIndexEntry> entries;
  std::uint64_t max_timestamp = 0;
  std::uint64_t end_sequence = 0;
};

// A segment's TimeIndexContent built as its writer appends each unit: the same entries a scan
// of the sealed segment finds, without reading 256 MiB back (a scan checks every record's
// checksum: half of the housekeeper's time in a recycled lap of `stress`). Its entries' room is
// made, and touched, with the segment's mapping, so that adding neither allocates nor faults.
class TimeIndexBuilder {
 public:
  // Room for the entries of a segment of `capacity` bytes; not yet building.
  void reserve_for(std::size_t capacity);
  // Building from the segment's first unit on, whose first event is `first_sequence`.
  void start(std::uint64_t first_sequence) noexcept;
  // The unit at offset `at`: `events` events whose greatest timestamp is `max_timestamp`.
  void add(std::size_t at, std::uint64_t events, std::uint64_t max_timestamp) noexcept {
    if (!building_) return;
    if (at >= next_entry_at_ && events > 0) {
      RINGLOG_ASSERT(entries_used_ < content_.entries.size(),
                     "entries are time_index_every_bytes apart within the reserved segment");
      content_.entries[entries_used_++] = {at, content_.end_sequence, content_.max_timestamp};
      next_entry_at_ = at + time_index_every_bytes;
    }
    content_.max_timestamp = std::max(content_.max_timestamp, max_timestamp);
    content_.end_sequence += events;
  }
  // A batch at offset `at` holding `records` (`events` of them): their greatest timestamp read.
  void add_batch(std::size_t at, std::span<const std::byte> records,
                 std::uint64_t events) noexcept;
  // The intact unit `unit` at offset `at` of `file`, as a scan finds it: a record, a batch, or
  // framing without events.
  void add_unit(std::span<const std::byte> file, std::size_t at, const Unit& unit) noexcept;
  // What was built since start(); nothing when it was not started (a file that is no segment).
  std::optional<TimeIndexContent> take();

 private:
  TimeIndexContent content_;  // its entries sized by reserve_for(), the first entries_used_ set
  std::size_t entries_used_ = 0;
  std::size_t next_entry_at_ = 0;
  bool building_ = false;
};

// Writes the time index of the sealed segment at `segment` unless it has one of this format,
// made from this very file and knowing the maximum before it, which it takes from the index of
// the segment before: `last_written` when that is the one, else the one in the directory. Its
// content is `built` where the writer built it, else a scan of the segment. Returns the index's
// summary as found or as written (also when the file could not be written: it is a cache), so
// that the next index can carry the maximum on; nothing when the segment cannot be read.
std::optional<TimeIndexSummary> write_time_index_if_missing(
    const std::filesystem::path& segment, const std::optional<TimeIndexSummary>& last_written,
    std::optional<TimeIndexContent> built = std::nullopt);

// The index's summary when the file is whole, of this format, and its header checksum holds.
std::optional<TimeIndexSummary> read_time_index_summary(const std::filesystem::path& index);
// Whether `summary` was made from the segment file now at `segment` (its header's identity).
bool time_index_fits(const std::filesystem::path& segment, const TimeIndexSummary& summary);
// Its entries when their checksum holds too.
std::optional<std::vector<TimeIndexEntry>> read_time_index_entries(
    const std::filesystem::path& index, const TimeIndexSummary&);

}  // namespace ringlog::journal::detail
