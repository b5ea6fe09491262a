#include "placement/binding.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <vector>

namespace ringlog::placement {

namespace {

std::vector<int> cpus_in(const cpu_set_t& set) {
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

}  // namespace

cpu_set_t cpu_set_of(std::span<const int> cpus) noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (const int cpu : cpus) {
    if (cpu >= 0 && cpu < CPU_SETSIZE) CPU_SET(cpu, &set);
  }
  return set;
}

std::expected<void, Error> bind_thread(pthread_t thread, std::span<const int> cpus) {
  if (cpus.empty()) return {};
  cpu_set_t wanted = cpu_set_of(cpus);
  if (const int error = ::pthread_setaffinity_np(thread, sizeof wanted, &wanted); error != 0) {
    return std::unexpected(
        Error::from_os(error, fmt::format("binding a thread to CPUs {}", cpu_list_text(cpus))));
  }
  cpu_set_t got;
  if (const int error = ::pthread_getaffinity_np(thread, sizeof got, &got); error != 0) {
    return std::unexpected(Error::from_os(
        error, fmt::format("reading back a thread's binding to CPUs {}", cpu_list_text(cpus))));
  }
  if (!CPU_EQUAL(&wanted, &got)) {
    return std::unexpected(Error::because(
        SetupErrc::unusable_cpus,
        fmt::format("a thread bound to CPUs {} may run on CPUs {} instead (is this process's "
                    "cpuset narrower?)", cpu_list_text(cpus), cpu_list_text(cpus_in(got)))));
  }
  return {};
}

std::expected<void, Error> bind_this_thread(std::span<const int> cpus) {
  return bind_thread(::pthread_self(), cpus);
}

std::string cpu_list_text(std::span<const int> cpus) {
  return cpus.empty() ? std::string("none") : fmt::format("{}", fmt::join(cpus, ","));
}

}  // namespace ringlog::placement
