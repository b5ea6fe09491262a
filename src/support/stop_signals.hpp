// SIGINT and SIGTERM (and SIGHUP, where asked) taken synchronously (sigtimedwait) by the thread
// that reports, so that no handler ever runs on a producer or consumer thread. Construct it
// before starting the other threads: they inherit the blocked mask.
#pragma once

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <chrono>

namespace ringlog::support {

class StopSignals {
 public:
  explicit StopSignals(bool with_hangup = false) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    if (with_hangup) sigaddset(&set_, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set_, &previous_);
  }
  ~StopSignals() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // The signal that arrived within `timeout`, or 0.
  int wait(std::chrono::nanoseconds timeout) {
    timeout = std::max(timeout, std::chrono::nanoseconds(0));
    const timespec limit{static_cast<time_t>(timeout.count() / 1'000'000'000),
                         static_cast<long>(timeout.count() % 1'000'000'000)};
    return std::max(::sigtimedwait(&set_, nullptr, &limit), 0);
  }

 private:
  sigset_t set_{};
  sigset_t previous_{};
};

}  // namespace ringlog::support
