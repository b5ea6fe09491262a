#include "journal/file/log_file.hpp"

#include <ringlog/detail/assert.hpp>

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>

namespace ringlog::journal::detail {

namespace {

constexpr std::size_t min_file_capacity = FileHeader::SIZE + event::EventHeader::SIZE;

const std::size_t page_size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));

std::string parent_directory(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

}  // namespace

std::expected<void, Error> fsync_directory(const std::string& directory) {
  auto opened = open_file(directory, O_RDONLY | O_DIRECTORY);
  if (!opened) return std::unexpected(opened.error());
  if (::fsync(opened->get()) != 0) {
    return std::unexpected(Error::from_os(errno, fmt::format("fsync directory {}", directory)));
  }
  return {};
}

std::expected<void, Error> zero_range(int fd, std::size_t offset, std::size_t length,
                                      const std::string& path) {
  const auto off = static_cast<off_t>(offset);
  const auto len = static_cast<off_t>(length);
  if (::fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, len) == 0) return {};
  // tmpfs and some other file systems only punch holes; fill the hole again afterwards.
  if (errno == EOPNOTSUPP &&
      ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) == 0) {
    const int error = ::posix_fallocate(fd, off, len);
    if (error == 0) return {};
    errno = error;
  }
  return std::unexpected(Error::from_os(
      errno, fmt::format("clear {} bytes of {} from offset {}", length, path, offset)));
}

std::optional<Error> LogFile::invalid_capacity(const std::string& path, std::size_t capacity) {
  if (capacity >= min_file_capacity) return std::nullopt;
  return Error{make_error_code(LogErrc::capacity_too_small),
               fmt::format("create {}: capacity {} is below the minimum of {} bytes", path,
                           capacity, min_file_capacity)};
}

std::expected<void, Error> write_blocks(int fd, std::size_t from, std::size_t to,
                                        const std::string& path,
                                        const std::function<bool()>& between_steps) {
  from = from / page_size * page_size;
  if (from >= to) return {};
  auto mapping = map_file(fd, to, true, path);
  if (!mapping) return std::unexpected(mapping.error());
  const auto failed = [&](int error, std::size_t at) {
    return std::unexpected(Error::from_os(
        error, fmt::format("write the blocks of {} from offset {} (up to {})", path, at, to)));
  };
  std::size_t at = from;
  for (bool go_on = true; at < to && go_on; at += block_step_bytes) {
    const std::size_t length = std::min(block_step_bytes, to - at);
    // Faulted in writable, the pages are zeroed and dirty; writeback then writes them.
    map_writable({mapping->data() + at, length});
    if (::sync_file_range(fd, static_cast<off64_t>(at), static_cast<off64_t>(length),
                          SYNC_FILE_RANGE_WRITE) != 0) {
      return failed(errno, at);
    }
    go_on = !between_steps || between_steps();
  }
  if (::sync_file_range(fd, static_cast<off64_t>(from),
                        static_cast<off64_t>(std::min(at, to) - from),
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                            SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
    return failed(errno, from);
  }
  return {};
}

std::expected<LogFile, Error> LogFile::create(const std::string& path, std::size_t capacity,
                                              const std::function<bool()>& between_block_steps) {
  if (auto invalid = invalid_capacity(path, capacity)) return std::unexpected(*invalid);
  auto opened = open_file(path, O_RDWR | O_CREAT | O_TRUNC);
  if (!opened) return std::unexpected(opened.error());
  // Real blocks, not a sparse file: a full disk must fail here, not as SIGBUS inside a store.
  if (int error = ::posix_fallocate(opened->get(), 0, static_cast<off_t>(capacity)); error != 0) {
    ::unlink(path.c_str());
    return std::unexpected(
        Error::from_os(error, fmt::format("preallocate {} ({} bytes)", path, capacity)));
  }
  // initialize()'s fdatasync makes the extents' conversion durable.
  if (auto written = write_blocks(opened->get(), 0, capacity, path, between_block_steps);
      !written) {
    ::unlink(path.c_str());
    return std::unexpected(written.error());
  }
  return initialize(path, std::move(*opened), capacity);
}

std::expected<LogFile, Error> LogFile::recycle(const std::string& path, std::size_t capacity) {
  auto opened = open_file(path, O_RDWR);
  if (!opened) return std::unexpected(opened.error());
  auto size = file_size(opened->get(), path);
  if (!size) return std::unexpected(size.error());
  if (*size != capacity) {  // made with another segment size: start afresh
    return create(path, capacity);
  }
  // Kept as it is where its pages are all still cached: its blocks are written, so a flush
  // converts no unwritten extent (an ext4 journal commit each, about half of every fdatasync),
  // and the writer's pages need no zeroing. The previous lap's records stay, failing their
  // checksums under the seed the segment gets next, and every unit written marks the end after
  // it. Where pages went from the cache (a reboot, memory pressure), every fault there would
  // read the disk: the file is cleared instead, so that faults read nothing.
  if (!all_pages_cached(opened->get(), capacity)) {
    if (auto cleared = zero_range(opened->get(), 0, capacity, path); !cleared) {
      return std::unexpected(cleared.error());
    }
  }
  return initialize(path, std::move(*opened), capacity);
}

std::expected<LogFile, Error> LogFile::initialize(const std::string& path, FileDescriptor fd,
                                                  std::size_t capacity) {
  auto mapping = map_file(fd.get(), capacity, true, path);
  if (!mapping) return std::unexpected(mapping.error());
  LogFile file(path, std::move(fd), std::move(*mapping));
  file.times_.reserve_for(capacity);
  const FileHeader header = new_file_header();
  std::memcpy(file.data(), &header, sizeof header);
  file.mark_end(FileHeader::SIZE);  // a recycled file holds a record there
  if (::fdatasync(file.fd()) != 0) {
    return std::unexpected(Error::from_os(errno, fmt::format("fdatasync {}", path)));
  }
  if (auto synced = fsync_directory(parent_directory(path)); !synced) {
    return std::unexpected(synced.error());
  }
  file.prepare_pages();
  return file;
}

std::expected<LogFile, Error> LogFile::open(const std::string& path) {
  auto opened = open_file(path, O_RDWR);
  if (!opened) return std::unexpected(opened.error());
  auto mapping = map_existing_log(opened->get(), true, path);
  if (!mapping) return std::unexpected(mapping.error());
  LogFile file(path, std::move(*opened), std::move(*mapping));

  const std::span<const std::byte> bytes(file.data(), file.capacity());
  FileHeader header;
  std::memcpy(&header, bytes.data(), sizeof header);
  // A segment continued here gets its time index from this scan on, as its writer goes on.
  file.times_.reserve_for(file.capacity());
  if (const SegmentInfo info = segment_info(bytes.data()); info.flags & segment_in_use) {
    file.times_.start(info.first_sequence);
  }
  const ScanResult scan = scan_records(bytes, FileHeader::SIZE,
                                       [&](std::size_t at, const Unit& unit) {
                                         file.times_.add_unit(bytes, at, unit);
                                       });
  if (auto damaged = checkpoint_beyond_records(header, scan, path)) {
    return std::unexpected(std::move(*damaged));
  }
  // The writer appends at end_offset and counts available() from it: past the mapping, it
  // would write outside the file.
  RINGLOG_CHECK(scan.end_offset <= bytes.size(), "a scan ends within the file it scanned");
  if (scan.end_offset < bytes.size()) {
    if (auto cleared = zero_range(file.fd(), scan.end_offset, bytes.size() - scan.end_offset,
                                  path);
        !cleared) {
      return std::unexpected(cleared.error());
    }
    // The next flush makes the conversion durable with the tail's first records.
    if (auto written = write_blocks(file.fd(), scan.end_offset, bytes.size(), path); !written) {
      return std::unexpected(written.error());
    }
  }
  file.checksums_ = checksum_rule(bytes.data());  // a file is appended to by its own rule
  file.write_offset_ = scan.end_offset;
  file.event_count_ = scan.event_count;
  file.durable_offset_ = header.write_offset;
  file.durable_count_ = header.event_count;
  file.recovery_ = scan;
  file.prepare_pages();
  return file;
}

void LogFile::start_segment(std::uint64_t first_sequence, const JournalId& id) noexcept {
  // A segment without an id would be taken for a pre-journal file by recovery and readers.
  RINGLOG_CHECK(carries_id(id), "a segment is started with its journal's id");
  checksums_ = {segment_seed(first_sequence), true};
  store_segment_info(data(), {first_sequence, checksums_.seed, segment_in_use, id});
  if (write_offset_ == FileHeader::SIZE) times_.start(first_sequence);
  const std::uint32_t version = file_version;
  std::memcpy(data() + offsetof(FileHeader, version), &version, sizeof version);
}

bool LogFile::write_event(const event::EventHeader& header,
                          std::span<const std::byte> payload) noexcept {
  if (header.payload_len != payload.size()) return false;
  const std::optional<std::span<std::byte>> claimed = claim(header);
  if (!claimed) return false;
  if (!payload.empty()) std::memcpy(claimed->data(), payload.data(), payload.size());
  commit();
  return true;
}

std::optional<std::span<std::byte>> LogFile::claim(const event::EventHeader& header) noexcept {
  if (ringlog::detail::is_framing(header) ||
      !fits(ringlog::detail::record_size(header.payload_len))) {
    return std::nullopt;
  }
  claimed_ = header;
  return std::span(data() + write_offset_ + event::EventHeader::SIZE, header.payload_len);
}

void LogFile::commit() noexcept {
  std::byte* at = data() + write_offset_;
  claimed_.reserved = record_checksum(
      claimed_, {at + event::EventHeader::SIZE, claimed_.payload_len}, checksums_);
  const std::size_t size = ringlog::detail::record_size(claimed_.payload_len);
  mark_end(write_offset_ + size);
  publish_header(at, claimed_);
  times_.add(write_offset_, 1, claimed_.timestamp);
  advance(size, 1);
}

bool LogFile::write_batch(std::span<const std::byte> records, std::uint32_t event_count) noexcept {
  if (!fits(batch_header_bytes + records.size())) return false;
  std::byte* at = data() + write_offset_;
  std::memcpy(at + batch_header_bytes, records.data(), records.size());
  const event::EventHeader header =
      batch_header({at + batch_header_bytes, records.size()}, event_count, checksums_,
                   at + event::EventHeader::SIZE);
  mark_end(write_offset_ + batch_header_bytes + records.size());
  publish_header(at, header);
  times_.add_batch(write_offset_, records, event_count);
  advance(batch_header_bytes + records.size(), event_count);
  return true;
}

void LogFile::mark_end(std::size_t offset) noexcept {
  if (capacity() - offset >= end_mark_bytes) std::memset(data() + offset, 0, end_mark_bytes);
}

void LogFile::advance(std::size_t size, std::uint64_t events) noexcept {
  const std::size_t unit_start = write_offset_;
  write_offset_ += size;
  if (write_offset_ / page_size != unit_start / page_size) {
    // The writer has left the page the unit started in: everything before the unit (or the
    // unit too, when it ends on the boundary) lies in pages it will not store to again.
    const bool ends_on_boundary = write_offset_ % page_size == 0;
    left_pages_offset_ = ends_on_boundary ? write_offset_ : unit_start;
    left_pages_count_ = event_count_ + (ends_on_boundary ? events : 0);
  }
  event_count_ += events;
}

void LogFile::record_durable(std::size_t offset, std::uint64_t count,
                             bool defer_checkpoint) noexcept {
  durable_offset_ = offset;
  durable_count_ = count;
  checkpoint_owed_ = true;
  if (!defer_checkpoint) store_owed_checkpoint();
}

bool LogFile::store_owed_checkpoint() noexcept {
  if (!checkpoint_owed_) return false;
  checkpoint_owed_ = false;
  // Written through the file, not the mapping: every flush write-protects the header's page,
  // and a store there would fault.
  (void)store_checkpoint(fd(), durable_count_, durable_offset_);
  return true;
}

PageRange LogFile::claim_pages_behind() noexcept {
  // Up to a step boundary: never the page being written. Never the first page, where the
  // header sits.
  const std::size_t until = write_offset_ / unmap_step_bytes * unmap_step_bytes;
  const std::size_t from = std::max(unmapped_until_, page_size);
  if (until <= from) return {};
  unmapped_until_ = until;
  return {data() + from, until - from};
}

PageRange LogFile::claim_pages_ahead(std::size_t window, std::size_t top_up) noexcept {
  if (window == 0) return {};
  const std::size_t end = std::min(capacity(), write_offset_ + window);
  if (mapped_until_ >= std::min(end, write_offset_ + window - top_up)) return {};
  const std::size_t from = std::max(mapped_until_, write_offset_) / page_size * page_size;
  // Two top-ups at most: a request done soon (and the next asked for) is worth more than a
  // large one, which the writer may reach before it is done.
  mapped_until_ = std::min(end, from + 2 * top_up);
  return {data() + from, mapped_until_ - from};
}

PageRange LogFile::pages_ahead_between(std::size_t from, std::size_t until) const noexcept {
  from = std::max(from, write_offset_) / page_size * page_size;
  until = std::min(until, capacity());
  return until > from ? PageRange{data() + from, until - from} : PageRange{};
}

void map_writable(PageRange range) noexcept {
  if (!range.empty()) (void)::madvise(range.start, range.length, MADV_POPULATE_WRITE);
}

int store_checkpoint(int fd, std::uint64_t event_count, std::size_t write_offset) noexcept {
  const std::uint64_t checkpoint[2] = {event_count, write_offset};
  static_assert(offsetof(FileHeader, write_offset) == offsetof(FileHeader, event_count) + 8);
  const ssize_t wrote =
      ::pwrite(fd, checkpoint, sizeof checkpoint, offsetof(FileHeader, event_count));
  if (wrote == ssize_t(sizeof checkpoint)) return 0;
  return wrote < 0 ? errno : EIO;
}

void unmap(PageRange range) noexcept {
  if (!range.empty()) (void)::madvise(range.start, range.length, MADV_DONTNEED);
}

}  // namespace ringlog::journal::detail
