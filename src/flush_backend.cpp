#include "flush_backend.hpp"

#include "mapped_file.hpp"
#include "thread_flusher.hpp"
#include "uring_flusher.hpp"

#include <fmt/format.h>

#include <cstring>

namespace ringlog::storage::detail {

std::expected<StartedFlusher, Error> start_flusher(FlushBackend wanted, const std::string& what) {
  std::string note;
  if (wanted != FlushBackend::thread) {
    auto uring = UringFlusher::create();
    if (uring) {
      return StartedFlusher{std::move(*uring), FlushBackend::io_uring,
                            "flushes through io_uring (IORING_OP_FSYNC, datasync)"};
    }
    if (wanted == FlushBackend::io_uring) {
      return std::unexpected(os_error(uring.error(), fmt::format("io_uring for {}", what)));
    }
    note = fmt::format("io_uring unavailable ({}): flushes with fdatasync on a flusher thread",
                       std::strerror(uring.error()));
  } else {
    note = "flushes with fdatasync on a flusher thread (as configured)";
  }
  return StartedFlusher{std::make_unique<ThreadFlusher>(), FlushBackend::thread, std::move(note)};
}

}  // namespace ringlog::storage::detail
