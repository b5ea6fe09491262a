#include <ringlog/journal.hpp>
#include <ringlog/detail/assert.hpp>

#include "journal/journal_directory.hpp"
#include "journal/journal_recovery.hpp"
#include "journal/reader_cursor.hpp"
#include "journal/time_index.hpp"
#include "journal/file/log_format.hpp"
#include "journal/file/mapped_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <iterator>

namespace ringlog::journal {

struct JournalReader::State {
  std::filesystem::path directory;
  std::string name;  // a named reader's; "" for one that keeps no place
  ReadLimit limit = ReadLimit::appended;
  // The journal's id, once a segment carrying one was seen: a segment carrying another is
  // refused (failure), so that a foreign file is never read as this journal's events.
  std::optional<detail::JournalId> id;
  std::optional<Error> failure;
  ringlog::detail::Mapping segment;  // read-only, shared with the writer through the page cache
  std::string segment_path;
  detail::ChecksumRule checksums;
  std::size_t at = FileHeader::SIZE;  // the next unit, or record inside a batch
  std::size_t batch_end = 0;          // end of the checked batch `at` is in; 0 outside one
  std::uint64_t sequence = 0;         // of the event at `at`
  std::uint64_t skip_until = 0;       // events below it are passed over (seek)

  std::span<const std::byte> bytes() const noexcept { return {segment.data(), segment.size()}; }

  // Whether the unit of `size` bytes at `at` may be handed out under the read limit. The
  // checkpoint is written after each completed flush; a sealed segment's covers all of it.
  bool within_limit(std::size_t size) const noexcept {
    if (limit == ReadLimit::appended) return true;
    const auto* checkpoint = reinterpret_cast<const std::uint64_t*>(
        segment.data() + offsetof(FileHeader, write_offset));
    return at + size <= __atomic_load_n(checkpoint, __ATOMIC_ACQUIRE);
  }

  // Maps the segment that starts at `first_sequence`; false when it is not there (yet).
  bool enter(const std::filesystem::path& path, std::uint64_t first_sequence) {
    const std::string file_name = path.string();
    auto file = detail::open_file(file_name, O_RDONLY);
    if (!file) return false;
    auto mapping = detail::map_existing_log(file->get(), false, file_name);
    if (!mapping) return false;
    const detail::SegmentInfo info = detail::segment_info(mapping->data());
    if ((info.flags & detail::segment_in_use) == 0 || info.first_sequence != first_sequence) {
      return false;  // named but not yet started: its header is being written
    }
    if (detail::carries_id(info.journal_id)) {
      if (!id) id = info.journal_id;
      if (auto foreign = detail::misfit({first_sequence, path}, {{}, info}, *id)) {
        failure = std::move(foreign);
        return false;
      }
    }
    segment = std::move(*mapping);
    segment_path = file_name;
    checksums = detail::checksum_rule(segment.data());
    at = FileHeader::SIZE;
    batch_end = 0;
    sequence = first_sequence;
    return true;
  }

  // Maps the segment holding `skip_until` (or the oldest one); false in an empty journal.
  bool locate() {
    auto listing = detail::list_journal(directory);
    if (!listing || listing->segments.empty()) return false;
    const auto& segments = listing->segments;
    auto holder = std::upper_bound(segments.begin(), segments.end(), skip_until,
                                   [](std::uint64_t wanted, const detail::SegmentEntry& entry) {
                                     return wanted < entry.first_sequence;
                                   });
    if (holder != segments.begin()) --holder;
    return enter(holder->path, holder->first_sequence);
  }

  // The writer moved on when the segment after the last event here exists.
  bool enter_next_segment() {
    const std::filesystem::path next = directory / detail::segment_file_name(sequence);
    if (next.string() == segment_path || ::access(next.c_str(), F_OK) != 0) return false;
    // Records published before the writer rolled are visible now: read them first.
    if (detail::check_unit(bytes(), at, checksums)) return true;
    return enter(next, sequence);
  }

  // Where a time seek starts in a segment: a unit boundary, its sequence number, and the
  // greatest timestamp of the journal's events before it.
  struct Start {
    std::size_t offset;
    std::uint64_t sequence;
    std::uint64_t max_before;
  };
  static Start segment_start(const detail::SegmentEntry& entry, std::uint64_t max_before) {
    return {FileHeader::SIZE, entry.first_sequence, max_before};
  }

  // From `start` in the segment at `entry` (and on through the rest), the first event where the
  // running maximum of the timestamps reaches `timestamp`, the cursor then put right before it;
  // past the journal's end when none does. False, having moved nothing, when the segment has
  // gone since it was listed (retired).
  bool scan_for_time(const detail::SegmentEntry& entry, Start start, std::uint64_t timestamp) {
    if (!enter(entry.path, entry.first_sequence)) return false;
    at = start.offset;
    sequence = skip_until = start.sequence;
    batch_end = 0;
    const bool reached = start.max_before >= timestamp;  // then the first event is the one
    while (const std::optional<JournalEvent> event = next()) {
      if (!reached && event->view.header.timestamp < timestamp) continue;
      const std::uint64_t found = event->sequence;
      if (found >= entry.first_sequence && segment_path == entry.path.string()) {
        at = start.offset;  // back to the boundary, the events before `found` skipped again
        sequence = start.sequence;
        batch_end = 0;
        skip_until = found;
      } else {
        seek_to(found);
      }
      return true;
    }
    return true;
  }

  // Before the oldest event left, position() saying so at once (a named reader may commit it).
  void seek_to_oldest_left() {
    seek_to(0);
    (void)locate();
  }

  // Where `timestamp` lies in the segment at `entry` by its time index, or nothing when it has
  // none that fits this file (then the segment is scanned from its start).
  std::optional<Start> indexed_start(const detail::SegmentEntry& entry,
                                     const detail::TimeIndexSummary& summary,
                                     std::uint64_t timestamp, std::uint64_t max_before_segment) {
    // Where it lands, the index must be this very file's: its entries are offsets into it.
    if (!detail::time_index_fits(entry.path, summary)) return std::nullopt;
    const auto entries =
        detail::read_time_index_entries(detail::time_index_path(entry.path), summary);
    if (!entries) return std::nullopt;
    // The last boundary before which every event (this segment's and earlier ones') is older.
    const auto past = std::partition_point(
        entries->begin(), entries->end(), [&](const detail::TimeIndexEntry& e) {
          return std::max(e.max_before, max_before_segment) < timestamp;
        });
    if (past == entries->begin()) return segment_start(entry, max_before_segment);
    const detail::TimeIndexEntry& boundary = *std::prev(past);
    return Start{static_cast<std::size_t>(boundary.offset), boundary.sequence,
                 std::max(boundary.max_before, max_before_segment)};
  }

  void seek_time(std::uint64_t timestamp) {
    // A segment retired between the listing and the landing: the journal is listed again.
    for (int listed = 0; listed < 3; ++listed) {
      auto listing = detail::list_journal(directory);
      if (!listing) return;
      if (listing->segments.empty()) return seek_to(0);
      if (bisect_for_time(listing->segments, timestamp)) return;
    }
    seek_to_oldest_left();  // retention outran the seeks: no event is passed over
  }

  // The sealed segments' indexes say how great the timestamps are through each segment's end,
  // rising from one to the next: the first whose maximum reaches `timestamp` holds the event
  // (or the newest does). From an index it cannot use (missing, damaged, not knowing the
  // maximum before its segment), it walks on from the segments already passed. False when the
  // segment it would scan has gone.
  bool bisect_for_time(const std::vector<detail::SegmentEntry>& segments,
                       std::uint64_t timestamp) {
    const auto summary_of = [&](std::size_t i) -> std::optional<detail::TimeIndexSummary> {
      auto summary = detail::read_time_index_summary(detail::time_index_path(segments[i].path));
      if (!summary || summary->first_sequence != segments[i].first_sequence ||
          !summary->max_before) {
        return std::nullopt;
      }
      return summary;
    };
    std::size_t low = 0;
    std::size_t high = segments.size() - 1;  // the newest, never indexed: the last resort
    std::uint64_t max_before_low = 0;        // through segment low - 1, once low has moved
    while (low < high) {
      const std::size_t middle = low + (high - low) / 2;
      const auto summary = summary_of(middle);
      if (!summary) return walk_for_time(segments, timestamp, low, max_before_low);
      if (*summary->max_through() >= timestamp) {
        high = middle;
      } else {
        low = middle + 1;
        max_before_low = *summary->max_through();
      }
    }
    const detail::SegmentEntry& landing = segments[low];
    if (low + 1 == segments.size()) {  // past every sealed segment's maximum
      return scan_for_time(landing, segment_start(landing, max_before_low), timestamp);
    }
    const auto summary = summary_of(low);
    if (!summary) return walk_for_time(segments, timestamp, low, max_before_low);
    // Without an index that fits the file, only what the segments before it said is relied on.
    const Start start = indexed_start(landing, *summary, timestamp, *summary->max_before)
                            .value_or(segment_start(landing, max_before_low));
    // Gone, with every segment before it: the running maximum had reached the time in it, so
    // the oldest event left is the answer.
    if (!scan_for_time(landing, start, timestamp)) seek_to_oldest_left();
    return true;
  }

  // Segment by segment from `from`, after segments whose greatest timestamp was `max_before`:
  // passing those whose index says every event is older, scanning from the first that may hold
  // the event (indexed or not) on through the rest. False when that segment has gone.
  bool walk_for_time(const std::vector<detail::SegmentEntry>& segments, std::uint64_t timestamp,
                     std::size_t from, std::uint64_t max_before) {
    for (std::size_t i = from; i < segments.size(); ++i) {
      const detail::SegmentEntry& entry = segments[i];
      const auto summary = detail::read_time_index_summary(detail::time_index_path(entry.path));
      const bool indexed = summary && summary->first_sequence == entry.first_sequence;
      const std::uint64_t known_before = max_before;  // without this index's word
      if (indexed) max_before = std::max(max_before, summary->max_before.value_or(0));
      if (indexed && std::max(max_before, summary->max_timestamp) < timestamp) {
        max_before = std::max(max_before, summary->max_timestamp);
        continue;  // every event here is older (an index goes with its segment: trusted)
      }
      // Unindexed (the newest segment, or one whose index went): scanned, on through the rest.
      const std::optional<Start> start =
          indexed ? indexed_start(entry, *summary, timestamp, max_before) : std::nullopt;
      return scan_for_time(entry, start.value_or(segment_start(entry, known_before)), timestamp);
    }
    // No event that recent: the cursor goes to the journal's end, for the events to come.
    const detail::SegmentEntry& newest = segments.back();
    return scan_for_time(newest, segment_start(newest, max_before), timestamp);
  }

  void seek_to(std::uint64_t wanted) {
    segment = {};
    segment_path.clear();
    sequence = 0;
    skip_until = wanted;
  }

  std::optional<JournalEvent> next() {
    if (failure || (segment.data() == nullptr && !locate())) return std::nullopt;
    for (;;) {
      if (at < batch_end) {  // a record of a batch whose checksum was checked
        const event::EventView view = ringlog::detail::view_at(segment.data() + at);
        at += ringlog::detail::record_size(view.header.payload_len);
        if (sequence++ >= skip_until) return JournalEvent{sequence - 1, view};
        continue;
      }
      const std::optional<detail::Unit> unit = detail::check_unit(bytes(), at, checksums);
      if (!unit) {
        if (!enter_next_segment()) return std::nullopt;
        continue;
      }
      if (!within_limit(unit->size)) return std::nullopt;
      const event::EventHeader header = ringlog::detail::load_header(segment.data() + at);
      if (!ringlog::detail::is_framing(header)) {
        const event::EventView view = ringlog::detail::view_at(segment.data() + at);
        at += unit->size;
        if (sequence++ >= skip_until) return JournalEvent{sequence - 1, view};
      } else if (unit->events > 0 && sequence + unit->events > skip_until) {
        // Once a batch: its records are then read without a bound of their own.
        RINGLOG_CHECK(unit->size <= bytes().size() - at, "a checked batch lies within its segment");
        batch_end = at + unit->size;  // step into the batch
        at += detail::batch_header_bytes;
      } else {
        at += unit->size;  // padding, or a batch wholly before skip_until
        sequence += unit->events;
      }
    }
  }
};

JournalReader::JournalReader(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}
JournalReader::JournalReader(JournalReader&&) noexcept = default;
JournalReader& JournalReader::operator=(JournalReader&&) noexcept = default;
JournalReader::~JournalReader() = default;

std::expected<JournalReader, Error> JournalReader::open(const std::filesystem::path& directory,
                                                        ReadLimit limit) {
  std::error_code error;
  if (!std::filesystem::is_directory(directory, error)) {
    return std::unexpected(Error{error ? error : std::make_error_code(std::errc::not_a_directory),
                                 fmt::format("open journal {}", directory.string())});
  }
  auto listing = detail::list_journal(directory);
  if (!listing) return std::unexpected(listing.error());
  auto state = std::make_unique<State>();
  state->directory = directory;
  state->limit = limit;
  state->id = detail::prevailing_id(detail::read_segment_headers(*listing));
  return JournalReader(std::move(state));
}

namespace {

Error reader_error(LogErrc code, std::string context) {
  return Error{make_error_code(code), std::move(context)};
}

}  // namespace

std::expected<JournalReader, Error> JournalReader::open(const std::filesystem::path& directory,
                                                        const ReaderOptions& options) {
  if (!options.name.empty()) {
    if (const auto why = detail::invalid_reader_name(options.name)) {
      return std::unexpected(reader_error(
          LogErrc::invalid_reader_name, fmt::format("reader \"{}\": {}", options.name, *why)));
    }
  }
  auto reader = open(directory, options.limit);
  if (!reader || options.name.empty()) return reader;
  reader->state_->name = options.name;
  if (auto resumed = reader->resume(); !resumed) return std::unexpected(resumed.error());
  return reader;
}

std::expected<void, Error> JournalReader::resume() {
  State& s = *state_;
  const std::filesystem::path path = detail::cursor_path(s.directory, s.name);
  auto cursor = detail::read_cursor(path);
  if (!cursor) return std::unexpected(cursor.error());
  auto listing = detail::list_journal(s.directory);
  if (!listing) return std::unexpected(listing.error());
  const std::uint64_t first_kept =
      listing->segments.empty() ? 0 : listing->segments.front().first_sequence;
  if (!*cursor) {  // never committed: from the oldest event kept
    seek(first_kept);
    return {};
  }
  const detail::Cursor& committed = **cursor;
  if (s.id && detail::carries_id(committed.journal_id) && committed.journal_id != *s.id) {
    return std::unexpected(reader_error(
        LogErrc::reader_cursor_damaged,
        fmt::format("reader \"{}\": its cursor {} was committed in journal {}, not in this one "
                    "({})", s.name, path.string(), detail::to_string(committed.journal_id),
                    detail::to_string(*s.id))));
  }
  if (committed.position < first_kept) {
    return std::unexpected(reader_error(
        LogErrc::reader_events_removed,
        fmt::format("reader \"{}\" ({}) goes on at sequence {}, but the journal {} now starts "
                    "at {}: events {} to {} were removed by retention before it read them",
                    s.name, path.string(), committed.position, s.directory.string(), first_kept,
                    committed.position, first_kept - 1)));
  }
  const std::uint64_t end = end_sequence();
  if (committed.position > end) {
    return std::unexpected(reader_error(
        LogErrc::reader_past_the_end,
        fmt::format("reader \"{}\" ({}) goes on at sequence {}, past the end of the journal {} "
                    "({}): it read events that were lost before they were durable (read with "
                    "ReadLimit::durable to never see this)",
                    s.name, path.string(), committed.position, s.directory.string(), end)));
  }
  seek(committed.position);
  return {};
}

std::expected<void, Error> JournalReader::commit_position() {
  const State& s = *state_;
  if (s.name.empty()) {
    return std::unexpected(reader_error(
        LogErrc::invalid_reader_name,
        fmt::format("commit_position on a reader of {} without a name (ReaderOptions::name)",
                    s.directory.string())));
  }
  return detail::write_cursor(detail::cursor_path(s.directory, s.name),
                              {position(), s.id.value_or(detail::JournalId{})});
}

std::expected<void, Error> commit_reader_position(const std::filesystem::path& directory,
                                                  std::string_view name,
                                                  std::uint64_t position) {
  if (const auto why = detail::invalid_reader_name(name)) {
    return std::unexpected(
        reader_error(LogErrc::invalid_reader_name, fmt::format("reader \"{}\": {}", name, *why)));
  }
  return detail::write_cursor(detail::cursor_path(directory, name), {position, {}});
}

std::expected<std::vector<ReaderPosition>, Error> list_readers(
    const std::filesystem::path& directory) {
  auto cursors = detail::list_cursors(directory);
  if (!cursors) return std::unexpected(cursors.error());
  std::vector<ReaderPosition> readers;
  for (detail::NamedCursor& named : *cursors) {
    std::error_code ignored;  // a file replaced meanwhile reads as the epoch
    ReaderPosition reader{named.name, named.cursor ? named.cursor->position : 0,
                          std::filesystem::last_write_time(named.path, ignored), std::nullopt};
    if (!named.cursor) reader.problem = named.cursor.error();
    readers.push_back(std::move(reader));
  }
  return readers;
}

std::optional<JournalEvent> JournalReader::next() { return state_->next(); }

void JournalReader::seek(std::uint64_t sequence) { state_->seek_to(sequence); }

void JournalReader::seek_time(std::uint64_t timestamp) { state_->seek_time(timestamp); }

const std::optional<Error>& JournalReader::failure() const noexcept { return state_->failure; }

std::uint64_t JournalReader::position() const noexcept {
  return std::max(state_->sequence, state_->skip_until);
}

}  // namespace ringlog::journal

namespace ringlog::journal {

std::uint64_t JournalReader::end_sequence() const {
  auto listing = detail::list_journal(state_->directory);
  if (!listing || listing->segments.empty()) return 0;
  const detail::SegmentEntry& newest = listing->segments.back();
  auto segment = MmapReader::open(newest.path);
  return newest.first_sequence + (segment ? segment->event_count() : 0);
}

std::uint64_t JournalReader::durable_end_sequence() const {
  auto listing = detail::list_journal(state_->directory);
  if (!listing || listing->segments.empty()) return 0;
  // Flushes complete in segment order, each covering what was written before it started: the
  // segment before the newest may still await the flush of its last events, older ones not.
  const auto& segments = listing->segments;
  const std::uint64_t from = segments[segments.size() - std::min<std::size_t>(2, segments.size())]
                                 .first_sequence;
  auto durable = JournalReader::open(state_->directory, ReadLimit::durable);
  if (!durable) return from;
  durable->seek(from);
  while (durable->next()) {
  }
  return durable->position();
}

namespace {

// The problem a writer acts on, as the recovery plan found it; empty when it appends as is.
std::string writer_problem(const detail::RecoveryPlan& plan) {
  if (!plan.outcome) return plan.outcome.error().message();
  const JournalRecovery& recovery = *plan.outcome;
  if (!recovery.set_aside.empty()) {
    return fmt::format("{}; a writer reopening the journal sets aside {} segment(s) from there "
                       "on (none holds durable events)", *plan.gap, recovery.set_aside.size());
  }
  if (recovery.cleared_tail) {
    return fmt::format("a torn or corrupt tail in {}; a writer reopening the journal clears it",
                       *recovery.cleared_tail);
  }
  return {};
}

// Walks the segments a reader takes, as a reader does: in order, each continuing where the last
// one's intact events end (past damage, the next segment's name no longer matches, and it
// stops). Damage below a sealed segment's checkpoint, which the writer does not re-read, is
// reported here, beside whatever the writer acts on.
void walk_as_reader(const detail::RecoveryPlan& plan, JournalCheck& check) {
  std::uint64_t expected = check.first_sequence;
  for (std::size_t i = 0; i < check.segments.size() && i < plan.fitting; ++i) {
    const SegmentCheck& segment = check.segments[i];
    if (segment.first_sequence != expected) break;
    expected += segment.scan.event_count;
    const bool sealed = i + 1 < check.segments.size();  // the newest is the writer's to judge
    if (!sealed || segment.checkpoint <= segment.scan.end_offset) continue;
    check.durable_data_damaged = true;
    const std::string found = fmt::format(
        "{}: {} at offset {}, below the durable checkpoint at offset {}: events reported "
        "durable are damaged. A writer does not re-read a sealed segment: it appends after the "
        "journal's end, and readers stop here", segment.path.filename().string(),
        segment.scan.damaged ? "a record fails its checksum" : "intact records end",
        segment.scan.end_offset, segment.checkpoint);
    check.problem = check.problem.empty() ? found : check.problem + "; also " + found;
  }
  check.intact_events = expected - check.first_sequence;
}

}  // namespace

std::expected<JournalCheck, Error> check_journal(const std::filesystem::path& directory) {
  auto plan = detail::plan_recovery(directory, 0);
  if (!plan) return std::unexpected(plan.error());
  JournalCheck check;
  for (const detail::SegmentEntry& entry : plan->listing.segments) {
    auto reader = MmapReader::open(entry.path);
    if (!reader) break;  // no log file: the plan's refusal names it
    check.segments.push_back({entry.path, entry.first_sequence, reader->scan(),
                              static_cast<std::size_t>(reader->header().write_offset)});
  }
  if (!plan->listing.segments.empty()) {
    check.first_sequence = plan->listing.segments.front().first_sequence;
  }
  check.writer = plan->outcome;
  check.problem = writer_problem(*plan);
  if (!plan->outcome) {
    const std::error_code& code = plan->outcome.error().code;
    check.durable_data_damaged = code == make_error_code(LogErrc::damaged_durable_data);
    check.foreign_segment = code == make_error_code(LogErrc::foreign_segment);
  }
  walk_as_reader(*plan, check);
  return check;
}

}  // namespace ringlog::journal
