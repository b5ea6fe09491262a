#include <ringlog/log_file.hpp>

#include "journal/file/flush_tracker.hpp"
#include "journal/flush/flush_backend.hpp"
#include "journal/file/log_file.hpp"
#include "journal/file/writer_lock.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>

namespace ringlog::journal {

struct MmapWriter::State {
  State(detail::WriterLock held, detail::LogFile opened)
      : lock(std::move(held)), file(std::move(opened)) {}

  detail::WriterLock lock;  // first: held until the file is closed
  detail::LogFile file;
  detail::FlushTracker flushing;  // after the file: destroyed, and so finished, before it
  std::optional<Error> failure;

  // A failed flush may have lost pages: from here on the writer acknowledges nothing.
  void settle_flush(const detail::FlushTracker::Finished& finished) {
    if (finished.result < 0) {
      failure = Error::from_os(-finished.result,
                               fmt::format("fdatasync of {} ({})", file.path(),
                                           flushing.backend() == FlushBackend::io_uring
                                               ? "io_uring"
                                               : "flusher thread"));
    } else {
      file.record_durable(finished.offset, finished.events);
    }
  }

  // One writer per file: the lock is taken before the file is opened, let alone truncated.
  template <class OpenFile>
  static std::expected<MmapWriter, Error> start(const std::filesystem::path& path, bool create,
                                                OpenFile open_file, WriterOptions options) {
    auto lock = detail::WriterLock::acquire(path.string(), create, "log file " + path.string());
    if (!lock) return std::unexpected(lock.error());
    std::expected<detail::LogFile, Error> opened = open_file();
    if (!opened) return std::unexpected(opened.error());
    auto state = std::make_unique<State>(std::move(*lock), std::move(*opened));
    auto started = detail::start_flusher(options.flush_backend, state->file.path(),
                                         options.housekeeping_cpus);
    if (!started) return std::unexpected(started.error());
    state->flushing = detail::FlushTracker(std::move(*started));
    return MmapWriter(std::move(state));
  }
};

MmapWriter::MmapWriter(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}
MmapWriter::MmapWriter(MmapWriter&&) noexcept = default;
MmapWriter& MmapWriter::operator=(MmapWriter&&) noexcept = default;
MmapWriter::~MmapWriter() = default;

std::expected<MmapWriter, Error> MmapWriter::create(const std::filesystem::path& path,
                                                    std::size_t capacity, WriterOptions options) {
  if (auto invalid = detail::LogFile::invalid_capacity(path.string(), capacity)) {
    return std::unexpected(*invalid);  // before the lock creates the file
  }
  return State::start(
      path, /*create=*/true, [&] { return detail::LogFile::create(path.string(), capacity); },
      options);
}

std::expected<MmapWriter, Error> MmapWriter::open(const std::filesystem::path& path,
                                                  WriterOptions options) {
  return State::start(
      path, /*create=*/false, [&] { return detail::LogFile::open(path.string()); }, options);
}

bool MmapWriter::write_event(const event::EventHeader& header,
                             std::span<const std::byte> payload) noexcept {
  return !state_->failure && state_->file.write_event(header, payload);
}

std::expected<void, Error> MmapWriter::sync() {
  State& s = *state_;
  if (const auto finished = s.flushing.wait()) s.settle_flush(*finished);
  if (s.failure) return std::unexpected(*s.failure);
  const std::size_t offset = s.file.write_offset();
  const std::uint64_t count = s.file.event_count();
  if (::fdatasync(s.file.fd()) != 0) {
    s.failure = Error::from_os(errno, fmt::format("fdatasync {}", s.file.path()));
    return std::unexpected(*s.failure);
  }
  s.file.record_durable(offset, count);
  return {};
}

void MmapWriter::sync_async() noexcept {
  State& s = *state_;
  if (s.failure) return;
  if (s.flushing.in_flight()) {
    const std::optional<detail::FlushTracker::Finished> finished = s.flushing.poll();
    if (!finished) return;
    s.settle_flush(*finished);
    if (s.failure) return;
  }
  if (s.file.durable_offset() == s.file.write_offset()) return;
  if (s.flushing.start(s.file, s.file.write_offset(), s.file.event_count()) < 0) {
    (void)sync();  // the plain way
  }
}

void MmapWriter::prepare_pages() noexcept { state_->file.prepare_pages(); }

std::uint64_t MmapWriter::event_count() const noexcept { return state_->file.event_count(); }
std::size_t MmapWriter::write_offset() const noexcept { return state_->file.write_offset(); }
std::size_t MmapWriter::capacity() const noexcept { return state_->file.capacity(); }
std::size_t MmapWriter::available() const noexcept { return state_->file.available(); }
std::size_t MmapWriter::durable_offset() const noexcept { return state_->file.durable_offset(); }
FlushBackend MmapWriter::flush_backend() const noexcept { return state_->flushing.backend(); }
const std::string& MmapWriter::flush_backend_note() const noexcept {
  return state_->flushing.note();
}
const ScanResult& MmapWriter::recovery() const noexcept { return state_->file.recovery(); }
const std::optional<Error>& MmapWriter::failure() const noexcept { return state_->failure; }

}  // namespace ringlog::journal
