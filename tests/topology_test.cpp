// The core-pair choice on synthetic machines loaded from hwloc XML, and on this one.
#include <ringlog/topology.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>
#include <hwloc.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

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
  if (!topology) throw std::runtime_error(topology.error());
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
  EXPECT_NE(alone.error().find("need two"), std::string::npos) << alone.error();
}

TEST(topology, checks_a_pair_the_user_names) {
  const Topology machine = load(two_sockets);
  EXPECT_TRUE(machine.check_pair(3, 5).has_value());
  const auto missing = machine.check_pair(3, 64);
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().find("CPU 64 is not one this process may use"), std::string::npos)
      << missing.error();
  const auto same = machine.check_pair(3, 3);
  ASSERT_FALSE(same.has_value());
  EXPECT_NE(same.error().find("both asked for CPU 3"), std::string::npos) << same.error();
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
