#include <ringlog/journal.hpp>
#include <ringlog/detail/assert.hpp>

#include "journal/flush/flush_backend.hpp"
#include "journal/journal_directory.hpp"
#include "journal/journal_recovery.hpp"
#include "journal/file/log_file.hpp"
#include "journal/segment_housekeeper.hpp"
#include "journal/file/writer_lock.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <deque>

namespace ringlog::storage {

using detail::LogFile;
using detail::os_error;

namespace {

using Clock = std::chrono::steady_clock;

struct Segment {
  LogFile file;
  std::uint64_t first_sequence;
  // Its final name is durable (set by the housekeeper): only then may its events count as durable.
  std::unique_ptr<std::atomic<bool>> named;

  std::uint64_t end_sequence() const noexcept { return first_sequence + file.event_count(); }
  bool all_durable() const noexcept { return file.durable_offset() == file.write_offset(); }
};

// The housekeeper's work ahead of a journal being opened: the segments recovery sets aside get
// their new names, a prepared segment that was written to becomes the newest, and preallocated
// space left over goes; then the directory's entries are made durable.
std::expected<void, Error> carry_out(const detail::RecoveryPlan& plan) {
  const std::filesystem::path& directory = plan.listing.directory;
  const std::vector<detail::SegmentEntry>& segments = plan.listing.segments;
  for (std::size_t i = plan.continuous; i < segments.size(); ++i) {
    const std::filesystem::path& dropped = plan.outcome->set_aside[i - plan.continuous];
    if (std::rename(segments[i].path.c_str(), dropped.c_str()) != 0) {
      return std::unexpected(os_error(errno, fmt::format("set aside {}", dropped.string())));
    }
  }
  const std::filesystem::path prepared = directory / detail::prepared_segment_name;
  if (plan.adopt_prepared) {
    const std::filesystem::path named =
        directory / detail::segment_file_name(plan.newest_first_sequence);
    if (std::rename(prepared.c_str(), named.c_str()) != 0) {
      return std::unexpected(os_error(errno, fmt::format("rename {}", prepared.string())));
    }
  } else if (plan.listing.has_prepared) {
    ::unlink(prepared.c_str());  // only preallocated space
  }
  if (plan.listing.has_spare) ::unlink((directory / detail::spare_segment_name).c_str());
  return detail::fsync_directory(directory.string());
}

// The segment appended to: the newest, its tail cleared, or a new first one.
std::expected<LogFile, Error> open_newest(const detail::RecoveryPlan& plan,
                                          const JournalOptions& options) {
  const std::filesystem::path path =
      plan.listing.directory / detail::segment_file_name(plan.newest_first_sequence);
  const bool is_new = plan.listing.segments.empty() && !plan.adopt_prepared;  // a new journal
  auto newest = is_new ? LogFile::create(path.string(), options.segment_bytes)
                       : LogFile::open(path.string());
  if (!newest) return newest;
  if ((detail::segment_info(newest->data()).flags & detail::segment_in_use) == 0) {
    newest->start_segment(plan.newest_first_sequence, plan.id);
  }
  return newest;
}

}  // namespace

std::string JournalRecovery::summary() const {
  std::string text = fmt::format("{} segment(s), continuing at sequence {}", segments,
                                 next_sequence);
  if (cleared_tail) text += fmt::format("; cleared a torn or corrupt tail: {}", *cleared_tail);
  for (const auto& path : set_aside) {
    text += fmt::format("; set aside {} (it followed a gap)", path.string());
  }
  return text;
}

struct Journal::State {
  explicit State(detail::WriterLock held) noexcept : lock(std::move(held)) {}

  detail::WriterLock lock;  // first: held until everything else has gone
  std::filesystem::path directory;
  detail::JournalId id{};  // in every segment this journal starts
  JournalOptions options;
  JournalRecovery recovery;
  std::optional<Error> failure;

  std::atomic<std::uint64_t> next_sequence{0};
  std::atomic<std::uint64_t> durable_sequence{0};

  std::deque<std::filesystem::path> kept;  // sealed segment files, oldest first
  // Segments with events not yet durable, oldest first; back() is the one appended to.
  std::deque<std::unique_ptr<Segment>> unsealed;

  // Declared after the segments: destroyed first, so no flush or rename outlives its segment.
  detail::StartedFlusher flushing;
  struct InFlight {
    Segment* segment = nullptr;
    std::size_t offset = 0;
    std::uint64_t events = 0;  // in the segment, below offset
  } in_flight;
  std::unique_ptr<detail::SegmentHousekeeper> housekeeper;

  std::size_t unflushed_bytes = 0;  // appended since the last flush started
  Clock::time_point last_flush_start = Clock::now();
  bool next_segment_requested = false;
  std::size_t writeback_requested_until = 0;  // in the current segment
  std::size_t claimed_size = 0;  // the record try_claim() placed, 0 when none

  Segment& current() noexcept { return *unsealed.back(); }

  void fail(Error error) noexcept {
    if (!failure) failure = std::move(error);
  }

  void appended(std::size_t bytes, std::uint64_t events) noexcept {
    next_sequence.store(next_sequence.load(std::memory_order_relaxed) + events,
                        std::memory_order_relaxed);
    unflushed_bytes += bytes;
  }

  bool flush_due_by_bytes() const noexcept {
    return options.flush.every_bytes != 0 && unflushed_bytes >= options.flush.every_bytes;
  }

  // The pages the housekeeper was last asked to map ahead of the writer, until it has.
  struct PagesAhead {
    std::size_t from = 0;  // offsets in the current segment
    std::size_t until = 0;
    std::uint64_t ticket = 0;
  } pages_ahead;

  // Asks the housekeeper for the pages ahead and behind. Where it has fallen behind (it shares
  // a busy CPU, or the host is slow to hand out memory) and the writer is about to reach pages
  // it was asked for, the writer maps them itself: one call, rather than a fault on every page.
  void map_pages_ahead(Segment& segment) noexcept {
    LogFile& file = segment.file;
    const std::size_t about_to_reach = file.write_offset() + options.prepare_ahead_bytes / 4;
    if (pages_ahead.until > file.write_offset() && about_to_reach >= pages_ahead.from &&
        housekeeper->pages_tended() < pages_ahead.ticket) {
      detail::map_writable(file.pages_from_writer_until(pages_ahead.until));
      pages_ahead = {};
    }
    const detail::PageRange ahead = file.claim_pages_ahead(options.prepare_ahead_bytes);
    const std::uint64_t ticket = housekeeper->tend_pages(ahead, file.claim_pages_behind());
    if (!ahead.empty()) {
      const auto from = static_cast<std::size_t>(ahead.start - file.data());
      pages_ahead = {from, from + ahead.length, ticket};
    }
  }

  // Pages ahead of the writer, writeback behind it, and the next segment once the current one
  // is half used.
  void prepare_ahead() noexcept {
    Segment& segment = current();
    map_pages_ahead(segment);
    const std::size_t written = segment.file.write_offset();
    const std::size_t pacing = options.writeback_every_bytes;
    if (pacing != 0 && written - writeback_requested_until >= pacing) {
      housekeeper->start_writeback(segment.file.fd(), writeback_requested_until,
                                   written - writeback_requested_until);
      writeback_requested_until = written;
    }
    if (!next_segment_requested && segment.file.write_offset() > segment.file.capacity() / 2) {
      housekeeper->request_prepared();
      next_segment_requested = true;
    }
  }

  // Moves to the prepared segment; false when there is none to be had.
  bool roll() noexcept {
    const std::uint64_t first = next_sequence.load(std::memory_order_relaxed);
    const std::filesystem::path path = directory / detail::segment_file_name(first);
    auto named = std::make_unique<std::atomic<bool>>(false);
    std::expected<LogFile, Error> file = housekeeper->take_prepared(path, named.get());
    if (!file) {
      fail(Error{file.error().code, fmt::format("{}; journal {} takes no more events",
                                                file.error().message(), directory.string())});
      return false;
    }
    file->start_segment(first, id);
    file->set_path(path.string());
    unsealed.push_back(std::make_unique<Segment>(Segment{std::move(*file), first,
                                                         std::move(named)}));
    next_segment_requested = false;
    writeback_requested_until = 0;
    pages_ahead = {};
    seal_durable_segments();
    return true;
  }

  // A segment that is no longer appended to and fully durable is done: closed off the
  // appending thread, and counted against retention.
  void seal_durable_segments() {
    while (unsealed.size() > 1 && unsealed.front()->all_durable() &&
           in_flight.segment != unsealed.front().get()) {
      kept.push_back(unsealed.front()->file.path());
      housekeeper->close(std::move(unsealed.front()->file));
      unsealed.pop_front();
    }
    apply_retention();
  }

  void apply_retention() {
    if (options.keep_segments == 0) return;
    while (!kept.empty() && kept.size() + unsealed.size() > options.keep_segments) {
      housekeeper->retire(kept.front());
      kept.pop_front();
    }
  }

  void record_durable(Segment& segment, std::size_t offset, std::uint64_t events) noexcept {
    segment.file.record_durable(offset, events);
    RINGLOG_ASSERT(segment.first_sequence + events >=
                       durable_sequence.load(std::memory_order_relaxed),
                   "the durable mark only moves forward");
    durable_sequence.store(segment.first_sequence + events, std::memory_order_release);
  }

  void settle_flush(int result) noexcept {
    Segment& segment = *std::exchange(in_flight.segment, nullptr);
    if (result < 0) {
      fail(os_error(-result, fmt::format("fdatasync of {} ({}); events from sequence {} on may "
                                         "not be durable, and the journal takes no more",
                                         segment.file.path(), flushing.note,
                                         durable_sequence.load())));
      return;
    }
    record_durable(segment, in_flight.offset, in_flight.events);
    seal_durable_segments();
  }

  // How much of the segment being appended to a flush covers.
  enum class Reach {
    // Only the folios the writer has left, so that it never stores to a page writeback has
    // protected; nothing when they hold nothing new. For flushes the appended bytes trigger:
    // under load they always find something new there.
    left_folios,
    // The same where it flushes something new, else everything: for flushes the timer or the
    // caller asks for, whose point is that what was appended becomes durable. Under light
    // load the folio being written is then protected, and the writer's next store to each of
    // its pages faults.
    everything,
  };

  // Starts a flush of the oldest segment with events not yet durable.
  void start_flush(Reach reach) noexcept {
    if (housekeeper->failed()) fail(*housekeeper->error());
    if (failure) return;
    Segment& target = *unsealed.front();
    if (target.all_durable() || !target.named->load(std::memory_order_acquire)) return;
    in_flight = {&target, target.file.write_offset(), target.file.event_count()};
    const LogFile& file = target.file;
    if (&target == &current()) {
      if (file.left_folios_offset() > file.durable_offset()) {
        in_flight.offset = file.left_folios_offset();
        in_flight.events = file.left_folios_count();
      } else if (reach == Reach::left_folios) {
        in_flight.segment = nullptr;
        return;
      }
    }
    unflushed_bytes = 0;
    last_flush_start = Clock::now();
    if (int result = flushing.flusher->start(target.file.fd(), in_flight.offset); result < 0) {
      in_flight.segment = nullptr;
      fail(os_error(-result, fmt::format("start a flush of {}", target.file.path())));
    }
  }

  // Collects a finished flush and starts the next. The appending calls use this alone: pages
  // are prepared between batches (flush_if_due), where their faults cost no append.
  void flush(Reach reach) noexcept {
    if (!failure && collect_flush()) start_flush(reach);
  }

  // Takes the result of a finished flush without waiting; true when none is in flight now.
  bool collect_flush() noexcept {
    if (in_flight.segment == nullptr) return true;
    const std::optional<int> finished = flushing.flusher->poll();
    if (!finished) return false;
    settle_flush(*finished);
    return true;
  }
};

Journal::Journal(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}
Journal::Journal(Journal&&) noexcept = default;
Journal& Journal::operator=(Journal&&) noexcept = default;
Journal::~Journal() = default;

std::optional<std::pair<LogErrc, std::string>> check_options(const JournalOptions& options) {
  if (options.segment_bytes < JournalOptions::min_segment_bytes) {
    return std::pair{LogErrc::capacity_too_small,
                     fmt::format("segment size {} is below the least, {}", options.segment_bytes,
                                 JournalOptions::min_segment_bytes)};
  }
  if (options.segment_bytes > JournalOptions::max_segment_bytes) {
    return std::pair{LogErrc::capacity_too_large,
                     fmt::format("segment size {} is above the largest, {}",
                                 options.segment_bytes, JournalOptions::max_segment_bytes)};
  }
  return std::nullopt;
}

std::expected<JournalRecovery, Error> preview_open(const std::filesystem::path& directory) {
  const std::string dir = directory.string();
  if (auto held = detail::WriterLock::held_elsewhere((directory / detail::lock_file_name).string(),
                                                     "journal " + dir)) {
    return std::unexpected(*held);
  }
  auto plan = detail::plan_recovery(directory, 0);
  if (!plan) return std::unexpected(plan.error());
  return plan->outcome;
}

std::expected<Journal, Error> Journal::open(const std::filesystem::path& directory,
                                            JournalOptions options) {
  const std::string dir = directory.string();
  if (const auto invalid = check_options(options)) {
    return std::unexpected(Error{make_error_code(invalid->first),
                                 fmt::format("open journal {}: {}", dir, invalid->second)});
  }
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) return std::unexpected(Error{error, fmt::format("create journal directory {}", dir)});
  // A directory that is no journal gets no lock file either: nothing in it is touched.
  if (auto listing = detail::list_journal(directory); !listing) {
    return std::unexpected(listing.error());
  }
  // Before recovery reads anything: what a second writer found could change under it.
  auto lock = detail::WriterLock::acquire((directory / detail::lock_file_name).string(),
                                          /*create=*/true, "journal " + dir);
  if (!lock) return std::unexpected(lock.error());
  auto plan = detail::plan_recovery(directory, options.first_sequence);
  if (!plan) return std::unexpected(plan.error());
  if (!plan->outcome) return std::unexpected(plan->outcome.error());
  if (auto carried = carry_out(*plan); !carried) return std::unexpected(carried.error());
  auto newest = open_newest(*plan, options);
  if (!newest) return std::unexpected(newest.error());

  auto state = std::make_unique<State>(std::move(*lock));
  state->directory = directory;
  state->options = options;
  state->id = plan->id;
  state->recovery = std::move(*plan->outcome);
  const std::vector<detail::SegmentEntry>& segments = plan->listing.segments;
  for (std::size_t i = 0; i + 1 < plan->continuous; ++i) state->kept.push_back(segments[i].path);
  if (plan->adopt_prepared && plan->continuous > 0) {
    state->kept.push_back(segments[plan->continuous - 1].path);
  }
  auto started = detail::start_flusher(options.flush_backend, dir, options.housekeeping_cpus);
  if (!started) return std::unexpected(started.error());
  state->flushing = std::move(*started);
  state->housekeeper = std::make_unique<detail::SegmentHousekeeper>(
      directory, options.segment_bytes, options.recycle, options.housekeeping_cpus);
  const std::uint64_t first = plan->newest_first_sequence;
  auto named = std::make_unique<std::atomic<bool>>(true);
  state->unsealed.push_back(std::make_unique<Segment>(Segment{std::move(*newest), first,
                                                              std::move(named)}));
  const Segment& current = state->current();
  // What the newest segment holds as opened, not as planned: check_journal predicts from the
  // plan, and the tests hold the two to agreement.
  state->recovery.next_sequence = current.end_sequence();
  state->recovery.cleared_tail.reset();
  if (current.file.recovery().damaged) {
    state->recovery.cleared_tail = fmt::format("{} from offset {}", current.file.path(),
                                               current.file.recovery().end_offset);
  }
  state->next_sequence.store(current.end_sequence());
  state->durable_sequence.store(first + current.file.durable_count());
  state->apply_retention();
  return Journal(std::move(state));
}

bool Journal::append(const event::EventHeader& header,
                     std::span<const std::byte> payload) noexcept {
  if (header.payload_len != payload.size()) return false;
  const std::optional<std::span<std::byte>> claimed = try_claim(header);
  if (!claimed) return false;
  if (!payload.empty()) std::memcpy(claimed->data(), payload.data(), payload.size());
  commit();
  return true;
}

std::optional<std::span<std::byte>> Journal::try_claim(const event::EventHeader& header) noexcept {
  State& s = *state_;
  s.claimed_size = 0;
  if (s.failure || ringlog::detail::is_framing(header)) return std::nullopt;
  const std::size_t size = ringlog::detail::record_size(header.payload_len);
  if (!s.current().file.fits(size) && !s.roll()) return std::nullopt;
  std::optional<std::span<std::byte>> claimed = s.current().file.claim(header);
  if (claimed) s.claimed_size = size;
  return claimed;
}

void Journal::commit() noexcept {
  State& s = *state_;
  if (s.claimed_size == 0) return;
  s.current().file.commit();
  s.appended(std::exchange(s.claimed_size, 0), 1);
  if (s.flush_due_by_bytes()) s.flush(State::Reach::left_folios);
}

void Journal::abort() noexcept { state_->claimed_size = 0; }

bool Journal::append_records(std::span<const std::byte> records) noexcept {
  State& s = *state_;
  if (s.failure) return false;
  const ringlog::detail::RecordRun whole = ringlog::detail::measure_records(records);
  if (whole.overrun) return false;
  std::span<const std::byte> rest = records.first(whole.bytes);
  std::uint64_t events_left = whole.events;
  while (!rest.empty()) {
    Segment& segment = s.current();
    const std::size_t room = segment.file.available();
    ringlog::detail::RecordRun part{rest.size(), events_left};
    if (room < detail::batch_header_bytes + rest.size()) {
      // The part that fits here; the rest goes to the next segment.
      part = room > detail::batch_header_bytes
                 ? ringlog::detail::measure_records(rest, UINT64_MAX,
                                                    room - detail::batch_header_bytes)
                 : ringlog::detail::RecordRun{};
      if (part.events == 0) {
        if (!s.roll()) return false;
        continue;
      }
    }
    segment.file.write_batch(rest.first(part.bytes), static_cast<std::uint32_t>(part.events));
    s.appended(detail::batch_header_bytes + part.bytes, part.events);
    rest = rest.subspan(part.bytes);
    events_left -= part.events;
  }
  if (s.flush_due_by_bytes()) s.flush(State::Reach::left_folios);
  return true;
}

std::uint64_t Journal::next_sequence() const noexcept {
  return state_->next_sequence.load(std::memory_order_relaxed);
}

std::uint64_t Journal::durable_sequence() const noexcept {
  return state_->durable_sequence.load(std::memory_order_acquire);
}

std::expected<void, Error> Journal::sync() {
  State& s = *state_;
  if (s.in_flight.segment != nullptr) s.settle_flush(s.flushing.flusher->wait());
  for (const auto& segment : s.unsealed) {
    if (s.failure) break;
    s.housekeeper->wait_named(*segment->named);
    if (s.housekeeper->failed()) {
      s.fail(*s.housekeeper->error());
      break;
    }
    if (segment->all_durable()) continue;
    const std::size_t offset = segment->file.write_offset();
    const std::uint64_t events = segment->file.event_count();
    if (::fdatasync(segment->file.fd()) != 0) {
      s.fail(os_error(errno, fmt::format("fdatasync {}; events from sequence {} on may not be "
                                         "durable, and the journal takes no more",
                                         segment->file.path(), s.durable_sequence.load())));
      break;
    }
    s.record_durable(*segment, offset, events);
  }
  if (s.failure) return std::unexpected(*s.failure);
  s.unflushed_bytes = 0;
  s.seal_durable_segments();
  return {};
}

void Journal::sync_async() noexcept {
  State& s = *state_;
  if (s.failure) return;
  s.prepare_ahead();
  s.flush(State::Reach::everything);
}

void Journal::flush_if_due() noexcept {
  State& s = *state_;
  if (s.failure) return;
  const auto every = s.options.flush.every;
  s.prepare_ahead();
  if (every.count() != 0 && Clock::now() - s.last_flush_start >= every) {
    s.flush(State::Reach::everything);
  } else if (s.flush_due_by_bytes()) {
    s.flush(State::Reach::left_folios);
  } else {
    s.collect_flush();
  }
}

const std::optional<Error>& Journal::failure() const noexcept { return state_->failure; }
const JournalRecovery& Journal::recovery() const noexcept { return state_->recovery; }
FlushBackend Journal::flush_backend() const noexcept { return state_->flushing.backend; }
const std::string& Journal::flush_backend_note() const noexcept { return state_->flushing.note; }
const std::filesystem::path& Journal::directory() const noexcept { return state_->directory; }
std::size_t Journal::segment_count() const noexcept {
  return state_->kept.size() + state_->unsealed.size();
}

}  // namespace ringlog::storage
