#include "journal/flush/flush_backend.hpp"

#include "placement/binding.hpp"
#include "journal/flush/thread_flusher.hpp"
#include "journal/flush/uring_flusher.hpp"

#include <fmt/format.h>

#include <cstring>

namespace ringlog::journal::detail {

namespace {

// Where io_uring's workers will run, for the banner.
std::string worker_placement(UringFlusher& flusher, std::span<const int> cpus) {
  if (cpus.empty()) return "its workers on any CPU";
  if (const int error = flusher.bind_workers(cpus); error != 0) {
    return fmt::format("its workers on any CPU (binding them to CPUs {} failed: {})",
                       placement::cpu_list_text(cpus), std::strerror(error));
  }
  return fmt::format("its workers on CPUs {}", placement::cpu_list_text(cpus));
}

}  // namespace

std::expected<StartedFlusher, Error> start_flusher(FlushBackend wanted, const std::string& what,
                                                   std::span<const int> housekeeping_cpus) {
  std::string note;
  if (wanted != FlushBackend::thread) {
    auto uring = UringFlusher::create();
    if (uring) {
      std::string placement = worker_placement(**uring, housekeeping_cpus);
      return StartedFlusher{
          std::move(*uring), FlushBackend::io_uring,
          fmt::format("flushes through io_uring (IORING_OP_FSYNC, datasync), {}", placement)};
    }
    if (wanted == FlushBackend::io_uring) {
      return std::unexpected(Error::from_os(uring.error(), fmt::format("io_uring for {}", what)));
    }
    note = fmt::format("io_uring unavailable ({}): flushes with fdatasync on a flusher thread",
                       std::strerror(uring.error()));
  } else {
    note = "flushes with fdatasync on a flusher thread (as configured)";
  }
  auto flusher = std::make_unique<ThreadFlusher>(housekeeping_cpus);
  if (!housekeeping_cpus.empty()) {
    note += flusher->binding()
                ? fmt::format(", on CPUs {}", placement::cpu_list_text(housekeeping_cpus))
                : fmt::format(", on any CPU ({})", flusher->binding().error().message());
  }
  return StartedFlusher{std::move(flusher), FlushBackend::thread, std::move(note)};
}

}  // namespace ringlog::journal::detail
