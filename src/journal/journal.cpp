#include <ringlog/journal.hpp>
#include <ringlog/detail/assert.hpp>
#include <ringlog/detail/progress_wait.hpp>

#include "journal/file/flush_tracker.hpp"
#include "journal/flush/flush_backend.hpp"
#include "journal/journal_directory.hpp"
#include "journal/journal_recovery.hpp"
#include "journal/file/log_file.hpp"
#include "journal/segment_chain.hpp"
#include "journal/segment_housekeeper.hpp"
#include "journal/time_index.hpp"
#include "journal/file/writer_lock.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <deque>

namespace ringlog::journal {

using detail::LogFile;
using detail::Segment;

namespace {

using Clock = std::chrono::steady_clock;

// How often, at most, a flush of the segment being appended to moves its header's checkpoint.
// Each move dirties the header's page, which the next flush then writes apart from the records:
// a second write in every flush, 50 us of its 210 us at 100 k events/s (journal_bench, ext4 on
// virtio). Durability does not rest on the checkpoint (recovery scans past it); readers of
// durable events (the shipper) wait on it, so they see durable events up to this much later.
constexpr auto checkpoint_every = std::chrono::milliseconds(1);

// A sealed segment's records made durable, then its checkpoint moved past them.
std::expected<void, Error> record_seal(const detail::StaleCheckpoint& stale) {
  const std::string path = stale.path.string();
  auto file = detail::open_file(path, O_RDWR);
  if (!file) return std::unexpected(file.error());
  const auto failed = [&](int error) {
    return std::unexpected(Error::from_os(
        error, fmt::format("record the checkpoint of sealed segment {} ({} events)", path,
                           stale.event_count)));
  };
  // The records reach the disk before the checkpoint that vouches for them can.
  if (::fdatasync(file->get()) != 0) return failed(errno);
  if (const int error =
          detail::store_checkpoint(file->get(), stale.event_count, stale.end_offset)) {
    return failed(error);
  }
  if (::fdatasync(file->get()) != 0) return failed(errno);
  return {};
}

// The housekeeper's work ahead of a journal being opened: sealed segments get the checkpoints
// the writer did not record, the segments recovery sets aside get their new names, a prepared
// segment that was written to becomes the newest, and preallocated space left over goes; then
// the directory's entries are made durable.
std::expected<void, Error> carry_out(const detail::RecoveryPlan& plan) {
  const std::filesystem::path& directory = plan.listing.directory;
  const std::vector<detail::SegmentEntry>& segments = plan.listing.segments;
  for (const detail::StaleCheckpoint& stale : plan.stale_checkpoints) {
    if (auto recorded = record_seal(stale); !recorded) return recorded;
  }
  for (std::size_t i = plan.continuous; i < segments.size(); ++i) {
    const std::filesystem::path& dropped = plan.outcome->set_aside[i - plan.continuous];
    if (std::rename(segments[i].path.c_str(), dropped.c_str()) != 0) {
      return std::unexpected(Error::from_os(errno, fmt::format("set aside {}", dropped.string())));
    }
    // Its time index goes with it: the name may be a new segment's later, and seeking trusts
    // the indexes of the segments it passes.
    ::unlink(detail::time_index_path(segments[i].path).c_str());
  }
  const std::filesystem::path prepared = directory / detail::prepared_segment_name;
  if (plan.adopt_prepared) {
    const std::filesystem::path named =
        directory / detail::segment_file_name(plan.newest_first_sequence);
    if (std::rename(prepared.c_str(), named.c_str()) != 0) {
      return std::unexpected(Error::from_os(errno, fmt::format("rename {}", prepared.string())));
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
  State(detail::WriterLock held, const JournalOptions& chosen) noexcept
      : lock(std::move(held)),
        options(chosen),
        segments({chosen.keep_segments, chosen.keep_bytes, chosen.keep_for, chosen.segment_bytes}),
        window(chosen.prepare_ahead_bytes, chosen.writeback_every_bytes) {}

  detail::WriterLock lock;  // first: held until everything else has gone
  std::filesystem::path directory;
  detail::JournalId id{};  // in every segment this journal starts
  JournalOptions options;
  JournalRecovery recovery;
  std::optional<Error> failure;

  std::atomic<std::uint64_t> next_sequence{0};
  std::atomic<std::uint64_t> durable_sequence{0};
  ringlog::detail::ProgressSignal durable_progress;  // Journal::wait_durable's
  std::atomic<bool> failed{false};                   // `failure` is set, for other threads

  detail::SegmentChain segments;
  detail::PageWindow window;  // around the writer in the current segment
  // Declared after the segments: destroyed first, so no flush, rename or page mapped ahead
  // outlives its segment.
  detail::FlushTracker flushing;
  std::unique_ptr<detail::SegmentHousekeeper> housekeeper;

  ~State() {
    // The checkpoints deferred: a clean close leaves every segment's header up to date.
    for (const auto& segment : segments.unsealed()) segment->file.store_owed_checkpoint();
  }

  std::size_t unflushed_bytes = 0;  // appended since the last flush started
  Clock::time_point last_checkpoint{};  // of the segment being appended to
  Clock::time_point last_flush_start = Clock::now();
  std::size_t claimed_size = 0;  // the record try_claim() placed, 0 when none

  Segment& current() noexcept { return segments.current(); }

  void fail(Error error) noexcept {
    if (!failure) failure = std::move(error);
    failed.store(true, std::memory_order_release);
    ringlog::detail::announce_progress(durable_progress, /*shared=*/false);  // waiters give up
  }

  void appended(std::size_t bytes, std::uint64_t events) noexcept {
    next_sequence.store(next_sequence.load(std::memory_order_relaxed) + events,
                        std::memory_order_relaxed);
    unflushed_bytes += bytes;
  }

  bool flush_due_by_bytes() const noexcept {
    return options.flush.every_bytes != 0 && unflushed_bytes >= options.flush.every_bytes;
  }

  // Pages ahead of the writer, writeback behind it, and the next segment once the current one
  // is half used.
  void prepare_ahead() noexcept { window.tend(current().file, *housekeeper); }

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
    segments.append(std::make_unique<Segment>(Segment{std::move(*file), first, std::move(named)}));
    window.restart();
    seal_durable_segments();
    return true;
  }

  void seal_durable_segments() { segments.seal_durable(flushing.file_in_flight(), *housekeeper); }

  // `defer_checkpoint`: the segment's header checkpoint may wait (store_owed_checkpoint).
  void record_durable(Segment& segment, std::size_t offset, std::uint64_t events,
                      bool defer_checkpoint = false) noexcept {
    segment.file.record_durable(offset, events, defer_checkpoint);
    // Once a flush: waiters and publishers take every event below the mark as safe, so a mark
    // that went back would have told them so of events that were not.
    RINGLOG_CHECK(segment.first_sequence + events >=
                      durable_sequence.load(std::memory_order_relaxed),
                  "the durable mark only moves forward");
    durable_sequence.store(segment.first_sequence + events, std::memory_order_release);
    ringlog::detail::announce_progress(durable_progress, /*shared=*/false);
  }

  void settle_flush(const detail::FlushTracker::Finished& finished) noexcept {
    Segment* segment = segments.holding(finished.file);
    RINGLOG_CHECK(segment != nullptr, "a segment stays unsealed while it is being flushed");
    if (finished.result < 0) {
      fail(Error::from_os(-finished.result,
                          fmt::format("fdatasync of {} ({}); events from sequence {} on may not "
                                      "be durable, and the journal takes no more",
                                      finished.file->path(), flushing.note(),
                                      durable_sequence.load())));
      return;
    }
    // Only the segment being appended to defers: a sealed one's final checkpoint is due now.
    const Clock::time_point now = Clock::now();
    const bool defer = segment == &current() && now - last_checkpoint < checkpoint_every;
    if (!defer) last_checkpoint = now;
    record_durable(*segment, finished.offset, finished.events, defer);
    seal_durable_segments();
  }

  // The checkpoint a flush deferred, once its time has come: for readers of durable events
  // while the journal stays idle.
  void store_checkpoint_when_due() noexcept {
    const Clock::time_point now = Clock::now();
    if (now - last_checkpoint >= checkpoint_every && current().file.store_owed_checkpoint()) {
      last_checkpoint = now;
    }
  }

  // How much of the segment being appended to a flush covers.
  enum class Reach {
    // Only the pages the writer has left, so that it never stores to a page writeback has
    // protected; nothing when they hold nothing new. For flushes the appended bytes trigger:
    // under load they always find something new there.
    left_pages,
    // The same where it flushes something new, else everything: for flushes the timer or the
    // caller asks for, whose point is that what was appended becomes durable. Under light
    // load the page being written is then protected, and the writer's next store there
    // faults.
    everything,
  };

  // Starts a flush of the oldest segment with events not yet durable.
  void start_flush(Reach reach) noexcept {
    if (housekeeper->failed()) fail(*housekeeper->error());
    if (failure) return;
    Segment& target = segments.oldest_unsealed();
    if (target.all_durable() || !target.named->load(std::memory_order_acquire)) return;
    LogFile& file = target.file;
    std::size_t offset = file.write_offset();
    std::uint64_t events = file.event_count();
    if (&target == &current()) {
      if (file.left_pages_offset() > file.durable_offset()) {
        offset = file.left_pages_offset();
        events = file.left_pages_count();
      } else if (reach == Reach::left_pages) {
        return;
      }
    }
    unflushed_bytes = 0;
    last_flush_start = Clock::now();
    if (int result = flushing.start(file, offset, events); result < 0) {
      fail(Error::from_os(-result, fmt::format("start a flush of {}", file.path())));
    }
  }

  // Collects a finished flush and starts the next. The appending calls use this alone: pages
  // are prepared between batches (flush_if_due), where their faults cost no append.
  void flush(Reach reach) noexcept {
    if (!failure && collect_flush()) start_flush(reach);
  }

  // Takes the result of a finished flush without waiting; true when none is in flight now.
  bool collect_flush() noexcept {
    if (!flushing.in_flight()) return true;
    const std::optional<detail::FlushTracker::Finished> finished = flushing.poll();
    if (!finished) return false;
    settle_flush(*finished);
    return true;
  }
};

Journal::Journal(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}
Journal::Journal(Journal&&) noexcept = default;
Journal& Journal::operator=(Journal&&) noexcept = default;
Journal::~Journal() = default;

std::optional<Error> check_options(const JournalOptions& options) {
  if (options.segment_bytes < JournalOptions::min_segment_bytes) {
    return Error{make_error_code(LogErrc::capacity_too_small),
                 fmt::format("segment size {} is below the least, {}", options.segment_bytes,
                             JournalOptions::min_segment_bytes)};
  }
  if (options.segment_bytes > JournalOptions::max_segment_bytes) {
    return Error{make_error_code(LogErrc::capacity_too_large),
                 fmt::format("segment size {} is above the largest, {}", options.segment_bytes,
                             JournalOptions::max_segment_bytes)};
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
    return std::unexpected(Error{invalid->code, fmt::format("open journal {}: {}", dir,
                                                             invalid->context)});
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

  auto state = std::make_unique<State>(std::move(*lock), options);
  state->directory = directory;
  state->id = plan->id;
  state->recovery = std::move(*plan->outcome);
  const std::vector<detail::SegmentEntry>& segments = plan->listing.segments;
  std::vector<std::filesystem::path> sealed;
  for (std::size_t i = 0; i + 1 < plan->continuous; ++i) sealed.push_back(segments[i].path);
  if (plan->adopt_prepared && plan->continuous > 0) {
    sealed.push_back(segments[plan->continuous - 1].path);
  }
  for (const std::filesystem::path& segment : sealed) state->segments.keep_sealed(segment);
  const std::vector<int>& flush_cpus =
      options.flush_cpus.empty() ? options.housekeeping_cpus : options.flush_cpus;
  auto started = detail::start_flusher(options.flush_backend, dir, flush_cpus);
  if (!started) return std::unexpected(started.error());
  state->flushing = detail::FlushTracker(std::move(*started));
  state->housekeeper = std::make_unique<detail::SegmentHousekeeper>(
      directory, options.segment_bytes, options.recycle, options.reader_hold_limit,
      options.housekeeping_cpus);
  state->housekeeper->index_sealed(std::move(sealed));
  const std::uint64_t first = plan->newest_first_sequence;
  auto named = std::make_unique<std::atomic<bool>>(true);
  state->segments.append(
      std::make_unique<Segment>(Segment{std::move(*newest), first, std::move(named)}));
  const Segment& current = state->current();
  // LogFile::open refuses a checkpoint beyond the intact events: the durable mark set below
  // never passes the next sequence.
  RINGLOG_CHECK(current.file.durable_count() <= current.file.event_count(),
                "recovery never continues below the checkpoint");
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
  state->segments.apply_retention(*state->housekeeper);
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
  if (s.flush_due_by_bytes()) s.flush(State::Reach::left_pages);
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
    const bool written =
        segment.file.write_batch(rest.first(part.bytes), static_cast<std::uint32_t>(part.events));
    // Measured against the room above: a batch left unwritten would still be counted appended.
    RINGLOG_CHECK(written, "a part measured to fit its segment is written");
    s.appended(detail::batch_header_bytes + part.bytes, part.events);
    rest = rest.subspan(part.bytes);
    events_left -= part.events;
  }
  // Once a call: next_sequence counted the parts' events, which must be the run's.
  RINGLOG_CHECK(events_left == 0, "the batches written hold every event measured");
  if (s.flush_due_by_bytes()) s.flush(State::Reach::left_pages);
  return true;
}

std::uint64_t Journal::next_sequence() const noexcept {
  return state_->next_sequence.load(std::memory_order_relaxed);
}

std::uint64_t Journal::durable_sequence() const noexcept {
  return state_->durable_sequence.load(std::memory_order_acquire);
}

bool Journal::wait_durable(std::uint64_t sequence, std::chrono::nanoseconds timeout) const noexcept {
  return ringlog::detail::wait_for_progress(state_->durable_sequence, sequence,
                                            state_->durable_progress, timeout, /*shared=*/false,
                                            &state_->failed);
}

std::expected<void, Error> Journal::sync() {
  State& s = *state_;
  if (const auto finished = s.flushing.wait()) s.settle_flush(*finished);
  for (const auto& segment : s.segments.unsealed()) {
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
      s.fail(Error::from_os(errno, fmt::format("fdatasync {}; events from sequence {} on may not "
                                               "be durable, and the journal takes no more",
                                               segment->file.path(),
                                               s.durable_sequence.load())));
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
    s.flush(State::Reach::left_pages);
  } else {
    s.collect_flush();
  }
  s.store_checkpoint_when_due();
}

void Journal::rest_while_flushing(std::chrono::nanoseconds at_most) noexcept {
  State& s = *state_;
  if (s.failure || !s.flushing.in_flight()) return;
  if (const auto finished = s.flushing.wait_for(at_most)) s.settle_flush(*finished);
}

const std::optional<Error>& Journal::failure() const noexcept { return state_->failure; }
const JournalRecovery& Journal::recovery() const noexcept { return state_->recovery; }
FlushBackend Journal::flush_backend() const noexcept { return state_->flushing.backend(); }
const std::string& Journal::flush_backend_note() const noexcept {
  return state_->flushing.note();
}
const std::filesystem::path& Journal::directory() const noexcept { return state_->directory; }
std::size_t Journal::segment_count() const noexcept { return state_->segments.count(); }

}  // namespace ringlog::journal
