// One asynchronous flush of a log file at a time, and what it covers: the write offset and the
// event count taken before it started, which become the file's durable mark once it completes.
// MmapWriter and the journal both flush through it.
#pragma once

#include "journal/file/log_file.hpp"
#include "journal/flush/flush_backend.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace ringlog::journal::detail {

class FlushTracker {
 public:
  FlushTracker() = default;
  explicit FlushTracker(StartedFlusher started) noexcept : started_(std::move(started)) {}

  // A flush that has finished: what it covered, and how it went.
  struct Finished {
    LogFile* file = nullptr;
    std::size_t offset = 0;     // every byte below it is durable when `result` is 0
    std::uint64_t events = 0;   // the events below `offset`
    int result = 0;             // 0, or a negative errno: then none of it may count as durable
  };

  // Starts a flush of `file` covering [0, offset), which holds `events` events: 0, or a negative
  // errno when it could not start. At most one is in flight.
  int start(LogFile& file, std::size_t offset, std::uint64_t events) noexcept;
  bool in_flight() const noexcept { return file_ != nullptr; }
  const LogFile* file_in_flight() const noexcept { return file_; }
  // The flush in flight once it has finished, without waiting; nothing while it runs.
  std::optional<Finished> poll() noexcept;
  // The flush in flight, once finished; nothing when none is.
  std::optional<Finished> wait() noexcept;
  // The flush in flight, once finished, waiting `timeout` at most; nothing while it runs.
  std::optional<Finished> wait_for(std::chrono::nanoseconds timeout) noexcept;

  FlushBackend backend() const noexcept { return started_.backend; }
  const std::string& note() const noexcept { return started_.note; }

 private:
  Finished finish(int result) noexcept;

  StartedFlusher started_;
  LogFile* file_ = nullptr;  // the file being flushed; null when none is
  std::size_t offset_ = 0;
  std::uint64_t events_ = 0;
};

}  // namespace ringlog::journal::detail
