// The time-stamp counter: a stamp costs a few nanoseconds and no system call, which is why the
// sampled stage timings (a publisher stamps, the service compares) use it. On the x86 hosts
// ringlog runs on it ticks at a constant rate, the same on every core and in every process;
// TscRate converts ticks to time, measured against CLOCK_MONOTONIC_RAW.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace ringlog::detail {

inline std::uint64_t read_tsc() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  return __rdtsc();
#else
  // Elsewhere a tick is a nanosecond of the steady clock (vDSO: still no system call).
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

struct TscRate {
  double ticks_per_ns = 1;

  // Ticks over `window` of CLOCK_MONOTONIC_RAW (the window slept through, not spun). Each end
  // is a TSC read between two clock reads, taken again until they lie close together: a
  // thread preempted between the two reads would otherwise skew every latency converted.
  static TscRate measure(std::chrono::nanoseconds window) {
    const auto raw_ns = [] {
      timespec now{};
      ::clock_gettime(CLOCK_MONOTONIC_RAW, &now);
      return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
    };
    struct Pair {
      std::int64_t ns;
      std::uint64_t tsc;
    };
    const auto paired = [&] {
      Pair best{0, 0};
      std::int64_t best_gap = INT64_MAX;
      for (int attempt = 0; attempt < 100 && best_gap > 2'000; ++attempt) {
        const std::int64_t before = raw_ns();
        const std::uint64_t tsc = read_tsc();
        const std::int64_t gap = raw_ns() - before;
        if (gap < best_gap) best = {before + gap / 2, tsc}, best_gap = gap;
      }
      return best;
    };
    const Pair start = paired();
    std::this_thread::sleep_for(window);
    const Pair end = paired();
    return {double(end.tsc - start.tsc) / double(end.ns - start.ns)};
  }
  std::chrono::nanoseconds to_duration(std::uint64_t ticks) const noexcept {
    return std::chrono::nanoseconds(static_cast<std::int64_t>(double(ticks) / ticks_per_ns));
  }
};

}  // namespace ringlog::detail
