#include "placement/binding.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <pthread.h>

namespace ringlog::storage::detail {

cpu_set_t cpu_set_of(std::span<const int> cpus) noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (const int cpu : cpus) {
    if (cpu >= 0 && cpu < CPU_SETSIZE) CPU_SET(cpu, &set);
  }
  return set;
}

int bind_thread(std::thread& thread, std::span<const int> cpus) noexcept {
  if (cpus.empty()) return 0;
  const cpu_set_t set = cpu_set_of(cpus);
  return ::pthread_setaffinity_np(thread.native_handle(), sizeof set, &set);
}

std::string cpu_list_text(std::span<const int> cpus) {
  return fmt::format("{}", fmt::join(cpus, ","));
}

}  // namespace ringlog::storage::detail
