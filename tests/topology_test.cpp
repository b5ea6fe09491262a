// The core-pair choice and the placement plan built on it, on synthetic machines loaded from
// hwloc XML and on this one; binding threads to CPUs.
#include <ringlog/topology.hpp>

#include "placement/binding.hpp"
#include "placement/plan.hpp"

#include "test_support.hpp"

#include <gtest/gtest.h>
#include <hwloc.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstdlib>
#include <expected>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

using namespace ringlog;
using topology::CorePair;
using topology::PairPreferences;
using topology::Topology;

namespace {

// The XML that hwloc exports for a synthetic machine, e.g. "pack:2 numa:1 l3:1 core:8 pu:2".
// PUs are numbered in order: core k of that example holds PUs 2k and 2k+1.
std::string xml_of(const char* synthetic) {
  hwloc_topology_t topology = nullptr;
  hwloc_topology_init(&topology);
  std::string xml;
  char* buffer = nullptr;
  int length = 0;
  if (hwloc_topology_set_synthetic(topology, synthetic) == 0 &&
      hwloc_topology_load(topology) == 0 &&
      hwloc_topology_export_xmlbuffer(topology, &buffer, &length, 0) == 0) {
    xml.assign(buffer, static_cast<std::size_t>(length));
    hwloc_free_xmlbuffer(topology, buffer);
  }
  hwloc_topology_destroy(topology);
  return xml;
}

Topology load(const char* synthetic) {
  auto topology = Topology::from_xml(xml_of(synthetic));
  if (!topology) throw std::runtime_error(topology.error().message());
  return std::move(*topology);
}

// Two sockets of 8 cores with 2 hardware threads each; one NUMA node and one L3 per socket.
constexpr const char* two_sockets = "pack:2 numa:1 l3:1 core:8 pu:2";

int core_of(int cpu) { return cpu / 2; }
int socket_of(int cpu) { return cpu / 16; }

// Both CPUs of the pair in [first, last], on two different physical cores.
void expect_two_cores_within(const topology::CorePair& pair, int first, int last) {
  for (const int cpu : {pair.producer_cpu, pair.consumer_cpu}) {
    EXPECT_GE(cpu, first);
    EXPECT_LE(cpu, last);
  }
  EXPECT_NE(core_of(pair.producer_cpu), core_of(pair.consumer_cpu)) << "SMT siblings";
}

}  // namespace

TEST(topology, picks_two_physical_cores_sharing_a_node_and_an_l3) {
  const Topology machine = load(two_sockets);
  EXPECT_EQ(machine.cpus().size(), 32u);
  EXPECT_EQ(machine.core_count(), 16);
  const auto pair = machine.choose_pair();
  ASSERT_TRUE(pair.has_value()) << pair.error();
  EXPECT_NE(core_of(pair->producer_cpu), core_of(pair->consumer_cpu)) << "SMT siblings";
  EXPECT_EQ(socket_of(pair->producer_cpu), socket_of(pair->consumer_cpu));
  EXPECT_EQ(pair->numa_node, socket_of(pair->producer_cpu));
  EXPECT_NE(pair->producer_cpu, 0) << "CPU 0 does the kernel's housekeeping";
  EXPECT_NE(pair->consumer_cpu, 0);
  EXPECT_NE(pair->reason.find("two physical cores on NUMA node"), std::string::npos)
      << pair->reason;
  EXPECT_NE(pair->reason.find("sharing an L3 cache"), std::string::npos) << pair->reason;
}

TEST(topology, prefers_isolated_cpus) {
  const Topology machine = load(two_sockets);
  PairPreferences preferences;
  preferences.isolated_cpus = topology::parse_cpu_list("20-31");  // cores 10-15, socket 1
  const auto pair = machine.choose_pair(preferences);
  ASSERT_TRUE(pair.has_value());
  expect_two_cores_within(*pair, 20, 31);
  EXPECT_EQ(pair->numa_node, 1);
  EXPECT_NE(pair->reason.find("isolated"), std::string::npos) << pair->reason;

  // Isolation outweighs nearness to the journal: an isolated pair on socket 0 wins.
  preferences.isolated_cpus = topology::parse_cpu_list("4-7");
  preferences.near_numa_node = 1;
  const auto isolated_first = machine.choose_pair(preferences);
  ASSERT_TRUE(isolated_first.has_value());
  expect_two_cores_within(*isolated_first, 4, 7);
  EXPECT_EQ(isolated_first->numa_node, 0);
}

TEST(topology, prefers_the_node_nearest_the_journal) {
  const Topology machine = load(two_sockets);
  PairPreferences preferences;
  preferences.near_numa_node = 1;
  const auto pair = machine.choose_pair(preferences);
  ASSERT_TRUE(pair.has_value());
  EXPECT_EQ(pair->numa_node, 1);
  EXPECT_EQ(socket_of(pair->producer_cpu), 1);
  EXPECT_EQ(socket_of(pair->consumer_cpu), 1);
  EXPECT_NE(pair->reason.find("nearest the journal"), std::string::npos) << pair->reason;
}

TEST(topology, falls_back_step_by_step_and_says_so) {
  // One core per socket: the two cores sit on different nodes.
  const auto split = load("pack:2 numa:1 l3:1 core:1 pu:2").choose_pair();
  ASSERT_TRUE(split.has_value());
  EXPECT_NE(core_of(split->producer_cpu), core_of(split->consumer_cpu));
  EXPECT_NE(split->reason.find("different NUMA nodes"), std::string::npos) << split->reason;

  // One socket, one core per L3.
  const auto caches = load("pack:1 l3:2 core:1 pu:1").choose_pair();
  ASSERT_TRUE(caches.has_value());
  EXPECT_NE(caches->reason.find("different L3 caches"), std::string::npos) << caches->reason;

  // One core with two hardware threads: the only pair there is, named for what it is.
  const auto siblings = load("pack:1 core:1 pu:2").choose_pair();
  ASSERT_TRUE(siblings.has_value());
  EXPECT_NE(siblings->producer_cpu, siblings->consumer_cpu);
  EXPECT_NE(siblings->reason.find("hardware threads of one core"), std::string::npos)
      << siblings->reason;

  const auto alone = load("pack:1 core:1 pu:1").choose_pair();
  ASSERT_FALSE(alone.has_value());
  EXPECT_NE(alone.error().message().find("need two"), std::string::npos) << alone.error();
}

TEST(topology, checks_a_pair_the_user_names) {
  const Topology machine = load(two_sockets);
  EXPECT_TRUE(machine.check_pair(3, 5).has_value());
  const auto missing = machine.check_pair(3, 64);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ringlog::SetupErrc::unusable_cpus);
  EXPECT_NE(missing.error().message().find("CPU 64 is not one this process may use"), std::string::npos)
      << missing.error();
  const auto same = machine.check_pair(3, 3);
  ASSERT_FALSE(same.has_value());
  EXPECT_NE(same.error().message().find("both asked for CPU 3"), std::string::npos) << same.error();
}

TEST(topology, refuses_xml_that_is_not_a_topology) {
  const auto refused = Topology::from_xml("<not-hwloc/>");
  ASSERT_FALSE(refused.has_value());
}

TEST(topology, parses_linux_cpu_lists) {
  EXPECT_EQ(topology::parse_cpu_list("2-5,8\n"), (std::vector<int>{2, 3, 4, 5, 8}));
  EXPECT_EQ(topology::parse_cpu_list("3"), std::vector<int>{3});
  EXPECT_TRUE(topology::parse_cpu_list("").empty());
  EXPECT_TRUE(topology::parse_cpu_list("x").empty());
  EXPECT_TRUE(topology::parse_cpu_list("5-2").empty());
}

// A journal directory that does not exist yet gets the node of the disk it will be made on,
// its nearest existing parent's. The test lays out a sysfs of its own that gives the test
// directory's device a node, so that it means the same on a machine whose disks report none.
TEST(topology, a_directory_still_to_be_made_has_the_node_of_its_nearest_parent) {
  test::TempDir dir;
  struct stat status {};
  ASSERT_EQ(::stat(dir.path().c_str(), &status), 0);
  const std::filesystem::path sysfs = dir / "sys";
  const std::filesystem::path device = sysfs / "dev" / "block" /
                                       (std::to_string(major(status.st_dev)) + ":" +
                                        std::to_string(minor(status.st_dev))) / "device";
  std::filesystem::create_directories(device);
  std::ofstream(device / "numa_node") << 3;

  EXPECT_EQ(topology::numa_node_of(dir.path(), sysfs), 3);
  EXPECT_EQ(topology::numa_node_of(dir / "journal" / "not" / "made", sysfs), 3);
  EXPECT_EQ(topology::numa_node_of(dir / "journal", dir / "no-sysfs"), -1);
}

TEST(topology, this_machine_gives_a_pair_and_pins_threads_to_it) {
  auto machine = Topology::discover();
  ASSERT_TRUE(machine.has_value()) << machine.error();
  if (machine->cpus().size() < 2) GTEST_SKIP() << "this process may use only one CPU";
  const auto pair = machine->choose_pair({topology::isolated_cpus(), -1});
  ASSERT_TRUE(pair.has_value()) << pair.error();
  EXPECT_NE(pair->producer_cpu, pair->consumer_cpu);
  std::printf("this machine: %s\n", pair->reason.c_str());

  for (const int cpu : {pair->producer_cpu, pair->consumer_cpu}) {
    int ran_on = -1;
    cpu_set_t bound;
    CPU_ZERO(&bound);
    std::thread pinned([&] {
      if (topology::pin_this_thread(cpu)) {
        ran_on = sched_getcpu();
        sched_getaffinity(0, sizeof bound, &bound);
      }
    });
    pinned.join();
    EXPECT_EQ(ran_on, cpu);
    EXPECT_EQ(CPU_COUNT(&bound), 1);
    EXPECT_TRUE(CPU_ISSET(cpu, &bound));
  }
  const auto refused = topology::pin_this_thread(100000);
  EXPECT_FALSE(refused.has_value());
}

TEST(placement_plan, gives_every_cpu_outside_the_pair_to_housekeeping) {
  const Topology machine = load(two_sockets);
  const auto plan = placement::plan_on(machine, {{}, "/nonexistent/journal"});
  ASSERT_TRUE(plan.has_value()) << plan.error();
  ASSERT_TRUE(plan->pair.has_value());
  expect_two_cores_within(*plan->pair, 0, 31);
  EXPECT_EQ(plan->housekeeping_cpus.size(), 30u);
  for (const int cpu : plan->housekeeping_cpus) {
    EXPECT_NE(cpu, plan->pair->producer_cpu);
    EXPECT_NE(cpu, plan->pair->consumer_cpu);
  }
  EXPECT_NE(plan->describe().find("background work on CPUs"), std::string::npos)
      << plan->describe();
}

TEST(placement_plan, a_service_keeps_its_consumers_cpu_and_its_publishers_cpu_clear) {
  const Topology machine = load(two_sockets);
  const auto chosen =
      placement::plan_on(machine, {{}, "/nonexistent", placement::Spinners::consumer_only});
  ASSERT_TRUE(chosen.has_value()) << chosen.error();
  ASSERT_TRUE(chosen->pair.has_value());
  EXPECT_EQ(chosen->housekeeping_cpus.size(), 30u);
  EXPECT_EQ(std::count(chosen->housekeeping_cpus.begin(), chosen->housekeeping_cpus.end(),
                       chosen->pair->producer_cpu),
            0)
      << "background work on the CPU a publisher is told to use";
  EXPECT_EQ(chosen->pair->reason.rfind("consumer on CPU", 0), 0u) << chosen->pair->reason;

  const auto asked =
      placement::plan_on(machine, {{5}, "/nonexistent", placement::Spinners::consumer_only});
  ASSERT_TRUE(asked.has_value()) << asked.error();
  EXPECT_EQ(asked->pair->consumer_cpu, 5);
  EXPECT_EQ(asked->pair->producer_cpu, -1);
  EXPECT_EQ(std::count(asked->housekeeping_cpus.begin(), asked->housekeeping_cpus.end(), 5), 0);
  EXPECT_EQ(asked->housekeeping_cpus.size(), 31u);
}

TEST(placement_plan, refuses_cpus_this_process_may_not_use_and_miscounted_requests) {
  const Topology machine = load(two_sockets);
  const auto absent =
      placement::plan_on(machine, {{4000}, "/nonexistent", placement::Spinners::consumer_only});
  ASSERT_FALSE(absent.has_value());
  EXPECT_EQ(absent.error().code, ringlog::SetupErrc::unusable_cpus);
  EXPECT_NE(absent.error().message().find("4000"), std::string::npos) << absent.error();
  const auto same = placement::plan_on(machine, {{3, 3}, "/nonexistent"});
  EXPECT_FALSE(same.has_value());
  const auto three = placement::plan_on(machine, {{1, 2, 3}, "/nonexistent"});
  ASSERT_FALSE(three.has_value());
  EXPECT_NE(three.error().message().find("3 CPU(s) asked for"), std::string::npos) << three.error();
}

TEST(placement_plan, one_cpu_leaves_the_run_unpinned) {
  const auto plan = placement::plan_on(load("core:1 pu:1"), {{}, "/nonexistent"});
  ASSERT_TRUE(plan.has_value()) << plan.error();
  EXPECT_FALSE(plan->pair.has_value());
  EXPECT_EQ(plan->describe(), "unpinned: this process may use only one CPU");
}

TEST(placement_binding, binds_a_thread_to_a_set_and_names_the_cpus_it_could_not_use) {
  cpu_set_t allowed;
  ASSERT_EQ(sched_getaffinity(0, sizeof allowed, &allowed), 0);
  int first = 0;
  while (!CPU_ISSET(first, &allowed)) ++first;
  cpu_set_t bound;
  CPU_ZERO(&bound);
  std::expected<void, ringlog::Error> result;
  std::thread worker([&] {
    result = placement::bind_this_thread(std::vector<int>{first});
    sched_getaffinity(0, sizeof bound, &bound);
  });
  worker.join();
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(CPU_COUNT(&bound), 1);
  EXPECT_TRUE(CPU_ISSET(first, &bound));

  std::thread refused([&] { result = placement::bind_this_thread(std::vector<int>{100000}); });
  refused.join();
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().message().find("100000"), std::string::npos) << result.error();
  EXPECT_EQ(placement::cpu_list_text(std::vector<int>{}), "none");
  EXPECT_EQ(placement::cpu_list_text(std::vector<int>{2, 3, 7}), "2,3,7");
}
