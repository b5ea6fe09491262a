#include "journal/journal_recovery.hpp"

#include "journal/file/mapped_file.hpp"

#include <ringlog/detail/assert.hpp>

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

namespace ringlog::journal::detail {

namespace {

std::expected<SegmentHeader, Error> read_segment_header(const std::filesystem::path& path) {
  const std::string name = path.string();
  auto file = open_file(name, O_RDONLY);
  if (!file) return std::unexpected(file.error());
  std::array<std::byte, FileHeader::SIZE> bytes{};
  const ssize_t got = ::pread(file->get(), bytes.data(), bytes.size(), 0);
  if (got < 0) {
    return std::unexpected(Error::from_os(errno, fmt::format("read header of {}", name)));
  }
  if (auto invalid = check_file_header(std::span(bytes.data(), std::size_t(got)), name)) {
    return std::unexpected(*invalid);
  }
  SegmentHeader header;
  std::memcpy(&header.file, bytes.data(), sizeof header.file);
  header.info = segment_info(bytes.data());
  return header;
}

// The intact records of a segment that is not the newest: those its checkpoint says are
// durable, and those that follow the checkpoint (none, once the writer recorded the seal).
// Read-only.
std::expected<StaleCheckpoint, Error> sealed_records(const SegmentEntry& entry,
                                                     const SegmentHeader& header) {
  if (!header.in_use()) return StaleCheckpoint{entry.path, 0, FileHeader::SIZE};  // never written
  const std::string path = entry.path.string();
  auto file = open_file(path, O_RDONLY);
  if (!file) return std::unexpected(file.error());
  auto mapping = map_existing_log(file->get(), false, path);
  if (!mapping) return std::unexpected(mapping.error());
  const std::span<const std::byte> bytes(mapping->data(), mapping->size());
  // Everything below the checkpoint was made durable; scan only what follows it. A checkpoint
  // where no record can start (a damaged header) is no checkpoint: scan the whole file.
  const std::size_t checkpoint = header.file.write_offset;
  const bool sound = checkpoint >= FileHeader::SIZE && checkpoint <= bytes.size() &&
                     checkpoint % ringlog::detail::record_alignment == 0;
  const ScanResult past = scan_records(bytes, sound ? checkpoint : FileHeader::SIZE);
  return StaleCheckpoint{entry.path, (sound ? header.file.event_count : 0) + past.event_count,
                         past.end_offset};
}

// What lies between the events that continue one another (ending at `expected`) and `entry`.
std::string describe_gap(std::uint64_t expected, const SegmentEntry& entry) {
  const std::string name = entry.path.filename().string();
  if (entry.first_sequence > expected) {
    return fmt::format("events {} to {} are missing before {}", expected,
                       entry.first_sequence - 1, name);
  }
  return fmt::format("{} starts at sequence {}, among the events before it (which end at {})",
                     name, entry.first_sequence, expected);
}

// The journal's id: the prevailing one; where no named segment carries one, the id of a
// prepared segment the last writer started (a version-1 journal reopened by this version);
// else a new one.
JournalId journal_id(const std::vector<std::expected<SegmentHeader, Error>>& headers,
                     const JournalDirectory& listing) {
  if (const auto prevailing = prevailing_id(headers)) return *prevailing;
  if (listing.has_prepared) {
    const auto prepared = read_segment_header(listing.directory / prepared_segment_name);
    if (prepared && prepared->in_use() && carries_id(prepared->info.journal_id)) {
      return prepared->info.journal_id;
    }
  }
  return new_journal_id();
}

// The prepared segment is the newest when the writer had started it at `expected`.
bool prepared_was_started(const std::filesystem::path& directory, std::uint64_t expected,
                          const JournalId& id) {
  const auto header = read_segment_header(directory / prepared_segment_name);
  return header && header->in_use() && header->info.first_sequence == expected &&
         (!carries_id(header->info.journal_id) || header->info.journal_id == id);
}

// The newest segment, scanned whole as LogFile::open will: the events it holds, and where a torn
// or corrupt tail starts. Damage below its checkpoint is refused. It lies at `scan_at` now (the
// prepared file, before its rename), and `name` is what the writer opens.
std::expected<void, Error> plan_newest(const std::filesystem::path& scan_at,
                                       const std::string& name, RecoveryPlan& plan,
                                       JournalRecovery& recovery) {
  auto file = open_file(scan_at.string(), O_RDONLY);
  if (!file) return std::unexpected(file.error());
  auto mapping = map_existing_log(file->get(), false, scan_at.string());
  if (!mapping) return std::unexpected(mapping.error());
  const std::span<const std::byte> bytes(mapping->data(), mapping->size());
  FileHeader header;
  std::memcpy(&header, bytes.data(), sizeof header);
  const ScanResult scan = scan_records(bytes);
  // As LogFile::open refuses it.
  if (auto damaged = checkpoint_beyond_records(header, scan, name)) {
    plan.outcome = std::unexpected(std::move(*damaged));
    return {};
  }
  if (scan.damaged) recovery.cleared_tail = fmt::format("{} from offset {}", name, scan.end_offset);
  recovery.next_sequence = plan.newest_first_sequence + scan.event_count;
  return {};
}

// Walks the segments that continue one another from the first; then what follows a gap is
// set aside, unless it holds durable events.
std::expected<void, Error> plan_continuity(
    const std::vector<std::expected<SegmentHeader, Error>>& headers, RecoveryPlan& plan,
    JournalRecovery& recovery) {
  const std::vector<SegmentEntry>& segments = plan.listing.segments;
  // plan_recovery stops at the first segment without a header, or a misfit: each header read
  // below is there.
  RINGLOG_CHECK(plan.fitting == segments.size(),
                "only a journal whose segments all fit is walked");
  std::uint64_t expected = segments.front().first_sequence;
  for (; plan.continuous < segments.size(); ++plan.continuous) {
    const SegmentEntry& entry = segments[plan.continuous];
    if (entry.first_sequence != expected) break;
    const SegmentHeader& header = *headers[plan.continuous];
    auto records = sealed_records(entry, header);
    if (!records) return std::unexpected(records.error());
    expected += records->event_count;
    // Only a sound checkpoint short of the records moves: a damaged one is evidence, which
    // check_journal reports and nothing here overwrites.
    const std::size_t checkpoint = header.file.write_offset;
    const bool sound = checkpoint >= FileHeader::SIZE &&
                       checkpoint % ringlog::detail::record_alignment == 0;
    if (header.in_use() && sound && records->end_offset > checkpoint) {
      plan.stale_checkpoints.push_back(std::move(*records));
    }
  }
  if (plan.continuous < segments.size()) {
    plan.gap = describe_gap(expected, segments[plan.continuous]);
  }
  for (std::size_t i = plan.continuous; i < segments.size(); ++i) {
    if (headers[i]->file.event_count != 0) {
      plan.outcome = std::unexpected(Error{
          make_error_code(LogErrc::journal_gap),
          fmt::format("open journal {}: {}, and {} holds durable events; refusing to append",
                      plan.listing.directory.string(), *plan.gap,
                      segments[i].path.filename().string())});
      return {};
    }
    recovery.set_aside.push_back(segments[i].path.string() + dropped_suffix);
  }
  // The first segment continues itself (expected starts at its first sequence), and a failure
  // to read it returned above: segments[continuous - 1] below is the newest continuous one.
  RINGLOG_CHECK(plan.continuous >= 1, "the walk takes at least the first segment");
  plan.adopt_prepared =
      plan.listing.has_prepared && prepared_was_started(plan.listing.directory, expected, plan.id);
  plan.newest_first_sequence =
      plan.adopt_prepared ? expected : segments[plan.continuous - 1].first_sequence;
  // The newest is opened for appending, which reads its checkpoint and records as they are.
  if (!plan.adopt_prepared && !plan.stale_checkpoints.empty() &&
      plan.stale_checkpoints.back().path == segments[plan.continuous - 1].path) {
    plan.stale_checkpoints.pop_back();
  }
  return {};
}

}  // namespace

std::vector<std::expected<SegmentHeader, Error>> read_segment_headers(
    const JournalDirectory& listing) {
  std::vector<std::expected<SegmentHeader, Error>> headers;
  for (const SegmentEntry& entry : listing.segments) {
    headers.push_back(read_segment_header(entry.path));
  }
  return headers;
}

std::optional<JournalId> prevailing_id(
    const std::vector<std::expected<SegmentHeader, Error>>& headers) {
  const auto carriers = [&](const JournalId& id) {
    return std::count_if(headers.begin(), headers.end(), [&](const auto& header) {
      return header && header->info.journal_id == id;
    });
  };
  std::optional<JournalId> prevailing;
  std::ptrdiff_t most = 0;
  for (const auto& header : headers) {
    if (!header || !carries_id(header->info.journal_id)) continue;
    if (const std::ptrdiff_t count = carriers(header->info.journal_id); count > most) {
      prevailing = header->info.journal_id;
      most = count;
    }
  }
  return prevailing;
}

std::optional<Error> misfit(const SegmentEntry& entry, const SegmentHeader& header,
                            const JournalId& id) {
  const std::string path = entry.path.string();
  if (header.in_use() && header.info.first_sequence != entry.first_sequence) {
    return Error{make_error_code(LogErrc::not_a_log),
                 fmt::format("open journal segment {}: its header says it starts at sequence {}; "
                             "refusing to append", path, header.info.first_sequence)};
  }
  if (carries_id(header.info.journal_id) && header.info.journal_id != id) {
    return Error{make_error_code(LogErrc::foreign_segment),
                 fmt::format("open journal segment {}: it belongs to journal {}, not to journal "
                             "{} (the id most of this directory's segments carry); refusing to "
                             "append", path, to_string(header.info.journal_id), to_string(id))};
  }
  return std::nullopt;
}

std::expected<RecoveryPlan, Error> plan_recovery(const std::filesystem::path& directory,
                                                 std::uint64_t first_sequence_when_empty) {
  auto listing = list_journal(directory);
  if (!listing) return std::unexpected(listing.error());
  RecoveryPlan plan;
  plan.listing = std::move(*listing);
  const std::vector<SegmentEntry>& segments = plan.listing.segments;
  const auto headers = read_segment_headers(plan.listing);
  plan.id = journal_id(headers, plan.listing);
  for (; plan.fitting < segments.size(); ++plan.fitting) {
    const auto& header = headers[plan.fitting];
    std::optional<Error> problem =
        header ? misfit(segments[plan.fitting], *header, plan.id) : header.error();
    if (problem) {
      plan.outcome = std::unexpected(std::move(*problem));
      return plan;
    }
  }
  JournalRecovery recovery;
  if (segments.empty()) {
    // Only a prepared segment that was written to (every named one gone) holds events.
    const auto prepared = plan.listing.has_prepared
                              ? read_segment_header(directory / prepared_segment_name)
                              : std::unexpected(Error{});
    plan.adopt_prepared = prepared && prepared->in_use();
    plan.newest_first_sequence =
        plan.adopt_prepared ? prepared->info.first_sequence : first_sequence_when_empty;
    if (!plan.adopt_prepared) {
      recovery.segments = 1;  // a new one
      recovery.next_sequence = first_sequence_when_empty;
      plan.outcome = std::move(recovery);
      return plan;
    }
  } else if (auto walked = plan_continuity(headers, plan, recovery); !walked) {
    return std::unexpected(walked.error());
  }
  if (!plan.outcome) return plan;
  const std::filesystem::path newest =
      plan.adopt_prepared ? directory / segment_file_name(plan.newest_first_sequence)
                          : segments[plan.continuous - 1].path;
  const std::filesystem::path lies_at =
      plan.adopt_prepared ? directory / prepared_segment_name : newest;
  if (auto scanned = plan_newest(lies_at, newest.string(), plan, recovery); !scanned) {
    return std::unexpected(scanned.error());
  }
  if (!plan.outcome) return plan;
  recovery.segments = plan.continuous + (plan.adopt_prepared ? 1 : 0);
  plan.outcome = std::move(recovery);
  return plan;
}

}  // namespace ringlog::journal::detail
