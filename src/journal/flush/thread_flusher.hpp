// AsyncFlusher on a thread of its own, for hosts where io_uring cannot be used.
#pragma once

#include "journal/flush/async_flusher.hpp"

#include <ringlog/error.hpp>

#include <atomic>
#include <condition_variable>
#include <expected>
#include <mutex>
#include <span>
#include <string>
#include <thread>

namespace ringlog::journal::detail {

class ThreadFlusher final : public AsyncFlusher {
 public:
  // The thread runs on `cpus` (anywhere when empty).
  explicit ThreadFlusher(std::span<const int> cpus);
  // Whether it runs where asked; the error says why not.
  const std::expected<void, Error>& binding() const noexcept { return binding_; }
  ~ThreadFlusher() override;
  ThreadFlusher(const ThreadFlusher&) = delete;
  ThreadFlusher& operator=(const ThreadFlusher&) = delete;

  int start(int fd, std::uint64_t covered_bytes) noexcept override;  // flushes the whole file
  bool in_flight() const noexcept override { return in_flight_; }
  std::optional<int> poll() noexcept override;
  int wait() noexcept override;
  std::optional<int> wait_for(std::chrono::nanoseconds timeout) noexcept override;

 private:
  void run();
  int take_result() noexcept;  // with mutex_ held

  bool in_flight_ = false;  // the owner's view; only the owning thread touches it
  std::mutex mutex_;
  std::condition_variable requested_or_stopping_;
  std::condition_variable finished_;
  int requested_fd_ = -1;   // guarded by mutex_; -1: nothing asked for
  bool stopping_ = false;   // guarded by mutex_
  bool done_ = false;       // guarded by mutex_
  int result_ = 0;          // guarded by mutex_
  std::atomic<bool> done_hint_{false};  // lets poll() skip the mutex while the flush runs
  std::thread thread_;
  std::expected<void, Error> binding_;
};

}  // namespace ringlog::journal::detail
