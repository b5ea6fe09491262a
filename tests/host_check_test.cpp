// `ringlog doctor`'s audit, run against hosts built as files: a tuned trading host whose every
// item passes, and an untuned one whose items fail or warn for the reasons a real one would.
#include "programs/ringlog/host_check.hpp"

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>

using ringlog::programs::CheckItem;
using ringlog::programs::HostCheckOptions;
using ringlog::programs::HostReport;
using ringlog::programs::Verdict;

namespace {

// A host's /proc and /sys as files: 2 sockets of 4 cores with 2 threads each; CPU n and n + 8
// are siblings, CPUs 0-3 and 8-11 are node 0. The hot pair is CPUs 2 and 3.
class FakeHost {
 public:
  FakeHost() {
    for (int cpu = 0; cpu < 16; ++cpu) {
      const std::string dir = "sys/devices/system/cpu/cpu" + std::to_string(cpu);
      const int sibling = cpu < 8 ? cpu + 8 : cpu - 8;
      write(dir + "/topology/thread_siblings_list",
            std::to_string(std::min(cpu, sibling)) + "," + std::to_string(std::max(cpu, sibling)));
      write(dir + "/node" + std::to_string(cpu % 8 < 4 ? 0 : 1) + "/cpulist", "");
    }
    write("sys/devices/system/node/node0/cpulist", "0-3,8-11");
    write("sys/devices/system/node/node1/cpulist", "4-7,12-15");
    write("proc/meminfo", "MemTotal:       65536000 kB\nMemFree:        60000000 kB\n");
    write("proc/self/mountinfo",
          "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n"
          "30 22 0:25 / /dev/shm rw,nosuid shared:2 - tmpfs tmpfs rw\n"
          "31 22 253:1 / /var/lib/ringlog rw,noatime shared:3 - xfs /dev/nvme1n1 rw,attr2\n");
  }

  // Everything as tuning/ leaves it.
  void tune() {
    write("proc/cmdline", "BOOT_IMAGE=/vmlinuz isolcpus=managed_irq,domain,2-3 nohz_full=2-3 "
                          "rcu_nocbs=2-3 nosmt");
    write("sys/devices/system/cpu/isolated", "2-3");
    write("sys/devices/system/cpu/nohz_full", "2-3");
    for (int cpu = 0; cpu < 16; ++cpu) {
      const std::string dir = "sys/devices/system/cpu/cpu" + std::to_string(cpu);
      write(dir + "/topology/thread_siblings_list", std::to_string(cpu));  // SMT off
      write(dir + "/cpufreq/scaling_governor", "performance");
      idle_state(cpu, 0, "POLL", 0, false);
      idle_state(cpu, 1, "C1", 2, false);
      // C6 disabled outright, or kept out of by a 2 µs wake-up limit.
      idle_state(cpu, 2, "C6", 133, cpu != 3);
      write(dir + "/power/pm_qos_resume_latency_us", cpu == 3 ? "2" : "0");
    }
    irq(24, "0-1");
    irq(25, "4");
    write("sys/devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages", "64");
    write("sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never");
    write("sys/kernel/mm/transparent_hugepage/defrag", "always defer [defer+madvise] madvise");
    write("proc/sys/vm/swappiness", "1");
    write("proc/sys/kernel/numa_balancing", "0");
    write("proc/sys/vm/dirty_background_bytes", "268435456");
    write("sys/devices/system/clocksource/clocksource0/current_clocksource", "tsc");
    write("proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu tsc constant_tsc nonstop_tsc sse\n");
    write("proc/sys/kernel/io_uring_disabled", "0");
  }

  // A general-purpose server as installed.
  void leave_untuned() {
    write("proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/nvme0n1p2 quiet");
    write("sys/devices/system/cpu/isolated", "");
    write("sys/devices/system/cpu/nohz_full", "(null)");
    for (int cpu = 0; cpu < 16; ++cpu) {
      write("sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/cpufreq/scaling_governor",
            "powersave");
      idle_state(cpu, 0, "POLL", 0, false);
      idle_state(cpu, 1, "C6", 133, false);
    }
    irq(24, "0-15");
    irq(25, "3");
    write("sys/devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages", "0");
    write("sys/kernel/mm/transparent_hugepage/enabled", "[always] madvise never");
    write("sys/kernel/mm/transparent_hugepage/defrag", "[always] defer defer+madvise madvise");
    write("proc/sys/vm/swappiness", "60");
    write("proc/sys/kernel/numa_balancing", "1");
    write("proc/sys/vm/dirty_background_bytes", "0");
    write("proc/sys/vm/dirty_background_ratio", "10");
    write("sys/devices/system/clocksource/clocksource0/current_clocksource", "hpet");
    write("proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu tsc sse\n");
    write("proc/sys/kernel/io_uring_disabled", "2");
  }

  void write(const std::string& relative, const std::string& content) {
    const std::filesystem::path path = dir_.path() / relative;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << content << "\n";
  }

  std::map<std::string, CheckItem> audit(std::filesystem::path journal, int producer = 2,
                                         int consumer = 3) const {
    HostCheckOptions options;
    options.producer_cpu = producer;
    options.consumer_cpu = consumer;
    options.journal_dir = std::move(journal);
    options.ring_bytes = std::size_t{8} << 20;
    options.root = dir_.path();
    const HostReport report = ringlog::programs::check_host(options);
    std::map<std::string, CheckItem> by_name;
    for (const CheckItem& item : report.items) by_name.emplace(item.name, item);
    EXPECT_EQ(by_name.size(), report.items.size()) << "item names must be unique";
    return by_name;
  }

 private:
  void idle_state(int cpu, int index, const std::string& name, int latency_us, bool disabled) {
    const std::string dir = "sys/devices/system/cpu/cpu" + std::to_string(cpu) +
                            "/cpuidle/state" + std::to_string(index);
    write(dir + "/name", name);
    write(dir + "/latency", std::to_string(latency_us));
    write(dir + "/disable", disabled ? "1" : "0");
  }
  void irq(int number, const std::string& cpus) {
    write("proc/irq/" + std::to_string(number) + "/effective_affinity_list", cpus);
  }

  ringlog::test::TempDir dir_;
};

// The items read from files; memlock and the live io_uring probe are about the host running
// the test, and journal-numa needs the journal's real device.
const char* const file_items[] = {
    "smt-pair", "smt-siblings", "isolation", "nohz_full", "rcu_nocbs",  "irqs",
    "governor", "c-states",     "clocksource", "tsc",     "hugepages",  "thp",
    "thp-defrag", "numa-balancing", "swappiness", "dirty-writeback", "io_uring", "journal-fs"};

}  // namespace

TEST(host_check, a_tuned_host_passes_every_item) {
  FakeHost host;
  host.tune();
  const auto items = host.audit("/var/lib/ringlog/journal");
  for (const char* name : file_items) {
    ASSERT_TRUE(items.contains(name)) << name;
    EXPECT_EQ(items.at(name).verdict, Verdict::pass) << name << ": " << items.at(name).found;
    EXPECT_TRUE(items.at(name).fix.empty()) << name;
  }
  EXPECT_NE(items.at("journal-fs").found.find("xfs on /dev/nvme1n1"), std::string::npos)
      << items.at("journal-fs").found;
}

TEST(host_check, an_untuned_host_fails_or_warns_with_the_fix) {
  FakeHost host;
  host.leave_untuned();
  const auto items = host.audit("/dev/shm/journal");
  const std::map<std::string, Verdict> expected = {
      {"smt-pair", Verdict::pass},  // 2 and 3 are different cores even with SMT on
      {"smt-siblings", Verdict::warn},
      {"isolation", Verdict::fail},
      {"nohz_full", Verdict::warn},
      {"rcu_nocbs", Verdict::warn},
      {"irqs", Verdict::fail},
      {"governor", Verdict::fail},
      {"c-states", Verdict::warn},
      {"clocksource", Verdict::fail},
      {"tsc", Verdict::warn},
      {"hugepages", Verdict::warn},
      {"thp", Verdict::warn},
      {"thp-defrag", Verdict::warn},
      {"numa-balancing", Verdict::warn},
      {"swappiness", Verdict::warn},
      {"dirty-writeback", Verdict::warn},  // 10% of 64 GiB
      {"io_uring", Verdict::warn},
      {"journal-fs", Verdict::fail},  // tmpfs
  };
  for (const auto& [name, verdict] : expected) {
    ASSERT_TRUE(items.contains(name)) << name;
    EXPECT_EQ(items.at(name).verdict, verdict) << name << ": " << items.at(name).found;
    EXPECT_FALSE(items.at(name).fix.empty() && verdict != Verdict::pass) << name;
  }
  EXPECT_NE(items.at("smt-siblings").found.find("10,11"), std::string::npos)
      << items.at("smt-siblings").found;
  EXPECT_NE(items.at("irqs").found.find("24 25"), std::string::npos) << items.at("irqs").found;
  EXPECT_NE(items.at("hugepages").fix.find("--node 0 --pages 4"), std::string::npos)
      << items.at("hugepages").fix;
  EXPECT_NE(items.at("isolation").fix.find("isolcpus=managed_irq,domain,2,3"), std::string::npos)
      << items.at("isolation").fix;
}

TEST(host_check, hugepages_are_counted_in_the_hosts_own_page_size) {
  FakeHost host;
  host.tune();  // 64 free 2 MiB pages, and none of 1 GiB yet
  host.write("proc/meminfo", "MemTotal:       65536000 kB\nHugepagesize:    1048576 kB\n");
  auto items = host.audit("/var/lib/ringlog");
  EXPECT_EQ(items.at("hugepages").verdict, Verdict::warn) << items.at("hugepages").found;
  EXPECT_NE(items.at("hugepages").found.find("1048576 KiB"), std::string::npos)
      << items.at("hugepages").found;
  EXPECT_NE(items.at("hugepages").fix.find("--pages 1 --size 1G"), std::string::npos)
      << items.at("hugepages").fix;
  host.write("sys/devices/system/node/node0/hugepages/hugepages-1048576kB/free_hugepages", "1");
  items = host.audit("/var/lib/ringlog");
  EXPECT_EQ(items.at("hugepages").verdict, Verdict::pass) << items.at("hugepages").found;
}

TEST(host_check, hardware_threads_of_one_core_are_refused_as_a_pair) {
  FakeHost host;
  host.leave_untuned();
  const auto items = host.audit("/var/lib/ringlog", 2, 10);
  EXPECT_EQ(items.at("smt-pair").verdict, Verdict::fail) << items.at("smt-pair").found;
}

TEST(host_check, mount_options_that_weaken_durability_fail) {
  FakeHost host;
  host.tune();
  host.write("proc/self/mountinfo",
             "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/sda2 rw,barrier=0\n"
             "31 22 253:1 / /journal rw shared:3 - ext4 /dev/sdb1 rw,data=journal\n");
  EXPECT_EQ(host.audit("/srv/journal").at("journal-fs").verdict, Verdict::fail);
  EXPECT_EQ(host.audit("/journal/today").at("journal-fs").verdict, Verdict::warn);
  // A mount point that is only a prefix of the name is not the journal's.
  EXPECT_EQ(host.audit("/journalling").at("journal-fs").verdict, Verdict::fail);
}

// Every item once, each with what it found and, unless it passes, a fix. Of this host's state
// the test sets one thing, a memlock limit below the ring, and memlock must see it: it warns
// with the limit, or passes for root, whom no limit binds.
TEST(host_check, this_host_gets_every_item_and_a_verdict) {
  HostCheckOptions options;
  options.producer_cpu = 0;
  options.consumer_cpu = 0;
  options.ring_bytes = std::size_t{8} << 20;
  ringlog::test::TempDir dir;
  options.journal_dir = dir.path();
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_MEMLOCK, &before), 0);
  rlimit below_the_ring = before;
  below_the_ring.rlim_cur = std::min<rlim_t>(64 << 10, before.rlim_max);
  ASSERT_EQ(::setrlimit(RLIMIT_MEMLOCK, &below_the_ring), 0);
  const HostReport report = ringlog::programs::check_host(options);
  ASSERT_EQ(::setrlimit(RLIMIT_MEMLOCK, &before), 0);

  EXPECT_EQ(report.items.size(), std::size(file_items) + 2);  // + memlock, journal-numa
  std::set<std::string> expected(std::begin(file_items), std::end(file_items));
  expected.insert({"memlock", "journal-numa"});
  std::set<std::string> named;
  for (const CheckItem& item : report.items) {
    EXPECT_TRUE(named.insert(item.name).second) << item.name << " comes twice";
    EXPECT_FALSE(item.found.empty()) << item.name;
    EXPECT_EQ(item.fix.empty(), item.verdict == Verdict::pass) << item.name << ": " << item.fix;
  }
  EXPECT_EQ(named, expected);

  const auto memlock = std::ranges::find(report.items, std::string("memlock"), &CheckItem::name);
  ASSERT_NE(memlock, report.items.end());
  if (::geteuid() == 0) {
    EXPECT_EQ(memlock->verdict, Verdict::pass) << memlock->found;
    EXPECT_NE(memlock->found.find("root"), std::string::npos) << memlock->found;
  } else {
    EXPECT_EQ(memlock->verdict, Verdict::warn) << memlock->found;
    const std::string limit =
        "RLIMIT_MEMLOCK is " + std::to_string(below_the_ring.rlim_cur >> 10) + " KiB";
    EXPECT_NE(memlock->found.find(limit), std::string::npos) << memlock->found;
  }
}
