// Asynchronous fdatasync of one file through io_uring: at most one flush in flight.
#pragma once

#include <liburing.h>

#include <expected>
#include <memory>
#include <optional>

namespace ringlog::storage::detail {

class UringFlusher {
 public:
  // errno when io_uring cannot be used here (old kernel, disabled by sysctl, seccomp) or lacks
  // IORING_OP_FSYNC.
  static std::expected<std::unique_ptr<UringFlusher>, int> create(int fd);
  ~UringFlusher();
  UringFlusher(const UringFlusher&) = delete;
  UringFlusher& operator=(const UringFlusher&) = delete;

  // Queues IORING_OP_FSYNC with IORING_FSYNC_DATASYNC and enters the kernel once; 0 or -errno.
  int start() noexcept;
  bool in_flight() const noexcept { return in_flight_; }
  // The flush's result (0 or -errno) if it has finished; never blocks.
  std::optional<int> poll() noexcept;
  // Blocks until the flush in flight finishes; its result.
  int wait() noexcept;

 private:
  explicit UringFlusher(int fd) noexcept : fd_(fd) {}
  int take(io_uring_cqe* completion) noexcept;

  io_uring ring_{};
  int fd_;
  bool in_flight_ = false;
};

}  // namespace ringlog::storage::detail
