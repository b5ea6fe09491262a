#include "journal/flush/thread_flusher.hpp"

#include "placement/binding.hpp"

#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace ringlog::journal::detail {

ThreadFlusher::ThreadFlusher(std::span<const int> cpus)
    : thread_([this] { run(); }), binding_(placement::bind_thread(thread_.native_handle(), cpus)) {}

ThreadFlusher::~ThreadFlusher() {
  if (in_flight_) wait();
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  requested_or_stopping_.notify_one();
  thread_.join();
}

int ThreadFlusher::start(int fd, std::uint64_t /*covered_bytes: fdatasync has no range*/) noexcept {
  {
    const std::lock_guard lock(mutex_);
    requested_fd_ = fd;
  }
  requested_or_stopping_.notify_one();
  in_flight_ = true;
  return 0;
}

std::optional<int> ThreadFlusher::poll() noexcept {
  if (!in_flight_ || !done_hint_.load(std::memory_order_acquire)) return std::nullopt;
  const std::lock_guard lock(mutex_);
  return take_result();
}

int ThreadFlusher::wait() noexcept {
  std::unique_lock lock(mutex_);
  finished_.wait(lock, [this] { return done_; });
  return take_result();
}

std::optional<int> ThreadFlusher::wait_for(std::chrono::nanoseconds timeout) noexcept {
  if (!in_flight_) return std::nullopt;
  std::unique_lock lock(mutex_);
  if (!finished_.wait_for(lock, timeout, [this] { return done_; })) return std::nullopt;
  return take_result();
}

int ThreadFlusher::take_result() noexcept {
  done_ = false;
  done_hint_.store(false, std::memory_order_relaxed);
  in_flight_ = false;
  return result_;
}

void ThreadFlusher::run() {
  pthread_setname_np(pthread_self(), "ringlog-flush");
  std::unique_lock lock(mutex_);
  for (;;) {
    requested_or_stopping_.wait(lock, [this] { return requested_fd_ >= 0 || stopping_; });
    if (requested_fd_ < 0) return;  // stopping, nothing asked for
    const int fd = std::exchange(requested_fd_, -1);
    lock.unlock();
    const int result = ::fdatasync(fd) == 0 ? 0 : -errno;
    lock.lock();
    result_ = result;
    done_ = true;
    done_hint_.store(true, std::memory_order_release);
    finished_.notify_one();
  }
}

}  // namespace ringlog::journal::detail
