// Asynchronous fdatasync, at most one in flight: through io_uring where the kernel
// allows it, else on a thread of its own (ThreadFlusher).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace ringlog::journal::detail {

class AsyncFlusher {
 public:
  virtual ~AsyncFlusher() = default;  // finishes a flush still in flight
  // Starts an fdatasync of `fd` that covers at least its first `covered_bytes` and returns at
  // once; 0 or -errno.
  virtual int start(int fd, std::uint64_t covered_bytes) noexcept = 0;
  virtual bool in_flight() const noexcept = 0;
  // The flush's result (0 or -errno) if it has finished; never blocks.
  virtual std::optional<int> poll() noexcept = 0;
  // Blocks until the flush in flight finishes; its result.
  virtual int wait() noexcept = 0;
  // Blocks until the flush in flight finishes, for `timeout` at most: its result, or nothing
  // when it still runs.
  virtual std::optional<int> wait_for(std::chrono::nanoseconds timeout) noexcept = 0;
};

}  // namespace ringlog::journal::detail
