// Event timestamps as the programs write them: nanoseconds since the epoch (CLOCK_REALTIME,
// through the vDSO: no system call), which `ringlog dump --utc`, `--since` and `--until` read.
#pragma once

#include <cstdint>
#include <ctime>

namespace ringlog::support {

inline std::uint64_t wall_clock_ns() noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(now.tv_nsec);
}

}  // namespace ringlog::support
