// One writable log file: the part of a writer that MmapWriter and each Journal segment share.
// It places records, keeps the offsets, prepares pages ahead of the writer and moves the durable
// checkpoint; when and how the file is flushed is up to its owner.
#pragma once

#include "journal/file/log_format.hpp"
#include "journal/file/mapped_file.hpp"
#include "journal/time_index.hpp"

#include <ringlog/detail/page_sizes.hpp>
#include <ringlog/log_file.hpp>

#include <expected>
#include <functional>
#include <optional>
#include <span>
#include <string>

namespace ringlog::journal::detail {

// A stretch of a file's mapping, whole pages.
struct PageRange {
  std::byte* start = nullptr;
  std::size_t length = 0;
  bool empty() const noexcept { return length == 0; }
};

// Maps the range writable at once (MADV_POPULATE_WRITE), so that stores there take no page
// fault. Where the kernel lacks it (before Linux 5.14), the pages fault in one by one instead.
void map_writable(PageRange) noexcept;

// Pages ahead of a journal's writer are mapped by its housekeeper in steps of page_step_bytes,
// each left to the writer once the writer is within writer_reach_bytes of it; the writer maps
// that stretch itself, should the housekeeper be late, in one call (PageWindow). Two threads
// faulting on the same pages wait for each other's page locks, page after page: on 2 CPUs the
// writer then spent 15 us a page, against 2 us alone.
inline constexpr std::size_t page_step_bytes = std::size_t{256} << 10;
inline constexpr std::size_t writer_reach_bytes = 2 * page_step_bytes;
// Drops the range's page-table entries; its data stays in the page cache.
void unmap(PageRange) noexcept;
// Writes a log file's checkpoint (FileHeader::event_count and write_offset) through its
// descriptor: 0, or the errno (EIO for a short write). It reaches the disk with the next flush.
int store_checkpoint(int fd, std::uint64_t event_count, std::size_t write_offset) noexcept;

class LogFile {
 public:
  // Makes (or truncates) the file, preallocates `capacity` bytes on disk and writes every block
  // (write_blocks, calling `between_block_steps` between steps), writes the header and makes the
  // new file durable (its directory entry too).
  static std::expected<LogFile, Error> create(
      const std::string& path, std::size_t capacity,
      const std::function<bool()>& between_block_steps = {});
  // Why create() refuses `capacity` before it touches anything; nothing when it does not.
  static std::optional<Error> invalid_capacity(const std::string& path, std::size_t capacity);
  // The same over an existing file whose blocks are kept, and its cached pages where all are
  // cached (else its content is cleared first).
  static std::expected<LogFile, Error> recycle(const std::string& path, std::size_t capacity);
  // Reopens a log: scans it whole, refuses damage below the checkpoint, and clears the tail
  // after the last intact record (zeros, its blocks written) so that the next record follows it
  // and nothing a crash left there is read.
  static std::expected<LogFile, Error> open(const std::string& path);

  // Gives a fresh file its place in journal `id`: from now on its checksums start from the seed,
  // and its time index is built as units are written.
  void start_segment(std::uint64_t first_sequence, const JournalId& id) noexcept;
  // The time index built since start_segment() or, for a segment continued, since open(): for
  // the segment now sealed. Nothing for a file that is no journal segment.
  std::optional<TimeIndexContent> take_time_index() { return times_.take(); }

  // False when the record does not fit or is malformed; nothing is written then.
  bool write_event(const event::EventHeader&, std::span<const std::byte> payload) noexcept;
  // The payload bytes of a record placed at the write offset; commit() publishes it.
  std::optional<std::span<std::byte>> claim(const event::EventHeader&) noexcept;
  void commit() noexcept;
  // Copies `records` (whole event records, `event_count` of them) behind one batch header.
  bool write_batch(std::span<const std::byte> records, std::uint32_t event_count) noexcept;
  // The zero bytes stored after the last unit, before it is published: where a unit could
  // start, a scan finds the end (a zeroed header fails its check, and ends a file cleanly), never
  // a unit a recycled file's previous lap left there. Flushes cover them too.
  static constexpr std::size_t end_mark_bytes = event::EventHeader::SIZE;
  // Whether a record of `size` bytes (or a batch of that many record bytes) fits.
  bool fits(std::size_t size) const noexcept { return size <= available(); }

  // The unit in which pages behind the writer are unmapped (claim_pages_behind): each unmapping
  // interrupts every core the process runs on to drop its TLB entries, so it comes in large
  // steps.
  static constexpr std::size_t unmap_step_bytes = ringlog::detail::pmd_bytes;

  // The end of the last whole unit before the page boundary the writer passed last, and the
  // events below it. The writer's mapping makes single-page folios (map_file), and writeback
  // write-protects the folios it writes: a flush up to there leaves the page being written
  // alone, so the writer's next store there does not fault.
  std::size_t left_pages_offset() const noexcept { return left_pages_offset_; }
  std::uint64_t left_pages_count() const noexcept { return left_pages_count_; }

  // A flush that covered the first `offset` bytes, holding `count` events, has completed. The
  // checkpoint goes into the header now, or with `defer_checkpoint` when store_owed_checkpoint()
  // is called.
  void record_durable(std::size_t offset, std::uint64_t count,
                      bool defer_checkpoint = false) noexcept;
  // Writes the checkpoint record_durable() deferred, if one is owed; whether one was.
  bool store_owed_checkpoint() noexcept;

  // Page work: which pages to map ahead of the writer and to unmap behind it. Each claim
  // counts its range as done, so the work can be handed to another thread (the journal's
  // housekeeper) and never asked for twice. A page the writer reaches before that work is done
  // faults in on the writer's thread, unless the owner maps it there first.
  //
  // The pages from the write offset to `window` bytes past it not yet mapped writable; empty
  // until `top_up` bytes of the window are used, so that there is one call per `top_up` of
  // appends; at most 2 * `top_up` bytes at once.
  PageRange claim_pages_ahead(std::size_t window, std::size_t top_up) noexcept;
  // The pages behind the write offset, up to the last unmap_step_bytes boundary, not yet
  // unmapped. Writeback must write-protect every page still mapped writable, and on a
  // multi-core host each of those is a TLB shootdown: an interrupt to every core the process
  // runs on (the producer's too). Unmapped pages cost one shootdown per step instead.
  PageRange claim_pages_behind() noexcept;
  // The pages from `from` (or the one the writer is in, if later) up to `until`.
  PageRange pages_ahead_between(std::size_t from, std::size_t until) const noexcept;
  // Maps the next MmapWriter::prepare_pages_reach_bytes writable here and now.
  void prepare_pages() noexcept {
    constexpr std::size_t reach = MmapWriter::prepare_pages_reach_bytes;
    map_writable(claim_pages_ahead(reach, reach / 2));
  }

  int fd() const noexcept { return file_.get(); }
  const std::string& path() const noexcept { return path_; }
  void set_path(std::string path) { path_ = std::move(path); }
  std::byte* data() const noexcept { return mapping_.data(); }
  std::size_t capacity() const noexcept { return mapping_.size(); }
  std::size_t write_offset() const noexcept { return write_offset_; }
  std::size_t available() const noexcept { return mapping_.size() - write_offset_; }
  std::uint64_t event_count() const noexcept { return event_count_; }
  std::size_t durable_offset() const noexcept { return durable_offset_; }
  std::uint64_t durable_count() const noexcept { return durable_count_; }
  const ScanResult& recovery() const noexcept { return recovery_; }

 private:
  void advance(std::size_t size, std::uint64_t events) noexcept;
  void mark_end(std::size_t offset) noexcept;  // the end mark at `offset`, where one fits
  LogFile(std::string path, FileDescriptor file, ringlog::detail::Mapping mapping) noexcept
      : path_(std::move(path)), file_(std::move(file)), mapping_(std::move(mapping)) {}
  // Maps a file whose `capacity` bytes are allocated and zero, and makes it an empty log.
  static std::expected<LogFile, Error> initialize(const std::string& path, FileDescriptor,
                                                  std::size_t capacity);

  std::string path_;
  FileDescriptor file_;
  ringlog::detail::Mapping mapping_;
  ChecksumRule checksums_;  // a new file's (version file_version, seed 0) until told otherwise
  std::size_t write_offset_ = FileHeader::SIZE;
  std::uint64_t event_count_ = 0;
  std::size_t durable_offset_ = FileHeader::SIZE;
  std::uint64_t durable_count_ = 0;
  std::size_t left_pages_offset_ = FileHeader::SIZE;
  std::uint64_t left_pages_count_ = 0;
  std::size_t mapped_until_ = 0;    // pages below this offset are claimed for mapping writable
  std::size_t unmapped_until_ = 0;  // pages below this offset (but the first) are claimed for
                                    // unmapping
  bool checkpoint_owed_ = false;    // record_durable() deferred the header's checkpoint
  event::EventHeader claimed_{};    // the record claim() placed, published by commit()
  TimeIndexBuilder times_;
  ScanResult recovery_;
};

// Clears [offset, offset + length) of a file and keeps its blocks allocated, so that neither a
// torn record nor an old one is read as data there, and a page fault there reads nothing.
std::expected<void, Error> zero_range(int fd, std::size_t offset, std::size_t length,
                                      const std::string& path);

std::expected<void, Error> fsync_directory(const std::string& directory);

// Writes zeros over the blocks of [from, to) of a file, where they are preallocated or cleared,
// `block_step_bytes` at a time through a mapping read at random. After each step it calls
// `between_steps` (when set): to pace the writing, or to do more urgent work; it stops early
// when that returns false (the blocks not reached stay unwritten, which costs only speed).
// Preallocated blocks are unwritten extents: every flush that writes there converts some, an
// ext4 journal commit that doubles the fdatasync (fio, 8 KiB writes: p50 232 against 109 us on
// written blocks). Written here once, the file's pages also stay cached as single-page folios,
// which the appender's faults find rather than make.
inline constexpr std::size_t block_step_bytes = std::size_t{256} << 10;
std::expected<void, Error> write_blocks(int fd, std::size_t from, std::size_t to,
                                        const std::string& path,
                                        const std::function<bool()>& between_steps = {});

}  // namespace ringlog::journal::detail
