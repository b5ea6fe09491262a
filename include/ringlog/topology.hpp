// Where the producer and the consumer run: the machine's topology (hwloc), the choice of a core
// pair, and pinning a thread to a CPU.
//
// A good pair is two distinct physical cores (never two hardware threads of one core, which
// share its execution units), on the same NUMA node and under the same L3 cache (so the ring's
// cache lines move between them through the L3), preferring CPUs isolated from the scheduler
// (isolcpus) and the NUMA node nearest the journal's storage.
#pragma once

#include <ringlog/error.hpp>

#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ringlog::topology {

// What the choice may prefer; both empty or -1 by default.
struct PairPreferences {
  std::vector<int> isolated_cpus;  // CPUs isolated from the scheduler (isolated_cpus() reads them)
  int near_numa_node = -1;         // the node nearest the journal (numa_node_of() finds it)
};

struct CorePair {
  int producer_cpu = -1;
  int consumer_cpu = -1;
  int numa_node = -1;  // of both CPUs; -1 where the machine has no NUMA information
  std::string reason;  // one line that explains the choice
};

class Topology {
 public:
  // This machine, as this process may use it (its CPU affinity and cgroup).
  static std::expected<Topology, Error> discover();
  // A topology exported by hwloc (lstopo file.xml, or hwloc_topology_export_xml).
  static std::expected<Topology, Error> from_xml(std::string_view xml);

  Topology(Topology&&) noexcept;
  Topology& operator=(Topology&&) noexcept;
  ~Topology();

  // The best pair for a producer and a consumer, or an error when the machine offers fewer than
  // two CPUs. Where no two physical cores qualify it falls back step by step (another L3, another
  // node, two hardware threads of one core) and says so in `reason`.
  std::expected<CorePair, Error> choose_pair(const PairPreferences& = {}) const;

  // The user's own choice, checked: two distinct CPUs this process may use.
  std::expected<CorePair, Error> check_pair(int producer_cpu, int consumer_cpu) const;

  std::vector<int> cpus() const;  // the CPUs (OS indexes) this process may use
  int core_count() const;         // physical cores among them

 private:
  struct State;
  explicit Topology(std::unique_ptr<State>) noexcept;
  std::unique_ptr<State> state_;
};

// Binds the calling thread to `cpu` and reads the binding back; an error says what failed.
std::expected<void, Error> pin_this_thread(int cpu);

// The CPUs in /sys/devices/system/cpu/isolated (empty when none are, or the file is absent).
std::vector<int> isolated_cpus();
// Parses a Linux CPU list such as "2-5,8"; nullopt-like empty result on malformed input.
std::vector<int> parse_cpu_list(std::string_view list);
// The NUMA node of the block device that holds `path`, or -1 where the kernel does not say. A
// path that does not exist yet (a journal directory still to be made) is asked about through
// its nearest existing parent, where it will be made. `sysfs` is where sysfs is mounted.
int numa_node_of(const std::filesystem::path& path,
                 const std::filesystem::path& sysfs = "/sys");

}  // namespace ringlog::topology
