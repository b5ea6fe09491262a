#include <ringlog/topology.hpp>

#include "placement/binding.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <hwloc.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <optional>
#include <span>

namespace ringlog::topology {

namespace {

// A loaded hwloc topology, destroyed with its owner.
struct Loaded {
  hwloc_topology_t handle = nullptr;
  explicit Loaded(hwloc_topology_t topology) noexcept : handle(topology) {}
  Loaded(const Loaded&) = delete;
  Loaded& operator=(const Loaded&) = delete;
  ~Loaded() {
    if (handle != nullptr) hwloc_topology_destroy(handle);
  }
};

// Initializes, lets `configure` pick the source, and loads; an error names the step.
template <class Configure>
std::expected<std::unique_ptr<Loaded>, Error> load(Configure configure) {
  hwloc_topology_t handle = nullptr;
  if (hwloc_topology_init(&handle) != 0) {
    return std::unexpected(Error::from_os(errno, "hwloc_topology_init"));
  }
  auto loaded = std::make_unique<Loaded>(handle);
  if (auto configured = configure(handle); !configured) return std::unexpected(configured.error());
  if (hwloc_topology_load(handle) != 0) {
    return std::unexpected(Error::from_os(errno, "hwloc_topology_load"));
  }
  return loaded;
}

// One physical core as the choice sees it.
struct Core {
  int cpu;            // the PU chosen on it: an isolated one where it has one, else its first
  int node;           // NUMA node (OS index), -1 when unknown
  const void* l3;     // its L3 cache object; nullptr when it has none
  bool isolated;
};

bool contains(const std::vector<int>& cpus, int cpu) {
  return std::find(cpus.begin(), cpus.end(), cpu) != cpus.end();
}

std::string describe(const CorePair& pair, bool isolated, bool near, std::string_view shape) {
  return fmt::format("producer on CPU {}, consumer on CPU {}: {}{}{}", pair.producer_cpu,
                     pair.consumer_cpu, isolated ? "isolated " : "", shape,
                     near ? ", on the NUMA node nearest the journal" : "");
}

}  // namespace

struct Topology::State {
  std::unique_ptr<Loaded> loaded;

  hwloc_topology_t handle() const noexcept { return loaded->handle; }

  hwloc_const_cpuset_t allowed() const noexcept {
    return hwloc_topology_get_allowed_cpuset(handle());
  }

  std::vector<Core> cores(const PairPreferences& preferences) const {
    std::vector<Core> found;
    const int count = hwloc_get_nbobjs_by_type(handle(), HWLOC_OBJ_CORE);
    hwloc_bitmap_t usable = hwloc_bitmap_alloc();
    for (int i = 0; i < count; ++i) {
      hwloc_obj_t core = hwloc_get_obj_by_type(handle(), HWLOC_OBJ_CORE, static_cast<unsigned>(i));
      hwloc_bitmap_and(usable, core->cpuset, allowed());
      if (hwloc_bitmap_iszero(usable)) continue;
      const std::vector<int>& isolated = preferences.isolated_cpus;
      int chosen = hwloc_bitmap_first(usable);
      for (int pu = hwloc_bitmap_first(usable); pu != -1; pu = hwloc_bitmap_next(usable, pu)) {
        if (contains(isolated, pu) && !contains(isolated, chosen)) chosen = pu;
      }
      const hwloc_obj_t l3 = hwloc_get_ancestor_obj_by_type(handle(), HWLOC_OBJ_L3CACHE, core);
      const bool one_node = hwloc_bitmap_weight(core->nodeset) == 1;
      found.push_back({chosen, one_node ? hwloc_bitmap_first(core->nodeset) : -1, l3,
                       contains(isolated, chosen)});
    }
    hwloc_bitmap_free(usable);
    return found;
  }
};

Topology::Topology(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}
Topology::Topology(Topology&&) noexcept = default;
Topology& Topology::operator=(Topology&&) noexcept = default;
Topology::~Topology() = default;

std::expected<Topology, Error> Topology::discover() {
  auto loaded = load([](hwloc_topology_t) -> std::expected<void, Error> { return {}; });
  if (!loaded) return std::unexpected(loaded.error());
  auto state = std::make_unique<State>();
  state->loaded = std::move(*loaded);
  return Topology(std::move(state));
}

std::expected<Topology, Error> Topology::from_xml(std::string_view xml) {
  auto loaded = load([&](hwloc_topology_t handle) -> std::expected<void, Error> {
    if (hwloc_topology_set_xmlbuffer(handle, xml.data(), static_cast<int>(xml.size())) != 0) {
      return std::unexpected(Error::from_os(errno, "not an hwloc XML topology"));
    }
    return {};
  });
  if (!loaded) return std::unexpected(loaded.error());
  auto state = std::make_unique<State>();
  state->loaded = std::move(*loaded);
  return Topology(std::move(state));
}

std::expected<CorePair, Error> Topology::choose_pair(
    const PairPreferences& preferences) const {
  std::vector<Core> cores = state_->cores(preferences);
  // Isolated cores first, then cores other than CPU 0 (where the kernel's housekeeping and many
  // interrupts run), then in CPU order.
  std::sort(cores.begin(), cores.end(), [](const Core& a, const Core& b) {
    if (a.isolated != b.isolated) return a.isolated;
    if ((a.cpu == 0) != (b.cpu == 0)) return b.cpu == 0;
    return a.cpu < b.cpu;
  });
  const auto pair_of = [](const Core& producer, const Core& consumer) {
    return CorePair{producer.cpu, consumer.cpu, producer.node == consumer.node ? producer.node : -1,
                    {}};
  };

  // The best two cores that share an L3 and a node: the group with the most isolated cores,
  // then the one on the journal's node.
  std::optional<std::pair<const Core*, const Core*>> best;
  int best_score = -1;
  for (std::size_t i = 0; i < cores.size(); ++i) {
    for (std::size_t j = i + 1; j < cores.size(); ++j) {
      const Core& a = cores[i];
      const Core& b = cores[j];
      if (a.node != b.node || a.l3 != b.l3) continue;
      const int score = 4 * (int(a.isolated) + int(b.isolated)) +
                        2 * int(preferences.near_numa_node >= 0 &&
                                a.node == preferences.near_numa_node);
      if (score > best_score) {
        best_score = score;
        best = std::pair{&a, &b};
      }
    }
  }
  if (best) {
    CorePair pair = pair_of(*best->first, *best->second);
    const bool isolated = best->first->isolated && best->second->isolated;
    const bool near =
        preferences.near_numa_node >= 0 && pair.numa_node == preferences.near_numa_node;
    pair.reason = describe(pair, isolated, near,
                           fmt::format("two physical cores{}{}",
                                       pair.numa_node >= 0
                                           ? fmt::format(" on NUMA node {}", pair.numa_node)
                                           : std::string(),
                                       best->first->l3 != nullptr ? ", sharing an L3 cache" : ""));
    return pair;
  }
  if (cores.size() >= 2) {
    CorePair pair = pair_of(cores[0], cores[1]);
    pair.reason = describe(pair, cores[0].isolated && cores[1].isolated, false,
                           cores[0].node == cores[1].node
                               ? "two physical cores under different L3 caches (no two share one)"
                               : "two physical cores on different NUMA nodes (no node has two)");
    return pair;
  }
  const std::vector<int> usable = cpus();
  if (usable.size() >= 2) {
    CorePair pair{usable[0], usable[1], cores.empty() ? -1 : cores[0].node, {}};
    pair.reason = describe(pair, false, false,
                           "two hardware threads of one core (the only core this process may "
                           "use): they share its execution units");
    return pair;
  }
  return std::unexpected(Error::because(
      SetupErrc::unusable_cpus,
      fmt::format("this process may use {} CPU(s): a producer and a consumer need two",
                  usable.size())));
}

std::expected<CorePair, Error> Topology::check_pair(int producer_cpu, int consumer_cpu) const {
  const std::vector<int> usable = cpus();
  for (const int cpu : {producer_cpu, consumer_cpu}) {
    if (!contains(usable, cpu)) {
      return std::unexpected(Error::because(
          SetupErrc::unusable_cpus,
          fmt::format("CPU {} is not one this process may use ({})", cpu,
                      fmt::join(usable, ","))));
    }
  }
  if (producer_cpu == consumer_cpu) {
    return std::unexpected(Error::because(
        SetupErrc::unusable_cpus,
        fmt::format("the producer and the consumer both asked for CPU {}: a spinning pair needs "
                    "two", producer_cpu)));
  }
  CorePair pair{producer_cpu, consumer_cpu, -1, {}};
  pair.reason = describe(pair, false, false, "as asked");
  return pair;
}

std::vector<int> Topology::cpus() const {
  std::vector<int> result;
  hwloc_const_cpuset_t allowed = state_->allowed();
  for (int cpu = hwloc_bitmap_first(allowed); cpu != -1; cpu = hwloc_bitmap_next(allowed, cpu)) {
    result.push_back(cpu);
  }
  return result;
}

int Topology::core_count() const { return static_cast<int>(state_->cores({}).size()); }

std::expected<void, Error> pin_this_thread(int cpu) {
  return placement::bind_this_thread(std::span(&cpu, 1));
}

std::vector<int> parse_cpu_list(std::string_view list) {
  std::vector<int> cpus;
  while (!list.empty() && (list.back() == '\n' || list.back() == ' ')) list.remove_suffix(1);
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string_view item = list.substr(0, comma);
    int first = 0;
    int last = 0;
    const char* end = item.data() + item.size();
    auto [at, error] = std::from_chars(item.data(), end, first);
    if (error != std::errc()) return {};
    last = first;
    if (at != end) {
      if (*at != '-') return {};
      auto [range_end, range_error] = std::from_chars(at + 1, end, last);
      if (range_error != std::errc() || range_end != end || last < first) return {};
    }
    for (int cpu = first; cpu <= last; ++cpu) cpus.push_back(cpu);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return cpus;
}

std::vector<int> isolated_cpus() {
  std::ifstream in("/sys/devices/system/cpu/isolated");
  std::string line;
  std::getline(in, line);
  return parse_cpu_list(line);
}

int numa_node_of(const std::filesystem::path& path, const std::filesystem::path& sysfs) {
  struct stat status {};
  std::error_code error;
  std::filesystem::path existing = std::filesystem::absolute(path, error);
  if (error) return -1;
  while (::stat(existing.c_str(), &status) != 0) {
    if (errno != ENOENT || !existing.has_relative_path()) return -1;
    existing = existing.parent_path();
  }
  const std::filesystem::path device =
      sysfs / fmt::format("dev/block/{}:{}", major(status.st_dev), minor(status.st_dev));
  // A partition's node is its disk's: the parent directory.
  for (const auto& candidate :
       {device / "device" / "numa_node", device / ".." / "device" / "numa_node"}) {
    std::ifstream in(candidate);
    int node = -1;
    if (in >> node) return node;
  }
  return -1;
}

}  // namespace ringlog::topology
