// The journal: a directory of preallocated, memory-mapped segment files, each a log file (see
// storage.hpp) named by the sequence number of its first event: 00000000000000000000.evtl, ...
//
// Sequence numbers count events from 0 across the whole journal. A segment's header records its
// first sequence number and the seed its checksums start from, so that records left in a
// recycled file are never read as new ones. Durability is group commit: at most one fdatasync in
// flight (io_uring, or a flusher thread), covering what was written before it started; only its
// completion advances durable_sequence(), segment by segment in order.
//
// Threads: a Journal is used by one thread (the one that appends); durable_sequence() and
// next_sequence() may be read from any thread. Segments are created, named, recycled and removed
// by a housekeeping thread of the journal's own, off the appending thread. A JournalReader is used
// by one thread, and may run in another thread or process while the journal is appended to.
#pragma once

#include <ringlog/event.hpp>
#include <ringlog/log_file.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringlog::journal {

// When the journal starts a flush on its own. Both zero: only on request (sync, sync_async).
// A flush the bytes trigger covers the 2 MiB stretches the writer has left behind (writeback
// write-protects what it writes, and the writer's next store there would fault); the timer's,
// and one asked for, cover everything appended. One flush runs at a time, so under a 100 us
// timer they follow each other while events arrive (group commit) and the timer only caps them
// at 10,000 a second: ringlog serve at 1 M events/s on a 2-CPU guest made events durable in
// 0.41 ms at p50 and 1.4 ms at p99, against 0.87 and 2.5 ms with a 1 ms timer.
struct FlushPolicy {
  std::size_t every_bytes = std::size_t{1} << 20;  // once this much was appended since the last
  std::chrono::microseconds every{100};            // once this long has passed (flush_if_due)
  static constexpr FlushPolicy on_request() noexcept { return {0, std::chrono::microseconds{0}}; }
};

struct JournalOptions {
  std::size_t segment_bytes = std::size_t{256} << 20;  // each file, preallocated in full
  FlushPolicy flush{};
  // Retention: the oldest segments go, once durable, while more than keep_segments stay, or
  // more than keep_bytes of segment files, or while the oldest's newest event is older than
  // keep_for (its age is counted from when it was sealed, and looked at as segments roll). Each
  // 0: no limit of that kind; all 0 keeps every segment. Named readers can hold segments longer
  // (reader_hold_limit).
  std::size_t keep_segments = 0;
  std::uint64_t keep_bytes = 0;       // at least one segment stays
  std::chrono::seconds keep_for{0};
  bool recycle = true;  // a segment past keep_segments becomes the next one instead of deleted
  // Named readers (ReaderOptions::name) hold the segments they have not read past
  // keep_segments, as long as each committed within this long; a reader that has not is
  // reported by its next open() (which events went) and by `ringlog readers`, and holds nothing.
  // 0: they hold segments however long ago they committed.
  std::chrono::seconds reader_hold_limit{0};
  // Writeback pacing, 0 for none: once this many bytes were appended since the last request,
  // the housekeeping thread asks the kernel to start writing them back (sync_file_range with
  // SYNC_FILE_RANGE_WRITE). Dirty pages then stay few and each fdatasync finds little left to
  // do. It promises nothing about a crash: only a completed flush moves durable_sequence().
  std::size_t writeback_every_bytes = 0;
  // How far ahead of the writer the housekeeping thread keeps pages mapped writable, topped up
  // whenever an eighth of it is used; 0 for none (the writer then faults on every new page).
  // These pages count as dirty. It covers this long a stall of the housekeeper (a segment being
  // created, say): 32 MiB is 13 ms at 2.4 GB/s of appends.
  std::size_t prepare_ahead_bytes = std::size_t{32} << 20;
  FlushBackend flush_backend = FlushBackend::automatic;
  // CPUs for the journal's background work: io_uring's workers (where every fsync runs), the
  // flusher thread and the segment housekeeper. Empty: wherever the scheduler puts them (and
  // io_uring's workers beside the thread that flushes). Give it the CPUs other than the
  // producer's and consumer's, so a flush never preempts them.
  std::vector<int> housekeeping_cpus{};
  // CPUs for the flushes alone (io_uring's workers, or the flusher thread), where they are to
  // run apart from the housekeeper; empty: housekeeping_cpus. On two CPUs a throughput run puts
  // the housekeeper beside the producer and the flushes beside a consumer that rests while one
  // runs (rest_while_flushing).
  std::vector<int> flush_cpus{};
  // The sequence number of a new journal's first event: a copy of a journal whose oldest events
  // are gone elsewhere (ringlog fetch) starts where the copy starts. An existing journal keeps
  // its own.
  std::uint64_t first_sequence = 0;

  static constexpr std::size_t min_segment_bytes = std::size_t{1} << 20;  // any event fits
  // Batches hold at most 2^32 - 1 events: segments this small guarantee it (16-byte records).
  static constexpr std::size_t max_segment_bytes = std::size_t{1} << 36;
};

// Why Journal::open refuses `options` before it touches anything (a segment size out of range):
// its code and what is wrong, for configuration checkers to share. Nothing when they are usable.
std::optional<Error> check_options(const JournalOptions&);

// What Journal::open found and did.
struct JournalRecovery {
  std::size_t segments = 0;           // segment files found
  std::uint64_t next_sequence = 0;    // appending continues here
  // "<file> from offset <n>" when a torn or corrupt tail of the newest segment was cleared.
  std::optional<std::string> cleared_tail;
  std::vector<std::filesystem::path> set_aside;  // segments after a gap, renamed *.dropped
  bool clean() const noexcept { return !cleared_tail && set_aside.empty(); }
  std::string summary() const;        // one line
};

// What Journal::open would do with `directory` now, without changing anything in it or taking
// its lock: the recovery it would report, or the Error it would refuse with (another process
// writing the journal included). It reads what open reads: every segment header, the events
// past each checkpoint, the newest segment whole. For configuration checkers.
std::expected<JournalRecovery, Error> preview_open(const std::filesystem::path& directory);

// What every journal reader hands out: the event and its place in the journal.
struct JournalEvent {
  std::uint64_t sequence;
  event::EventView view;  // points into the segment's mapping
};

class Journal {
 public:
  // Creates the directory, or recovers the journal in it and continues after its last intact
  // event. A directory holding anything but a journal's files is an Error and stays untouched.
  // One writer per journal: the Journal holds an exclusive lock on the directory's journal.lock
  // (flock(2)) as long as it lives, and a second one, in this process or another, is an Error
  // (LogErrc::writer_active) that names the process holding it. Readers take no lock.
  static std::expected<Journal, Error> open(const std::filesystem::path& directory,
                                            JournalOptions = {});

  Journal(Journal&&) noexcept;
  Journal& operator=(Journal&&) noexcept;
  // Waits for the flush in flight and for the housekeeping thread; call sync() first to make
  // everything durable.
  ~Journal();

  // False only when the journal cannot take the event: it is malformed (payload_len differs
  // from the payload, flags bit 7 set other than on a drop marker, event::drop_marker_header,
  // which the journal keeps like an event), or the journal has failed (failure() says why).
  bool append(const event::EventHeader&, std::span<const std::byte> payload) noexcept;

  // Zero-copy append: header.payload_len bytes to fill in place, published by commit(); nullopt
  // when append() would return false. abort() or the next try_claim() drops a claim.
  [[nodiscard]] std::optional<std::span<std::byte>> try_claim(const event::EventHeader&) noexcept;
  void commit() noexcept;
  void abort() noexcept;

  // Persists a contiguous run of ring records (framed as in a ring: each header, payload,
  // padding to 8 bytes) with one copy and one checksum per segment it lands in. A ring padding
  // record and anything after it ends the run. False as for append(), or when the run is not
  // whole records; nothing of a refused run is written.
  bool append_records(std::span<const std::byte> records) noexcept;

  std::uint64_t next_sequence() const noexcept;
  // Every event with a lower sequence number survives a crash of the process or the machine.
  std::uint64_t durable_sequence() const noexcept;

  // Sleeps (futex(2), no spinning) until durable_sequence() reaches `sequence`, from any thread
  // but the appending one (whose flush_if_due()/sync() move it); false when `timeout` passed
  // first or the journal failed.
  bool wait_durable(std::uint64_t sequence, std::chrono::nanoseconds timeout) const noexcept;
  // Blocks until everything appended is durable.
  std::expected<void, Error> sync();
  // Collects a finished flush and starts the next one, if there is anything to flush; returns at
  // once. Also keeps pages ready ahead of the writer.
  void sync_async() noexcept;
  // The flush policy's timer: call it from the appending thread between batches or when idle
  // (it reads the clock once).
  void flush_if_due() noexcept;
  // For an appending thread with nothing to append: while a flush is in flight, sleeps until it
  // finishes or `at_most` passes, and collects it as flush_if_due() does; returns at once when
  // none is. A thread that spins instead keeps its CPU from the flush's worker where the two
  // share one (a 2-CPU host): woken by its disk, the worker then waits for the scheduler's next
  // tick, up to 4 ms.
  void rest_while_flushing(std::chrono::nanoseconds at_most) noexcept;

  const std::optional<Error>& failure() const noexcept;  // why the journal stopped
  const JournalRecovery& recovery() const noexcept;
  FlushBackend flush_backend() const noexcept;
  const std::string& flush_backend_note() const noexcept;
  const std::filesystem::path& directory() const noexcept;
  std::size_t segment_count() const noexcept;  // segment files now in the directory

 private:
  struct State;
  explicit Journal(std::unique_ptr<State>) noexcept;
  std::unique_ptr<State> state_;
};

// How far a JournalReader reads: every event appended (visible once committed, even before a
// flush), or only those a completed flush made durable, which a machine crash cannot take back.
// A reader that passes events on to other machines reads durable events only: otherwise a crash
// could leave elsewhere events the journal no longer holds, under sequence numbers it reuses.
enum class ReadLimit { appended, durable };

// A reader's options. A named reader keeps its place in the journal's directory
// (readers/<name>.cursor): open() resumes after the last position it committed, and retention
// never removes a segment it still needs (within JournalOptions::reader_hold_limit).
struct ReaderOptions {
  std::string name;  // letters, digits, '.', '_', '-'; "" for a reader that keeps no place
  ReadLimit limit = ReadLimit::appended;
};

// Reads a journal from a cursor: replay from the start or from a sequence number, or follow
// events as they are appended (poll() again after it returns 0).
class JournalReader {
 public:
  // A directory that is not a journal is an Error; an empty one is an empty journal.
  static std::expected<JournalReader, Error> open(const std::filesystem::path& directory,
                                                  ReadLimit = ReadLimit::appended);
  // A named reader starts where it last committed (a new one at the oldest event kept). An
  // Error, saying which events and why, when it cannot go on from there without a gap: the
  // segments past its position were removed (it lagged past the hold limit), or its position
  // lies past the journal's end (events read before a crash made them durable were lost: read
  // with ReadLimit::durable to never see this); or when its cursor file is damaged.
  static std::expected<JournalReader, Error> open(const std::filesystem::path& directory,
                                                  const ReaderOptions& options);

  JournalReader(JournalReader&&) noexcept;
  JournalReader& operator=(JournalReader&&) noexcept;
  ~JournalReader();

  // on_event(const JournalEvent&) for every intact event from the first, in order; returns the
  // count. Stops before the first damaged record or gap: nothing after one is handed out. A
  // publisher's drop marker comes as an event, in its place (event::as_drop_marker reads it).
  template <class F>
  std::uint64_t replay(F&& on_event) {
    seek(0);
    return poll(on_event);
  }
  // The same from `sequence` on (from the oldest kept segment when `sequence` is older).
  template <class F>
  std::uint64_t replay_from(std::uint64_t sequence, F&& on_event) {
    seek(sequence);
    return poll(on_event);
  }
  // Up to `limit` events after the cursor: those appended since the last call, when tailing.
  template <class F>
  std::uint64_t poll(F&& on_event, std::uint64_t limit = UINT64_MAX) {
    std::uint64_t count = 0;
    while (count < limit) {
      const std::optional<JournalEvent> next_event = next();
      if (!next_event) break;
      on_event(*next_event);
      ++count;
    }
    return count;
  }

  // The next event, or nullopt when there is none yet. Its view stays valid until the next call.
  std::optional<JournalEvent> next();
  // Moves the cursor to the first event at or after `sequence`.
  void seek(std::uint64_t sequence);
  // Moves the cursor to the first event, in sequence order, whose header timestamp is at or
  // after `timestamp` (the journal does not interpret it; the service's publishers write
  // nanoseconds since the epoch). Timestamps may step backwards (publishers' clocks differ): as
  // Kafka does, seeking keeps the running maximum, so it lands where the greatest timestamp so
  // far first reaches `timestamp`; an older event after that point is still handed out. No
  // event that recent yet: the cursor waits at the journal's end. "So far" counts from the
  // journal's first event: segments removed by retention do not move where a seek lands. It
  // lists the directory and bisects the sealed segments by their time indexes (written once a
  // segment is sealed, an entry every 64 KiB) rather than reading events, and scans only the
  // newest segment and 64 KiB of the one it lands in.
  void seek_time(std::uint64_t timestamp);
  std::uint64_t position() const noexcept;  // the sequence number next() hands out next
  // Why the reader stopped for good: it reached a segment of another journal (its header
  // carries another journal id than the journal's other segments). next() then returns nullopt.
  const std::optional<Error>& failure() const noexcept;
  // The sequence number after the newest intact event now in the journal.
  std::uint64_t end_sequence() const;
  // The sequence number after the newest durable event now in the journal: where a reader with
  // ReadLimit::durable stops. It reads the newest segment up to its checkpoint.
  std::uint64_t durable_end_sequence() const;

  // A named reader records position() durably: after a crash or a restart, open() resumes
  // there. Crash-safe (the file is replaced whole), a few system calls and an fdatasync: commit
  // after a batch, not after each event. An Error when the reader has no name or the cursor
  // cannot be written; the committed position is then the previous one.
  std::expected<void, Error> commit_position();

 private:
  struct State;
  explicit JournalReader(std::unique_ptr<State>) noexcept;
  std::expected<void, Error> resume();  // a named reader: to its committed position
  std::unique_ptr<State> state_;
};

// A named reader as its cursor file records it.
struct ReaderPosition {
  std::string name;
  std::uint64_t position = 0;  // the sequence number it reads next
  std::filesystem::file_time_type committed_at{};
  std::optional<Error> problem;  // its cursor file is damaged (then position is 0)
};

// Records `position` for the named reader `name` of the journal at `directory`, as
// JournalReader::commit_position does: for a reader whose progress is known elsewhere (the
// shipper's: what the stream acknowledged), so that retention holds what it has yet to pass on.
std::expected<void, Error> commit_reader_position(const std::filesystem::path& directory,
                                                  std::string_view name,
                                                  std::uint64_t position);

// The named readers of the journal at `directory`, by name.
std::expected<std::vector<ReaderPosition>, Error> list_readers(
    const std::filesystem::path& directory);

// What check_journal() found in each segment file.
struct SegmentCheck {
  std::filesystem::path path;
  std::uint64_t first_sequence = 0;  // from its name
  ScanResult scan;                   // every record checked
  std::size_t checkpoint = 0;        // the header's durable write offset
};

struct JournalCheck {
  std::vector<SegmentCheck> segments;  // those that are log files
  std::uint64_t first_sequence = 0;
  std::uint64_t intact_events = 0;  // what a reader hands out: from first_sequence on
  // The first problem and what a writer reopening the journal does about it; empty when intact.
  std::string problem;
  bool durable_data_damaged = false;  // the problem lies below a durable checkpoint
  bool foreign_segment = false;       // a segment belongs to another journal
  // What a writer opening the journal does, worked out by the same code as Journal::open: the
  // recovery it reports, or the Error it refuses to append with.
  std::expected<JournalRecovery, Error> writer = JournalRecovery{};
};

// Checks every record of every segment, in order, and their continuity. An Error when the
// directory cannot be read or is not a journal.
std::expected<JournalCheck, Error> check_journal(const std::filesystem::path& directory);

}  // namespace ringlog::journal

namespace ringlog {
// The namespace's name until the folders and namespaces were made to agree: kept for one
// release, so that code written against it compiles unchanged.
namespace storage = journal;
}  // namespace ringlog
