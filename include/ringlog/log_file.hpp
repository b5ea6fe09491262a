// Log files: one preallocated, memory-mapped file of framed events behind a 64-byte FileHeader.
//
// Format: the FileHeader at offset 0, then records framed exactly as in a ring (see
// detail/framing.hpp), 8-byte aligned. In a file, each record's header.reserved holds the
// CRC-32C of its first 12 header bytes followed by its payload, so a reader can tell an intact
// event from a torn or corrupted one. Unwritten space is zero. The header's event_count and
// write_offset are a checkpoint: they only ever cover events made durable by a completed sync.
//
// Threads: an MmapWriter is used by one thread. Any number of MmapReaders may map a file,
// also while a writer appends to it; each sees the intact events present when it was opened.
#pragma once

#include <ringlog/detail/framing.hpp>
#include <ringlog/error.hpp>
#include <ringlog/detail/mapping.hpp>
#include <ringlog/event.hpp>

#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

namespace ringlog::journal {

// Why a file is refused, beyond what the OS reports.
enum class LogErrc {
  not_a_log = 1,          // wrong magic
  unsupported_version,
  truncated,              // shorter than its header
  damaged_durable_data,   // a record the checkpoint calls durable fails its checksum
  capacity_too_small,
  not_a_journal,          // a directory holding files a journal never writes
  journal_gap,            // a durable segment follows a gap in the sequence
  writer_active,          // another writer holds the journal or log file
  foreign_segment,        // a segment of another journal (its header names another journal id)
  capacity_too_large,
  reader_cursor_damaged,  // a named reader's cursor file fails its checksum or is cut short
  reader_events_removed,  // a named reader's position lies in segments retention removed
  reader_past_the_end,    // a named reader's position lies past the journal's last event
  invalid_reader_name,
};
const std::error_category& log_category() noexcept;
std::error_code make_error_code(LogErrc) noexcept;

// Files' and journals' errors are ringlog's set-up errors (<ringlog/error.hpp>).
using Error = ringlog::Error;

struct FileHeader {
  char magic[4];               // "EVTL"
  std::uint32_t version;       // file_version when written by this release
  std::int64_t created_at;     // unix seconds
  std::uint64_t event_count;   // checkpoint: events below write_offset, all durable
  std::uint64_t write_offset;  // checkpoint: first byte not yet known durable
  std::byte reserved[32];
  static constexpr std::size_t SIZE = 64;
};
static_assert(sizeof(FileHeader) == FileHeader::SIZE);

inline constexpr char file_magic[4] = {'E', 'V', 'T', 'L'};
// Version 1: log files (MmapWriter) and journal segments of earlier releases. Version 2: a
// journal segment whose header carries the id of its journal. Version 3: what this release
// writes, log files and segments alike: no record's checksum is zero, so bytes left zeroed never
// pass for a record, whatever the file's seed. Readers take every version from the oldest on.
inline constexpr std::uint32_t oldest_file_version = 1;
inline constexpr std::uint32_t file_version = 3;

// What a scan of a file's records found.
struct ScanResult {
  std::size_t end_offset = FileHeader::SIZE;  // just past the last intact record
  std::uint64_t event_count = 0;              // intact events, framing records not counted
  bool damaged = false;  // the scan stopped at bytes that are neither a record nor unwritten
};

// How sync_async() reaches the disk.
enum class FlushBackend {
  automatic,  // io_uring where the kernel allows it, else a flusher thread
  io_uring,   // io_uring or an Error at create/open
  thread,     // fdatasync on a flusher thread of the writer's own
};

struct WriterOptions {
  FlushBackend flush_backend = FlushBackend::automatic;
  // CPUs for io_uring's workers or the flusher thread; empty: wherever the scheduler puts them.
  std::vector<int> housekeeping_cpus{};
};

// One writer per file: a MmapWriter holds an exclusive lock (flock(2)) on its file as long as it
// lives, taken before the file is created, truncated or recovered; a second writer, in this
// process or another, gets an Error (LogErrc::writer_active) naming the process that holds it.
class MmapWriter {
 public:
  // Makes (or truncates) the file and preallocates `capacity` bytes on disk.
  static std::expected<MmapWriter, Error> create(const std::filesystem::path&,
                                                 std::size_t capacity, WriterOptions = {});
  // Reopens an existing log and appends after its last intact event; a torn or corrupt tail
  // past the durable checkpoint is cleared (recovery() says what was found).
  static std::expected<MmapWriter, Error> open(const std::filesystem::path&, WriterOptions = {});

  MmapWriter(MmapWriter&&) noexcept;
  MmapWriter& operator=(MmapWriter&&) noexcept;
  ~MmapWriter();

  // False when the file is full, the event is malformed (payload_len differs from the payload,
  // flags bit 7 set) or an earlier flush failed; nothing is written then.
  bool write_event(const event::EventHeader&, std::span<const std::byte> payload) noexcept;

  // Returns when every written event is durable.
  std::expected<void, Error> sync();
  // Starts a flush of everything written so far and returns at once: through io_uring, or on a
  // flusher thread where io_uring is unavailable. At most one flush is in flight; each call also
  // collects a finished one, which advances durable_offset().
  void sync_async() noexcept;

  // Maps the pages of the next prepare_pages_reach_bytes past the write offset writable, in one
  // call, so that write_event takes no page fault there. A system call: make it off the hot
  // path, for example with every flush. Where the kernel lacks MADV_POPULATE_WRITE it does
  // nothing.
  void prepare_pages() noexcept;
  // How far one prepare_pages() reaches. (A Journal keeps a window of its own ahead of the
  // writer, JournalOptions::prepare_ahead_bytes, topped up by its housekeeping thread.)
  static constexpr std::size_t prepare_pages_reach_bytes = std::size_t{4} << 20;

  std::uint64_t event_count() const noexcept;
  std::size_t write_offset() const noexcept;
  std::size_t capacity() const noexcept;
  std::size_t available() const noexcept;
  std::size_t durable_offset() const noexcept;  // what completed flushes have made durable
  FlushBackend flush_backend() const noexcept;  // io_uring or thread: what it got
  const std::string& flush_backend_note() const noexcept;  // why, for a start-up banner
  const ScanResult& recovery() const noexcept;  // what open() found; create(): an empty file
  const std::optional<Error>& failure() const noexcept;  // the flush error that stopped it

 private:
  struct State;
  explicit MmapWriter(std::unique_ptr<State>) noexcept;
  std::unique_ptr<State> state_;
};

class MmapReader {
 public:
  // A file that is not a ringlog log (bad magic or version, too short) is an Error.
  static std::expected<MmapReader, Error> open(const std::filesystem::path&);

  class iterator {
   public:
    using iterator_concept = std::forward_iterator_tag;
    using iterator_category = std::input_iterator_tag;
    using value_type = event::EventView;
    using difference_type = std::ptrdiff_t;

    iterator() noexcept = default;
    iterator(const std::byte* at, const std::byte* end) noexcept : at_(at), end_(end) {
      skip_framing();
    }
    event::EventView operator*() const noexcept { return ringlog::detail::view_at(at_); }
    iterator& operator++() noexcept {
      at_ += ringlog::detail::record_size(ringlog::detail::load_header(at_).payload_len);
      skip_framing();
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const iterator& other) const noexcept { return at_ == other.at_; }

   private:
    void skip_framing() noexcept {
      while (at_ != end_ && ringlog::detail::is_framing(ringlog::detail::load_header(at_))) {
        at_ += ringlog::detail::record_size(ringlog::detail::load_header(at_).payload_len);
      }
    }
    const std::byte* at_ = nullptr;
    const std::byte* end_ = nullptr;
  };

  iterator begin() const noexcept {
    return {mapping_.data() + FileHeader::SIZE, mapping_.data() + scan_.end_offset};
  }
  iterator end() const noexcept {
    return {mapping_.data() + scan_.end_offset, mapping_.data() + scan_.end_offset};
  }

  // on_event(const event::EventView&) for every intact event in order; returns the count.
  template <class F>
  std::uint64_t replay(F&& on_event) const {
    std::uint64_t count = 0;
    for (const event::EventView& view : *this) {
      on_event(view);
      ++count;
    }
    return count;
  }

  std::uint64_t event_count() const noexcept { return scan_.event_count; }
  const ScanResult& scan() const noexcept { return scan_; }
  FileHeader header() const noexcept;  // as the file holds it now

 private:
  MmapReader(ringlog::detail::Mapping mapping, ScanResult scan) noexcept
      : mapping_(std::move(mapping)), scan_(scan) {}
  ringlog::detail::Mapping mapping_;  // read-only pages of the whole file
  ScanResult scan_;
};

}  // namespace ringlog::journal

template <>
struct std::is_error_code_enum<ringlog::journal::LogErrc> : std::true_type {};

namespace ringlog {
// The namespace's name until the folders and namespaces were made to agree: kept for one
// release, so that code written against it compiles unchanged.
namespace storage = journal;
}  // namespace ringlog
