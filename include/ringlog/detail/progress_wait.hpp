// Waiting for a count that only grows (events made durable) without spinning: the waiter sleeps
// in futex(2) until the writer announces progress or the timeout passes. The writer pays one
// atomic increment per announcement, and a futex wake only while someone waits; the waiter makes
// no system call but the futex. Works between processes when the signal lies in shared memory
// (`shared`), within one otherwise.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <ctime>

namespace ringlog::detail {

struct ProgressSignal {
  std::atomic<std::uint32_t> changes{0};  // the futex word: bumped by every announcement
  std::atomic<std::uint32_t> waiters{0};  // how many wait now: a wake only when some do
};
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

// After storing the count's new value: wakes whoever waits for it.
inline void announce_progress(ProgressSignal& signal, bool shared) noexcept {
  signal.changes.fetch_add(1, std::memory_order_seq_cst);
  if (signal.waiters.load(std::memory_order_seq_cst) == 0) return;
  ::syscall(SYS_futex, &signal.changes, shared ? FUTEX_WAKE : FUTEX_WAKE_PRIVATE, INT_MAX,
            nullptr, nullptr, 0);
}

// True once `count` reaches `wanted`; false when `timeout` passed first, or once `given_up`
// (when given) is set: the writer sets it, then announces, when the count will not move again.
inline bool wait_for_progress(const std::atomic<std::uint64_t>& count, std::uint64_t wanted,
                              ProgressSignal& signal, std::chrono::nanoseconds timeout,
                              bool shared, const std::atomic<bool>* given_up = nullptr) noexcept {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (count.load(std::memory_order_acquire) >= wanted) return true;
    if (given_up != nullptr && given_up->load(std::memory_order_acquire)) return false;
    // Counted as a waiter before the word is read: an announcement after this either changes
    // the word (the futex returns at once) or sees the waiter and wakes it.
    signal.waiters.fetch_add(1, std::memory_order_seq_cst);
    const std::uint32_t seen = signal.changes.load(std::memory_order_seq_cst);
    const bool reached = count.load(std::memory_order_seq_cst) >= wanted;
    const auto left = deadline - Clock::now();
    if (!reached && left > Clock::duration::zero()) {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      const timespec relative{static_cast<time_t>(ns / 1'000'000'000),
                              static_cast<long>(ns % 1'000'000'000)};
      ::syscall(SYS_futex, &signal.changes, shared ? FUTEX_WAIT : FUTEX_WAIT_PRIVATE, seen,
                &relative, nullptr, 0);
    }
    signal.waiters.fetch_sub(1, std::memory_order_seq_cst);
    if (reached) return true;
    if (left <= Clock::duration::zero()) return count.load(std::memory_order_acquire) >= wanted;
  }
}

}  // namespace ringlog::detail
