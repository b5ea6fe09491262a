#include "programs/ringlog/host_check.hpp"

#include "placement/binding.hpp"
#include "support/proc_fields.hpp"

#include <ringlog/topology.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <fmt/ranges.h>
#include <liburing.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

namespace ringlog::programs {

namespace {

std::optional<long long> to_number(std::string_view text) {
  long long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The host's files, read under a root directory.
class HostFiles {
 public:
  explicit HostFiles(std::filesystem::path root) : root_(std::move(root)) {}

  bool live() const { return root_ == "/"; }
  std::filesystem::path path(std::string_view relative) const { return root_ / relative; }

  // The whole file without its trailing whitespace; nullopt when it cannot be read.
  std::optional<std::string> read(std::string_view relative) const {
    std::ifstream in(path(relative));
    if (!in) return std::nullopt;
    std::stringstream text;
    text << in.rdbuf();
    std::string content = text.str();
    while (!content.empty() && std::isspace(static_cast<unsigned char>(content.back()))) {
      content.pop_back();
    }
    return content;
  }
  std::optional<long long> read_number(std::string_view relative) const {
    const auto text = read(relative);
    return text ? to_number(*text) : std::nullopt;
  }
  // A CPU list file ("2-5,8"); empty when absent, empty or "(null)".
  std::vector<int> read_cpus(std::string_view relative) const {
    return topology::parse_cpu_list(read(relative).value_or(""));
  }
  // The names in a directory that start with `prefix`.
  std::vector<std::string> list(std::string_view relative, std::string_view prefix) const {
    std::vector<std::string> names;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(path(relative), error)) {
      std::string name = entry.path().filename().string();
      if (name.starts_with(prefix)) names.push_back(std::move(name));
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::filesystem::path root_;
};

bool contains(const std::vector<int>& cpus, int cpu) {
  return std::find(cpus.begin(), cpus.end(), cpu) != cpus.end();
}

// "always [madvise] never" → "madvise".
std::string bracketed(const std::string& setting) {
  const std::size_t open = setting.find('[');
  const std::size_t close = setting.find(']', open);
  if (open == std::string::npos || close == std::string::npos) return setting;
  return setting.substr(open + 1, close - open - 1);
}

// The value of `key=` on the kernel command line, or nullopt.
std::optional<std::string> boot_parameter(const HostFiles& host, std::string_view key) {
  std::istringstream words(host.read("proc/cmdline").value_or(""));
  const std::string wanted = std::string(key) + "=";
  for (std::string word; words >> word;) {
    if (word == "--") break;  // the rest goes to init
    if (word.starts_with(wanted)) return word.substr(wanted.size());
  }
  return std::nullopt;
}

CheckItem pass(std::string name, std::string found) {
  return {std::move(name), Verdict::pass, std::move(found), {}};
}
CheckItem warn(std::string name, std::string found, std::string fix) {
  return {std::move(name), Verdict::warn, std::move(found), std::move(fix)};
}
CheckItem fail(std::string name, std::string found, std::string fix) {
  return {std::move(name), Verdict::fail, std::move(found), std::move(fix)};
}

class Audit {
 public:
  explicit Audit(const HostCheckOptions& options)
      : options_(options), host_(options.root), hot_{options.producer_cpu, options.consumer_cpu} {}

  std::vector<CheckItem> run() {
    return {smt_pair(),     smt_siblings(), isolation(),  nohz_full(),       rcu_nocbs(),
            irqs(),         governor(),     idle_states(), clocksource(),    invariant_tsc(),
            hugepages(),    thp(),          thp_defrag(), numa_balancing(),  swappiness(),
            dirty_writeback(),
            memlock(),      io_uring_usable(),     journal_filesystem(), journal_numa_node()};
  }

 private:
  std::string hot_text() const {
    std::vector<int> sorted = hot_;
    std::sort(sorted.begin(), sorted.end());
    return placement::cpu_list_text(sorted);
  }
  std::string cpu_dir(int cpu) const { return fmt::format("sys/devices/system/cpu/cpu{}", cpu); }

  std::vector<int> siblings_of(int cpu) const {
    return host_.read_cpus(cpu_dir(cpu) + "/topology/thread_siblings_list");
  }

  CheckItem smt_pair() const {
    const std::vector<int> siblings = siblings_of(hot_[0]);
    if (siblings.empty()) {
      return warn("smt-pair", fmt::format("CPU {}'s core is not described here", hot_[0]),
                  "check with lscpu -e that the two CPUs are different cores");
    }
    if (contains(siblings, hot_[1])) {
      return fail("smt-pair",
                  fmt::format("CPUs {} are hardware threads of one core: they share its execution "
                              "units and caches, and each slows the other",
                              hot_text()),
                  "use two physical cores (ringlog doctor without --cpus picks a pair)");
    }
    return pass("smt-pair", fmt::format("CPUs {} are two different physical cores", hot_text()));
  }

  CheckItem smt_siblings() const {
    std::vector<int> others;
    for (const int cpu : hot_) {
      for (const int sibling : siblings_of(cpu)) {
        if (!contains(hot_, sibling)) others.push_back(sibling);
      }
    }
    if (others.empty()) return pass("smt-siblings", "the hot cores have no other hardware thread");
    return warn("smt-siblings",
                fmt::format("CPUs {} share the hot cores: whatever runs there slows them",
                            placement::cpu_list_text(others)),
                "keep those CPUs idle (isolate them too), or turn SMT off: nosmt on the kernel "
                "command line (tuning/kernel-cmdline.conf)");
  }

  // An item for a boot parameter that takes a CPU list (`boot_setting` is what comes before the
  // list): `verdict` unless the CPUs it now covers include both hot cores.
  CheckItem boot_cpu_list(std::string name, const std::vector<int>& covered, Verdict verdict,
                          std::string_view boot_setting, std::string_view when_covered,
                          std::string_view otherwise) const {
    if (contains(covered, hot_[0]) && contains(covered, hot_[1])) {
      return pass(std::move(name), fmt::format("CPUs {} {}", hot_text(), when_covered));
    }
    return {std::move(name), verdict,
            fmt::format("CPUs {} {} (now covered: {})", hot_text(), otherwise,
                        placement::cpu_list_text(covered)),
            fmt::format("boot with {}{} (tuning/kernel-cmdline.conf)", boot_setting, hot_text())};
  }

  CheckItem isolation() const {
    return boot_cpu_list("isolation", host_.read_cpus("sys/devices/system/cpu/isolated"),
                         Verdict::fail, "isolcpus=managed_irq,domain,", "are isolated from the scheduler",
                         "are not isolated: any task may be scheduled onto them and preempt the "
                         "producer or consumer");
  }

  CheckItem nohz_full() const {
    return boot_cpu_list("nohz_full", host_.read_cpus("sys/devices/system/cpu/nohz_full"),
                         Verdict::warn, "nohz_full=", "run without the scheduler tick",
                         "take the scheduler tick every few milliseconds");
  }

  CheckItem rcu_nocbs() const {
    return boot_cpu_list(
        "rcu_nocbs", topology::parse_cpu_list(boot_parameter(host_, "rcu_nocbs").value_or("")),
        Verdict::warn, "rcu_nocbs=", "run no RCU callbacks", "run RCU callbacks");
  }

  CheckItem irqs() const {
    std::vector<std::string> landing;
    for (const std::string& irq : host_.list("proc/irq", "")) {
      if (irq.empty() || !std::isdigit(static_cast<unsigned char>(irq[0]))) continue;
      // The effective affinity is where the interrupt is delivered; older kernels only have the
      // requested one.
      std::vector<int> cpus = host_.read_cpus("proc/irq/" + irq + "/effective_affinity_list");
      if (cpus.empty()) cpus = host_.read_cpus("proc/irq/" + irq + "/smp_affinity_list");
      if (contains(cpus, hot_[0]) || contains(cpus, hot_[1])) landing.push_back(irq);
    }
    if (landing.empty()) return pass("irqs", fmt::format("no IRQ is delivered to CPUs {}",
                                                         hot_text()));
    return fail("irqs",
                fmt::format("{} IRQ(s) are delivered to CPUs {}: {}", landing.size(), hot_text(),
                            fmt::join(landing, " ")),
                fmt::format("tuning/irq-affinity --avoid {} --apply (and irqaffinity= on the "
                            "kernel command line)", hot_text()));
  }

  CheckItem governor() const {
    std::vector<std::string> slow;
    for (const int cpu : hot_) {
      const auto setting = host_.read(cpu_dir(cpu) + "/cpufreq/scaling_governor");
      if (!setting) {
        return warn("governor",
                    fmt::format("CPU {} has no cpufreq governor: its frequency is up to the "
                                "firmware or the hypervisor", cpu),
                    "set the BIOS (or the host) to maximum performance, no frequency scaling");
      }
      if (*setting != "performance") slow.push_back(fmt::format("CPU {}: {}", cpu, *setting));
    }
    if (slow.empty()) return pass("governor", "performance on both hot cores");
    return fail("governor",
                fmt::format("{}: the clock drops when idle and ramps back up late",
                            fmt::join(slow, ", ")),
                fmt::format("tuning/cpu-performance --cpus {} --apply", hot_text()));
  }

  CheckItem idle_states() const {
    // Exit latencies above this are spikes a spinning thread's neighbour can cause.
    constexpr long long shallow_us = 2;
    std::vector<std::string> deep;
    for (const int cpu : hot_) {
      // A power-QoS wake-up limit keeps the idle governor out of states slower than it; "n/a"
      // allows none, 0 sets no limit.
      const std::string limit =
          host_.read(cpu_dir(cpu) + "/power/pm_qos_resume_latency_us").value_or("0");
      const long long wake_limit_us = to_number(limit).value_or(0);
      const bool limited = limit == "n/a" || wake_limit_us > 0;
      const std::string dir = cpu_dir(cpu) + "/cpuidle";
      for (const std::string& state : host_.list(dir, "state")) {
        const std::string at = dir + "/" + state;
        const long long latency = host_.read_number(at + "/latency").value_or(0);
        const bool allowed = !limited || latency <= wake_limit_us;
        if (latency > shallow_us && allowed &&
            host_.read_number(at + "/disable").value_or(0) == 0) {
          deep.push_back(fmt::format("CPU {}: {} ({} µs)", cpu, host_.read(at + "/name")
                                                                     .value_or(state), latency));
        }
      }
    }
    if (deep.empty()) return pass("c-states", "no idle state deeper than 2 µs is enabled");
    return warn("c-states",
                fmt::format("deep idle states enabled: {}", fmt::join(deep, ", ")),
                fmt::format("tuning/cpu-performance --cpus {} --apply, or "
                            "intel_idle.max_cstate=1 on the kernel command line", hot_text()));
  }

  CheckItem clocksource() const {
    const std::string source =
        host_.read("sys/devices/system/clocksource/clocksource0/current_clocksource")
            .value_or("unknown");
    if (source == "tsc") return pass("clocksource", "tsc: clock reads stay in user space");
    if (source == "kvm-clock" || source == "hyperv_clocksource_tsc_page" ||
        source == "arch_sys_counter") {
      return warn("clocksource",
                  fmt::format("{}: clock reads stay in user space, through the hypervisor's "
                              "clock page", source),
                  "on bare metal with an invariant TSC: tsc=reliable clocksource=tsc");
    }
    return fail("clocksource",
                fmt::format("{}: every clock read is a system call", source),
                "clocksource=tsc tsc=reliable on the kernel command line, where the TSC is "
                "invariant");
  }

  CheckItem invariant_tsc() const {
    std::istringstream cpuinfo(host_.read("proc/cpuinfo").value_or(""));
    for (std::string line; std::getline(cpuinfo, line);) {
      if (!line.starts_with("flags")) continue;
      const bool constant = line.find(" constant_tsc") != std::string::npos;
      const bool nonstop = line.find(" nonstop_tsc") != std::string::npos;
      if (constant && nonstop) {
        return pass("tsc", "invariant TSC (constant_tsc, nonstop_tsc): TSC stamps are exact");
      }
      break;
    }
    return warn("tsc",
                "no invariant TSC (constant_tsc and nonstop_tsc): TSC stamps drift with the "
                "clock frequency and idle states",
                "latency figures from TSC stamps are unreliable on this CPU; use another host "
                "for measuring");
  }

  int node_of_cpu(int cpu) const {
    for (const std::string& name : host_.list(cpu_dir(cpu), "node")) {
      int node = -1;
      if (std::sscanf(name.c_str(), "node%d", &node) == 1) return node;
    }
    return -1;
  }

  // The size explicit hugepages come in here (what MAP_HUGETLB maps): the host's default.
  std::size_t huge_page_kib() const {
    constexpr double x86_64_default_kib = 2048;
    return static_cast<std::size_t>(
        support::proc_field(host_.read("proc/meminfo").value_or(""), "Hugepagesize:")
            .value_or(x86_64_default_kib));
  }

  CheckItem hugepages() const {
    const int node = std::max(node_of_cpu(hot_[0]), 0);
    const std::size_t page_kib = std::max<std::size_t>(huge_page_kib(), 1);
    const std::string dir = fmt::format(
        "sys/devices/system/node/node{}/hugepages/hugepages-{}kB", node, page_kib);
    const long long free = host_.read_number(dir + "/free_hugepages").value_or(0);
    const std::size_t needed = ((options_.ring_bytes >> 10) + page_kib - 1) / page_kib;
    if (free >= static_cast<long long>(needed)) {
      return pass("hugepages", fmt::format("{} free {} KiB hugepages on node {}; the ring needs "
                                           "{}", free, page_kib, node, needed));
    }
    return warn("hugepages",
                fmt::format("{} free {} KiB hugepages on node {}, the ring needs {}: it gets "
                            "transparent hugepages where it can, else normal pages",
                            free, page_kib, node, needed),
                fmt::format("tuning/reserve-hugepages --node {} --pages {}{} --apply", node,
                            needed, page_kib == (1u << 20) ? " --size 1G" : ""));
  }

  CheckItem thp() const {
    const std::string mode =
        bracketed(host_.read("sys/kernel/mm/transparent_hugepage/enabled").value_or("?"));
    if (mode == "madvise") {
      return pass("thp", "transparent hugepages for those who ask (madvise), as the ring does");
    }
    if (mode == "always") {
      return warn("thp",
                  "transparent hugepages always: khugepaged and compaction work on every "
                  "process's memory, and page faults of any process may compact",
                  "transparent_hugepage=madvise on the kernel command line, or echo madvise > "
                  "/sys/kernel/mm/transparent_hugepage/enabled");
    }
    return warn("thp",
                fmt::format("transparent hugepages {}: without reserved hugepages the ring gets "
                            "normal pages and more TLB misses", mode),
                "reserve hugepages (tuning/reserve-hugepages), or set "
                "/sys/kernel/mm/transparent_hugepage/enabled to madvise");
  }

  CheckItem thp_defrag() const {
    const std::string mode =
        bracketed(host_.read("sys/kernel/mm/transparent_hugepage/defrag").value_or("?"));
    if (mode == "always") {
      return warn("thp-defrag",
                  "defrag always: a page fault may stall to compact memory",
                  "echo defer+madvise > /sys/kernel/mm/transparent_hugepage/defrag");
    }
    return pass("thp-defrag", fmt::format("defrag {}: faults do not compact memory unasked",
                                          mode));
  }

  CheckItem numa_balancing() const {
    const long long value = host_.read_number("proc/sys/kernel/numa_balancing").value_or(0);
    if (value == 0) return pass("numa-balancing", "kernel.numa_balancing = 0");
    return warn("numa-balancing",
                fmt::format("kernel.numa_balancing = {}: the kernel unmaps pages to sample who "
                            "touches them, and the next touch faults, on the hot path too",
                            value),
                "kernel.numa_balancing = 0 (tuning/sysctl.d/90-ringlog.conf)");
  }

  CheckItem swappiness() const {
    const long long value = host_.read_number("proc/sys/vm/swappiness").value_or(60);
    if (value <= 10) return pass("swappiness", fmt::format("vm.swappiness = {}", value));
    return warn("swappiness",
                fmt::format("vm.swappiness = {}: memory that is not locked may be swapped out "
                            "and fault back in on the hot path", value),
                "vm.swappiness = 1 (tuning/sysctl.d/90-ringlog.conf)");
  }

  CheckItem dirty_writeback() const {
    const double total_kb =
        support::proc_field(host_.read("proc/meminfo").value_or(""), "MemTotal:").value_or(0);
    const long long bytes = host_.read_number("proc/sys/vm/dirty_background_bytes").value_or(0);
    const long long ratio = host_.read_number("proc/sys/vm/dirty_background_ratio").value_or(10);
    const double background_mb =
        bytes > 0 ? double(bytes) / 1e6 : total_kb * 1024 * double(ratio) / 100 / 1e6;
    const std::string setting = bytes > 0 ? fmt::format("vm.dirty_background_bytes = {}", bytes)
                                          : fmt::format("vm.dirty_background_ratio = {}", ratio);
    // Up to here writeback trickles along beside the journal; beyond, it comes in bursts that
    // make each fdatasync wait.
    constexpr double steady_mb = 1024;
    if (background_mb <= steady_mb) {
      return pass("dirty-writeback", fmt::format("{}: writeback starts after {:.0f} MB are "
                                                 "dirty", setting, background_mb));
    }
    return warn("dirty-writeback",
                fmt::format("{}: writeback starts only after {:.0f} MB are dirty, then comes in "
                            "bursts that stall fdatasync", setting, background_mb),
                "vm.dirty_background_bytes = 268435456 (tuning/sysctl.d/90-ringlog.conf)");
  }

  CheckItem memlock() const {
    if (!host_.live()) {
      return warn("memlock", "not checked: these are another host's files",
                  "run ringlog doctor on that host");
    }
    if (::geteuid() == 0) return pass("memlock", "root (CAP_IPC_LOCK): no limit on locking");
    rlimit limit{};
    ::getrlimit(RLIMIT_MEMLOCK, &limit);
    if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= options_.ring_bytes) {
      return pass("memlock", "RLIMIT_MEMLOCK lets the ring be locked");
    }
    return warn("memlock",
                fmt::format("RLIMIT_MEMLOCK is {} KiB, the ring is {} KiB: it cannot be locked "
                            "in memory", limit.rlim_cur >> 10, options_.ring_bytes >> 10),
                "LimitMEMLOCK=infinity in the service's unit, or a memlock line in "
                "/etc/security/limits.d/");
  }

  CheckItem io_uring_usable() const {
    const long long disabled = host_.read_number("proc/sys/kernel/io_uring_disabled").value_or(0);
    if (disabled != 0) {
      return warn("io_uring",
                  fmt::format("kernel.io_uring_disabled = {}: the journal flushes with fdatasync "
                              "on a thread of its own", disabled),
                  "sysctl kernel.io_uring_disabled=0 (tuning/sysctl.d/90-ringlog.conf)");
    }
    if (!host_.live()) return pass("io_uring", "kernel.io_uring_disabled = 0");
    ::io_uring ring{};
    if (const int error = io_uring_queue_init(2, &ring, 0); error < 0) {
      return warn("io_uring",
                  fmt::format("io_uring_setup fails here ({}): the journal flushes with "
                              "fdatasync on a thread of its own", std::strerror(-error)),
                  "allow io_uring_setup (container seccomp profile), or a 5.6+ kernel");
    }
    io_uring_queue_exit(&ring);
    return pass("io_uring", "io_uring works: fsyncs go through it");
  }

  // The mount that holds `path`: the longest mount point that is a prefix of it.
  struct Mount {
    std::string point, type, source, options;
  };
  std::optional<Mount> mount_of(const std::filesystem::path& path) const {
    std::optional<Mount> best;
    std::istringstream mountinfo(host_.read("proc/self/mountinfo").value_or(""));
    for (std::string line; std::getline(mountinfo, line);) {
      // id parent major:minor root mount-point options [optional...] - type source super-options
      std::istringstream fields(line);
      std::string id, parent, device, root, point, options, field;
      fields >> id >> parent >> device >> root >> point >> options;
      while (fields >> field && field != "-") {}
      Mount mount{point, {}, {}, options};
      std::string super_options;
      fields >> mount.type >> mount.source >> super_options;
      mount.options += "," + super_options;
      const std::string text = path.string();
      const bool holds = point == "/" || text == point || text.starts_with(point + "/");
      if (holds && (!best || point.size() >= best->point.size())) best = mount;
    }
    return best;
  }

  std::filesystem::path journal_path() const {
    std::filesystem::path path = std::filesystem::absolute(options_.journal_dir);
    if (!host_.live()) return path.lexically_normal();
    // The journal may not exist yet: its nearest existing ancestor decides.
    while (!std::filesystem::exists(path) && path.has_parent_path() &&
           path != path.parent_path()) {
      path = path.parent_path();
    }
    return std::filesystem::canonical(path);
  }

  CheckItem journal_filesystem() const {
    const std::filesystem::path path = journal_path();
    const std::optional<Mount> mount = mount_of(path);
    if (!mount) {
      return warn("journal-fs", fmt::format("no mount found for {}", path.string()),
                  "check /proc/self/mountinfo");
    }
    const std::string found = fmt::format("{} on {} at {} ({})", mount->type, mount->source,
                                          mount->point, mount->options);
    const auto has_option = [&](std::string_view option) {
      std::istringstream options(mount->options);
      for (std::string item; std::getline(options, item, ',');) {
        if (item == option) return true;
      }
      return false;
    };
    if (mount->type == "tmpfs" || mount->type == "ramfs") {
      return fail("journal-fs", found + ": memory, not a disk; a power loss loses everything",
                  "put the journal on a local ext4 or xfs filesystem");
    }
    if (has_option("ro")) return fail("journal-fs", found + ": read-only", "mount it rw");
    if (has_option("nobarrier") || has_option("barrier=0")) {
      return fail("journal-fs",
                  found + ": write barriers off, so a power loss can lose what fdatasync "
                          "reported durable",
                  "remount without nobarrier / barrier=0");
    }
    if (has_option("sync") || has_option("dirsync") || has_option("data=journal")) {
      return warn("journal-fs", found + ": every write waits for the disk or is written twice",
                  "mount without sync, dirsync, data=journal: the journal flushes itself");
    }
    if (mount->type == "ext4" || mount->type == "xfs") return pass("journal-fs", found);
    return warn("journal-fs",
                found + ": fdatasync is slower or less steady here than on ext4 or xfs",
                "put the journal on a local ext4 or xfs filesystem");
  }

  CheckItem journal_numa_node() const {
    const int cpu_node = node_of_cpu(hot_[0]);
    if (host_.list("sys/devices/system/node", "node").size() <= 1) {
      return pass("journal-numa", "one NUMA node: the journal's device is near by definition");
    }
    const int device_node = host_.live() ? topology::numa_node_of(journal_path()) : -1;
    if (device_node < 0) {
      return warn("journal-numa", "the journal's device reports no NUMA node",
                  "check /sys/block/<disk>/device/numa_node");
    }
    if (device_node == cpu_node) {
      return pass("journal-numa", fmt::format("the journal's device and the hot cores are on "
                                              "node {}", cpu_node));
    }
    return warn("journal-numa",
                fmt::format("the journal's device is on node {}, the hot cores on node {}: "
                            "every flush crosses the interconnect", device_node, cpu_node),
                fmt::format("use cores of node {} (ringlog doctor without --cpus picks them), or "
                            "a disk on node {}", device_node, cpu_node));
  }

  const HostCheckOptions& options_;
  HostFiles host_;
  std::vector<int> hot_;
};

std::string_view verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::pass: return "PASS";
    case Verdict::warn: return "WARN";
    case Verdict::fail: return "FAIL";
  }
  return "?";
}

}  // namespace

std::size_t HostReport::count(Verdict verdict) const {
  return static_cast<std::size_t>(std::count_if(
      items.begin(), items.end(), [&](const CheckItem& item) { return item.verdict == verdict; }));
}

HostReport check_host(const HostCheckOptions& options) {
  return {options, Audit(options).run()};
}

void print_host_report(const HostReport& report, std::FILE* out) {
  fmt::print(out, "ringlog doctor: producer CPU {}, consumer CPU {}, journal {}, ring {} KiB\n",
             report.checked.producer_cpu, report.checked.consumer_cpu,
             report.checked.journal_dir.string(), report.checked.ring_bytes >> 10);
  for (const CheckItem& item : report.items) {
    fmt::print(out, "{}  {:<16} {}\n", verdict_name(item.verdict), item.name, item.found);
    if (!item.fix.empty()) fmt::print(out, "      {:<16} fix: {}\n", "", item.fix);
  }
  fmt::print(out, "{}: {} FAIL, {} WARN, {} PASS\n",
             report.fit_for_production() ? "fit for production" : "NOT fit for production",
             report.count(Verdict::fail), report.count(Verdict::warn),
             report.count(Verdict::pass));
}

void print_host_report_json(const HostReport& report, std::FILE* out) {
  using Json = nlohmann::ordered_json;
  Json items = Json::array();
  for (const CheckItem& item : report.items) {
    items.push_back({{"name", item.name},
                     {"verdict", verdict_name(item.verdict)},
                     {"found", item.found},
                     {"fix", item.fix}});
  }
  const Json json = {{"producer_cpu", report.checked.producer_cpu},
                     {"consumer_cpu", report.checked.consumer_cpu},
                     {"journal", report.checked.journal_dir.string()},
                     {"ring_bytes", report.checked.ring_bytes},
                     {"fit_for_production", report.fit_for_production()},
                     {"fail", report.count(Verdict::fail)},
                     {"warn", report.count(Verdict::warn)},
                     {"pass", report.count(Verdict::pass)},
                     {"items", std::move(items)}};
  fmt::print(out, "{}\n", json.dump());
}

}  // namespace ringlog::programs
