#include <ringlog/storage.hpp>

#include "log_format.hpp"
#include "mapped_file.hpp"
#include "thread_flusher.hpp"
#include "uring_flusher.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ringlog::storage {

using detail::os_error;

struct MmapWriter::State {
  std::string path;
  detail::FileDescriptor file;
  ringlog::detail::Mapping mapping;
  std::size_t write_offset = FileHeader::SIZE;
  std::uint64_t event_count = 0;
  std::size_t durable_offset = FileHeader::SIZE;
  std::size_t flushing_offset = 0;     // what the flush in flight covers, taken before it started
  std::uint64_t flushing_count = 0;
  std::unique_ptr<detail::AsyncFlusher> flusher;
  FlushBackend backend = FlushBackend::thread;
  std::string backend_note;
  std::size_t prepared_until = 0;  // pages below this offset are mapped writable
  ScanResult recovery;
  std::optional<Error> failure;

  // Advances the durable watermark and the file's checkpoint to a point a flush has covered.
  // The checkpoint itself reaches the disk with the next flush.
  void record_durable(std::size_t offset, std::uint64_t count) noexcept {
    durable_offset = offset;
    std::memcpy(mapping.data() + offsetof(FileHeader, event_count), &count, sizeof count);
    const std::uint64_t offset64 = offset;
    std::memcpy(mapping.data() + offsetof(FileHeader, write_offset), &offset64, sizeof offset64);
  }

  // A failed flush may have lost pages: from here on the writer acknowledges nothing.
  void settle_flush(int result) {
    if (result < 0) {
      failure = os_error(-result, fmt::format("fdatasync of {} through io_uring", path));
    } else {
      record_durable(flushing_offset, flushing_count);
    }
  }

  // Probes io_uring as the options allow, and falls back to a flusher thread.
  std::expected<void, Error> start_flusher(FlushBackend wanted) {
    if (wanted != FlushBackend::thread) {
      auto uring = detail::UringFlusher::create(file.get());
      if (uring) {
        flusher = std::move(*uring);
        backend = FlushBackend::io_uring;
        backend_note = "flushes through io_uring (IORING_OP_FSYNC, datasync)";
        return {};
      }
      if (wanted == FlushBackend::io_uring) {
        return std::unexpected(os_error(uring.error(), fmt::format("io_uring for {}", path)));
      }
      backend_note = fmt::format("io_uring unavailable ({}): flushes with fdatasync on a "
                                 "flusher thread", std::strerror(uring.error()));
    } else {
      backend_note = "flushes with fdatasync on a flusher thread (as configured)";
    }
    flusher = std::make_unique<detail::ThreadFlusher>(file.get());
    backend = FlushBackend::thread;
    return {};
  }
};

namespace {

constexpr std::size_t min_file_capacity = FileHeader::SIZE + event::EventHeader::SIZE;

std::expected<void, Error> fsync_parent_directory(const std::filesystem::path& path) {
  const std::string directory = path.parent_path().empty() ? "." : path.parent_path().string();
  auto opened = detail::open_file(directory, O_RDONLY | O_DIRECTORY);
  if (!opened) return std::unexpected(opened.error());
  if (::fsync(opened->get()) != 0) {
    return std::unexpected(os_error(errno, fmt::format("fsync directory {}", directory)));
  }
  return {};
}

// Clears [offset, end) so that no torn record past the intact end can be mistaken for data
// later, and keeps the blocks allocated.
std::expected<void, Error> clear_tail(int fd, std::size_t offset, std::size_t length,
                                      const std::string& path) {
  const auto off = static_cast<off_t>(offset);
  const auto len = static_cast<off_t>(length);
  if (::fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, len) == 0) return {};
  // tmpfs and some other file systems only punch holes; fill the hole again afterwards.
  if (errno == EOPNOTSUPP && ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
                                         len) == 0) {
    if (int error = ::posix_fallocate(fd, off, len); error == 0) return {};
  }
  return std::unexpected(
      os_error(errno, fmt::format("clear the tail of {} from offset {}", path, offset)));
}

}  // namespace

MmapWriter::MmapWriter(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}
MmapWriter::MmapWriter(MmapWriter&&) noexcept = default;
MmapWriter& MmapWriter::operator=(MmapWriter&&) noexcept = default;
MmapWriter::~MmapWriter() = default;

std::expected<MmapWriter, Error> MmapWriter::create(const std::filesystem::path& path,
                                                    std::size_t capacity, WriterOptions options) {
  auto state = std::make_unique<State>();
  state->path = path.string();
  if (capacity < min_file_capacity) {
    return std::unexpected(Error{make_error_code(LogErrc::capacity_too_small),
                                 fmt::format("create {}: capacity {} is below the minimum of {} "
                                             "bytes", state->path, capacity, min_file_capacity)});
  }
  auto opened = detail::open_file(state->path, O_RDWR | O_CREAT | O_TRUNC);
  if (!opened) return std::unexpected(opened.error());
  state->file = std::move(*opened);
  // Real blocks, not a sparse file: a full disk must fail here, not as SIGBUS inside a store.
  if (int error = ::posix_fallocate(state->file.get(), 0, static_cast<off_t>(capacity));
      error != 0) {
    ::unlink(state->path.c_str());
    return std::unexpected(
        os_error(error, fmt::format("preallocate {} ({} bytes)", state->path, capacity)));
  }
  auto mapping = detail::map_file(state->file.get(), capacity, true, state->path);
  if (!mapping) return std::unexpected(mapping.error());
  state->mapping = std::move(*mapping);

  const FileHeader header = detail::new_file_header();
  std::memcpy(state->mapping.data(), &header, sizeof header);
  if (::fdatasync(state->file.get()) != 0) {
    return std::unexpected(os_error(errno, fmt::format("fdatasync {}", state->path)));
  }
  if (auto synced = fsync_parent_directory(path); !synced) return std::unexpected(synced.error());
  if (auto started = state->start_flusher(options.flush_backend); !started) {
    return std::unexpected(started.error());
  }
  MmapWriter writer(std::move(state));
  writer.prepare_pages();
  return writer;
}

std::expected<MmapWriter, Error> MmapWriter::open(const std::filesystem::path& path,
                                                  WriterOptions options) {
  auto state = std::make_unique<State>();
  state->path = path.string();
  auto opened = detail::open_file(state->path, O_RDWR);
  if (!opened) return std::unexpected(opened.error());
  state->file = std::move(*opened);
  auto mapping = detail::map_existing_log(state->file.get(), true, state->path);
  if (!mapping) return std::unexpected(mapping.error());
  state->mapping = std::move(*mapping);

  const std::span<const std::byte> file(state->mapping.data(), state->mapping.size());
  FileHeader header;
  std::memcpy(&header, file.data(), sizeof header);
  const ScanResult scan = detail::scan_records(file);
  if (header.write_offset < FileHeader::SIZE || header.write_offset > scan.end_offset) {
    // Events the checkpoint promised are gone or damaged: appending would bury the evidence.
    return std::unexpected(Error{
        make_error_code(LogErrc::damaged_durable_data),
        fmt::format("open {}: intact records end at offset {}, but the checkpoint says offset {} "
                    "is durable; refusing to append", state->path, scan.end_offset,
                    header.write_offset)});
  }
  if (scan.end_offset < file.size()) {
    if (auto cleared = clear_tail(state->file.get(), scan.end_offset,
                                  file.size() - scan.end_offset, state->path);
        !cleared) {
      return std::unexpected(cleared.error());
    }
  }
  state->write_offset = scan.end_offset;
  state->event_count = scan.event_count;
  state->durable_offset = header.write_offset;
  state->recovery = scan;
  if (auto started = state->start_flusher(options.flush_backend); !started) {
    return std::unexpected(started.error());
  }
  MmapWriter writer(std::move(state));
  writer.prepare_pages();
  return writer;
}

bool MmapWriter::write_event(const event::EventHeader& header,
                             std::span<const std::byte> payload) noexcept {
  State& s = *state_;
  if (s.failure || header.payload_len != payload.size() || ringlog::detail::is_framing(header)) {
    return false;
  }
  const std::size_t size = ringlog::detail::record_size(header.payload_len);
  if (size > s.mapping.size() - s.write_offset) return false;
  event::EventHeader stored = header;
  stored.reserved = detail::record_checksum(header, payload);
  std::byte* at = s.mapping.data() + s.write_offset;
  ringlog::detail::store_header(at, stored);
  if (!payload.empty()) std::memcpy(at + event::EventHeader::SIZE, payload.data(), payload.size());
  s.write_offset += size;
  ++s.event_count;
  return true;
}

std::expected<void, Error> MmapWriter::sync() {
  State& s = *state_;
  if (s.flusher->in_flight()) s.settle_flush(s.flusher->wait());
  if (s.failure) return std::unexpected(*s.failure);
  const std::size_t offset = s.write_offset;
  const std::uint64_t count = s.event_count;
  if (::fdatasync(s.file.get()) != 0) {
    s.failure = os_error(errno, fmt::format("fdatasync {}", s.path));
    return std::unexpected(*s.failure);
  }
  s.record_durable(offset, count);
  return {};
}

void MmapWriter::sync_async() noexcept {
  State& s = *state_;
  if (s.failure) return;
  if (s.flusher->in_flight()) {
    const std::optional<int> finished = s.flusher->poll();
    if (!finished) return;
    s.settle_flush(*finished);
    if (s.failure) return;
  }
  if (s.durable_offset == s.write_offset) return;
  s.flushing_offset = s.write_offset;
  s.flushing_count = s.event_count;
  if (s.flusher->start(s.write_offset) < 0) (void)sync();  // could not queue it: the plain way
}

void MmapWriter::prepare_pages() noexcept {
  State& s = *state_;
  // Top the window up only once half of it is used: one call per 2 MiB of appends.
  const std::size_t wanted = std::min(s.mapping.size(), s.write_offset + prepare_ahead_bytes);
  if (s.prepared_until >= std::min(wanted, s.write_offset + prepare_ahead_bytes / 2)) return;
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t from = std::max(s.prepared_until, s.write_offset) / page * page;
  if (::madvise(s.mapping.data() + from, wanted - from, MADV_POPULATE_WRITE) == 0) {
    s.prepared_until = wanted;
  } else if (errno == EINVAL) {
    s.prepared_until = s.mapping.size();  // an older kernel: pages fault in one by one instead
  }
}

std::uint64_t MmapWriter::event_count() const noexcept { return state_->event_count; }
std::size_t MmapWriter::write_offset() const noexcept { return state_->write_offset; }
std::size_t MmapWriter::capacity() const noexcept { return state_->mapping.size(); }
std::size_t MmapWriter::available() const noexcept {
  return state_->mapping.size() - state_->write_offset;
}
std::size_t MmapWriter::durable_offset() const noexcept { return state_->durable_offset; }
FlushBackend MmapWriter::flush_backend() const noexcept { return state_->backend; }
const std::string& MmapWriter::flush_backend_note() const noexcept {
  return state_->backend_note;
}
const ScanResult& MmapWriter::recovery() const noexcept { return state_->recovery; }
const std::optional<Error>& MmapWriter::failure() const noexcept { return state_->failure; }

}  // namespace ringlog::storage
