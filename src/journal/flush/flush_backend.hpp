// Picks how a writer's flushes reach the disk: io_uring where the kernel allows it, else a
// flusher thread, and says which and why.
#pragma once

#include "journal/flush/async_flusher.hpp"

#include <ringlog/log_file.hpp>

#include <expected>
#include <memory>
#include <span>
#include <string>

namespace ringlog::journal::detail {

struct StartedFlusher {
  std::unique_ptr<AsyncFlusher> flusher;
  FlushBackend backend;
  std::string note;  // one line for a start-up banner
};

// An Error only when io_uring was demanded and cannot be had; `what` names the file or journal.
// The flushes run on `housekeeping_cpus` where the kernel allows it (any CPU when empty).
std::expected<StartedFlusher, Error> start_flusher(FlushBackend wanted, const std::string& what,
                                                   std::span<const int> housekeeping_cpus);

}  // namespace ringlog::journal::detail
