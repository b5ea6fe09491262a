#include "journal/time_index.hpp"

#include "journal/file/mapped_file.hpp"
#include "journal/journal_directory.hpp"

#include <ringlog/detail/crc32c.hpp>
#include <ringlog/detail/framing.hpp>

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

namespace ringlog::journal::detail {

namespace {

// Format 02 added the end sequence and the maximum before the segment; 01's are ignored.
constexpr std::array<char, 8> index_magic = {'R', 'L', 'T', 'I', 'D', 'X', '0', '2'};

constexpr std::uint32_t max_before_known = 1;

struct IndexHeader {
  std::array<char, 8> magic;
  std::uint32_t header_crc;   // of the rest of this header
  std::uint32_t entries_crc;  // of the entries that follow it
  std::uint64_t first_sequence;
  std::int64_t created_at;
  std::uint64_t max_timestamp;
  std::uint64_t entry_count;
  std::uint32_t record_seed;
  std::uint32_t flags;  // max_before_known
  std::uint64_t end_sequence;
  std::uint64_t max_before;
};
static_assert(sizeof(IndexHeader) == 72);
static_assert(sizeof(TimeIndexEntry) == 24);
constexpr std::size_t header_checked_from = offsetof(IndexHeader, first_sequence);

std::uint32_t header_checksum(const IndexHeader& header) {
  const auto* bytes = reinterpret_cast<const std::byte*>(&header);
  return ringlog::detail::crc32c(0, bytes + header_checked_from,
                                 sizeof header - header_checked_from);
}

std::uint32_t entries_checksum(const std::vector<TimeIndexEntry>& entries) {
  return ringlog::detail::crc32c(0, entries.data(), entries.size() * sizeof(TimeIndexEntry));
}

TimeIndexContent scan_timestamps(std::span<const std::byte> file, const SegmentInfo& info) {
  TimeIndexBuilder builder;
  builder.reserve_for(file.size());
  builder.start(info.first_sequence);
  scan_records(file, FileHeader::SIZE,
               [&](std::size_t at, const Unit& unit) { builder.add_unit(file, at, unit); });
  return *builder.take();
}

TimeIndexSummary summary_of(const IndexHeader& header) {
  TimeIndexSummary summary{header.first_sequence, header.end_sequence, header.created_at,
                           header.record_seed, header.max_timestamp, header.entry_count, {}};
  if ((header.flags & max_before_known) != 0) summary.max_before = header.max_before;
  return summary;
}

// The maximum before the segment that starts at `first_sequence`: the index of the segment just
// before it (`last_written` when it is that one, else read from `directory`) ends where it starts
// and knows its own; none before it: nothing.
std::optional<std::uint64_t> max_before_segment(
    const std::filesystem::path& directory, std::uint64_t first_sequence,
    const std::optional<TimeIndexSummary>& last_written) {
  if (last_written && last_written->end_sequence == first_sequence &&
      last_written->first_sequence < first_sequence) {
    return last_written->max_through();
  }
  auto listing = list_journal(directory);
  if (!listing) return std::nullopt;
  const auto& segments = listing->segments;
  const auto at = std::partition_point(
      segments.begin(), segments.end(),
      [&](const SegmentEntry& entry) { return entry.first_sequence < first_sequence; });
  if (at == segments.begin()) return 0;
  const auto before = read_time_index_summary(time_index_path(std::prev(at)->path));
  if (!before || before->end_sequence != first_sequence) return std::nullopt;
  return before->max_through();
}

std::expected<void, Error> write_index_file(const std::filesystem::path& index,
                                            const IndexHeader& header,
                                            const std::vector<TimeIndexEntry>& entries) {
  std::filesystem::path fresh = index;
  fresh += ".new";
  const int fd = ::open(fresh.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return std::unexpected(Error::from_os(errno, "create " + fresh.string()));
  const FileDescriptor out(fd);
  const std::size_t entry_bytes = entries.size() * sizeof(TimeIndexEntry);
  if (::write(out.get(), &header, sizeof header) != static_cast<ssize_t>(sizeof header) ||
      ::write(out.get(), entries.data(), entry_bytes) != static_cast<ssize_t>(entry_bytes)) {
    return std::unexpected(Error::from_os(errno ? errno : EIO, "write " + fresh.string()));
  }
  if (::rename(fresh.c_str(), index.c_str()) != 0) {
    return std::unexpected(Error::from_os(errno, "rename " + fresh.string()));
  }
  return {};
}

// The content of the sealed segment's index, scanned (the segment mapped read-only here), and
// its header's identity; nothing when the segment cannot be read.
std::optional<std::pair<FileHeader, TimeIndexContent>> scan_segment(
    const std::filesystem::path& segment) {
  auto file = open_file(segment.string(), O_RDONLY);
  if (!file) return std::nullopt;
  auto mapping = map_existing_log(file->get(), false, segment.string());
  if (!mapping) return std::nullopt;
  const std::span<const std::byte> bytes(mapping->data(), mapping->size());
  FileHeader header{};
  std::memcpy(&header, mapping->data(), sizeof header);
  return std::pair{header, scan_timestamps(bytes, segment_info(mapping->data()))};
}

// The segment's header alone, for an index whose content its writer built.
std::optional<FileHeader> read_file_header(const std::filesystem::path& segment) {
  auto file = open_file(segment.string(), O_RDONLY);
  FileHeader header{};
  if (!file || ::pread(file->get(), &header, sizeof header, 0) != sizeof header) {
    return std::nullopt;
  }
  return header;
}

// Writes the sealed segment's index beside it (a new file renamed into place; no fdatasync: it
// is a cache), from `built` or else a scan. Returns the index's summary, written or not (a full
// disk), so that the next index can carry the maximum on; nothing when the segment cannot be
// read.
std::optional<TimeIndexSummary> write_time_index(
    const std::filesystem::path& segment, const std::optional<TimeIndexSummary>& last_written,
    std::optional<TimeIndexContent> built) {
  std::optional<FileHeader> file_header;
  if (built) {
    file_header = read_file_header(segment);
  } else if (auto scanned = scan_segment(segment)) {
    file_header = scanned->first;
    built = std::move(scanned->second);
  }
  if (!file_header) return std::nullopt;
  const SegmentInfo info = segment_info(reinterpret_cast<const std::byte*>(&*file_header));
  const std::optional<std::uint64_t> before =
      max_before_segment(segment.parent_path(), info.first_sequence, last_written);
  IndexHeader header{index_magic, 0, entries_checksum(built->entries), info.first_sequence,
                     file_header->created_at, built->max_timestamp, built->entries.size(),
                     info.record_seed, before ? max_before_known : 0, built->end_sequence,
                     before.value_or(0)};
  header.header_crc = header_checksum(header);
  // A cache: one that cannot be written (a full disk) costs scans when seeking, nothing else.
  (void)write_index_file(time_index_path(segment), header, built->entries);
  return summary_of(header);
}

}  // namespace

std::filesystem::path time_index_path(const std::filesystem::path& segment) {
  std::filesystem::path index = segment;
  index += time_index_suffix;
  return index;
}

void TimeIndexBuilder::reserve_for(std::size_t capacity) {
  content_.entries.assign(capacity / time_index_every_bytes + 1, {});  // every page touched
}

void TimeIndexBuilder::start(std::uint64_t first_sequence) noexcept {
  entries_used_ = 0;
  content_.max_timestamp = 0;
  content_.end_sequence = first_sequence;
  next_entry_at_ = 0;
  building_ = true;
}

void TimeIndexBuilder::add_batch(std::size_t at, std::span<const std::byte> records,
                                 std::uint64_t events) noexcept {
  if (!building_) return;
  std::uint64_t newest = 0;
  // Whole headers only, even where a malformed length would step past the end.
  for (std::size_t record = 0;
       record < records.size() && records.size() - record >= event::EventHeader::SIZE;) {
    const event::EventHeader header = ringlog::detail::load_header(records.data() + record);
    newest = std::max(newest, header.timestamp);
    record += ringlog::detail::record_size(header.payload_len);
  }
  add(at, events, newest);
}

void TimeIndexBuilder::add_unit(std::span<const std::byte> file, std::size_t at,
                                const Unit& unit) noexcept {
  if (unit.events == 0) return;  // padding, framing of a later version, or an empty batch
  const event::EventHeader header = ringlog::detail::load_header(file.data() + at);
  if (!ringlog::detail::is_framing(header)) {
    add(at, 1, header.timestamp);
  } else {
    add_batch(at, file.subspan(at + batch_header_bytes, unit.size - batch_header_bytes),
              unit.events);
  }
}

std::optional<TimeIndexContent> TimeIndexBuilder::take() {
  if (!building_) return std::nullopt;
  building_ = false;
  content_.entries.resize(entries_used_);
  return std::move(content_);
}

std::optional<TimeIndexSummary> write_time_index_if_missing(
    const std::filesystem::path& segment, const std::optional<TimeIndexSummary>& last_written,
    std::optional<TimeIndexContent> built) {
  const auto summary = read_time_index_summary(time_index_path(segment));
  // One that does not know the maximum before it is written again: the index before may be
  // there now.
  if (summary && summary->max_before && time_index_fits(segment, *summary)) return summary;
  return write_time_index(segment, last_written, std::move(built));
}

bool time_index_fits(const std::filesystem::path& segment, const TimeIndexSummary& summary) {
  const std::optional<FileHeader> header = read_file_header(segment);
  if (!header) return false;
  const SegmentInfo info = segment_info(reinterpret_cast<const std::byte*>(&*header));
  return header->created_at == summary.created_at && info.record_seed == summary.record_seed &&
         info.first_sequence == summary.first_sequence;
}

std::optional<TimeIndexSummary> read_time_index_summary(const std::filesystem::path& index) {
  const int fd = ::open(index.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  const FileDescriptor file(fd);
  IndexHeader header{};
  if (::pread(file.get(), &header, sizeof header, 0) != static_cast<ssize_t>(sizeof header) ||
      header.magic != index_magic || header.header_crc != header_checksum(header)) {
    return std::nullopt;
  }
  return summary_of(header);
}

std::optional<std::vector<TimeIndexEntry>> read_time_index_entries(
    const std::filesystem::path& index, const TimeIndexSummary& summary) {
  const int fd = ::open(index.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  const FileDescriptor file(fd);
  IndexHeader header{};
  std::vector<TimeIndexEntry> entries(summary.entry_count);
  const std::size_t entry_bytes = entries.size() * sizeof(TimeIndexEntry);
  if (::pread(file.get(), &header, sizeof header, 0) != static_cast<ssize_t>(sizeof header) ||
      ::pread(file.get(), entries.data(), entry_bytes, sizeof header) !=
          static_cast<ssize_t>(entry_bytes) ||
      header.entries_crc != entries_checksum(entries)) {
    return std::nullopt;
  }
  return entries;
}

}  // namespace ringlog::journal::detail
