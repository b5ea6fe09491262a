// Binding threads to CPUs: the one way ringlog places a thread, whether it is the consumer on
// its core or background work (flusher, housekeeper, shipper, io_uring's workers) on the CPUs
// the placement plan leaves to housekeeping, so that a flush never preempts the core pair.
#pragma once

#include <ringlog/error.hpp>

#include <pthread.h>
#include <sched.h>

#include <expected>
#include <span>
#include <string>

namespace ringlog::placement {

// The set of `cpus`; CPUs past CPU_SETSIZE are left out.
cpu_set_t cpu_set_of(std::span<const int> cpus) noexcept;

// Binds `thread` to `cpus` and reads the binding back: a cgroup may narrow a set silently, and
// a thread that runs elsewhere than planned is what a spike hides behind. The error names the
// CPUs and the reason. Empty `cpus`: leaves the thread where it is.
std::expected<void, Error> bind_thread(pthread_t thread, std::span<const int> cpus);

// bind_thread(pthread_self(), cpus). Threads started afterwards inherit the binding.
std::expected<void, Error> bind_this_thread(std::span<const int> cpus);

// "2,3,7" for a banner; "none" for an empty set.
std::string cpu_list_text(std::span<const int> cpus);

}  // namespace ringlog::placement
