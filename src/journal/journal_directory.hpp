// The files of a journal directory: segments named by their first sequence number, the
// segment being prepared ahead of need, and the spare a recycled segment waits in.
#pragma once

#include <ringlog/log_file.hpp>

#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ringlog::journal::detail {

inline constexpr char prepared_segment_name[] = "next-segment.prepared";
inline constexpr char spare_segment_name[] = "recycled-segment.spare";
inline constexpr char dropped_suffix[] = ".dropped";  // segments recovery set aside
inline constexpr char lock_file_name[] = "journal.lock";  // the writer's flock(2)
inline constexpr char readers_directory_name[] = "readers";  // named readers' cursors
// The payload schema the tools and the Python reader decode events with (src/schema/), and the
// file it is written to before it replaces the old one. The journal itself never reads it.
inline constexpr char schema_file_name[] = "schema.toml";
inline constexpr char schema_replacement_name[] = "schema.toml.new";

// "00000000000000001234.evtl": fixed width, so that names sort as numbers.
std::string segment_file_name(std::uint64_t first_sequence);

struct SegmentEntry {
  std::uint64_t first_sequence;
  std::filesystem::path path;
};

struct JournalDirectory {
  std::filesystem::path directory;
  std::vector<SegmentEntry> segments;  // by first sequence
  bool has_prepared = false;
  bool has_spare = false;
};

// Lists `directory`; an Error when it cannot be read or holds a file a journal never writes
// (then it is not a journal, and nothing in it may be touched).
std::expected<JournalDirectory, Error> list_journal(const std::filesystem::path& directory);

}  // namespace ringlog::journal::detail
