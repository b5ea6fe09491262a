// The CPUs a writer's background work runs on: its flusher or housekeeping thread, and
// io_uring's workers, where every fsync runs. Kept off the producer's and consumer's cores so a
// flush never preempts them.
#pragma once

#include <sched.h>

#include <span>
#include <string>
#include <thread>

namespace ringlog::storage::detail {

// The set of `cpus`; CPUs past CPU_SETSIZE are left out.
cpu_set_t cpu_set_of(std::span<const int> cpus) noexcept;

// Binds `thread` to `cpus`: 0, or an errno. Empty: leaves it where it is.
int bind_thread(std::thread& thread, std::span<const int> cpus) noexcept;

// "2,3,7" for a banner.
std::string cpu_list_text(std::span<const int> cpus);

}  // namespace ringlog::storage::detail
