// AsyncFlusher through io_uring: IORING_OP_FSYNC with IORING_FSYNC_DATASYNC.
#pragma once

#include "journal/flush/async_flusher.hpp"

#include <liburing.h>
#include <sched.h>

#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <thread>

namespace ringlog::journal::detail {

class UringFlusher final : public AsyncFlusher {
 public:
  // errno when io_uring cannot be used here (old kernel, disabled by sysctl, seccomp) or lacks
  // IORING_OP_FSYNC.
  static std::expected<std::unique_ptr<UringFlusher>, int> create();
  ~UringFlusher() override;
  // Confines the ring's io-wq workers to `cpus` (io_uring_register_iowq_aff): 0 or an errno.
  // io-wq belongs to the thread that submits, not to the ring, and its workers start on that
  // thread's CPUs (the consumer's, pinned) and keep them: start() binds each thread's workers
  // before its first flush.
  int bind_workers(std::span<const int> cpus) noexcept;
  UringFlusher(const UringFlusher&) = delete;
  UringFlusher& operator=(const UringFlusher&) = delete;

  // One system call. Only the range is flushed, so pages prepared ahead of the writer stay
  // unwritten and writable.
  int start(int fd, std::uint64_t covered_bytes) noexcept override;
  bool in_flight() const noexcept override { return in_flight_; }
  std::optional<int> poll() noexcept override;
  int wait() noexcept override;
  std::optional<int> wait_for(std::chrono::nanoseconds timeout) noexcept override;

 private:
  UringFlusher() noexcept = default;
  int take(io_uring_cqe* completion) noexcept;
  int bind_workers_of_this_thread() noexcept;  // 0 or an errno

  io_uring ring_{};
  bool in_flight_ = false;
  cpu_set_t worker_cpus_{};
  bool bind_each_submitter_ = false;       // bind_workers() succeeded
  std::thread::id workers_bound_for_{};    // the thread whose io-wq was bound last
};

}  // namespace ringlog::journal::detail
