// Ring memory as MemoryOptions ask for it, checked against what the kernel reports.
#include <ringlog/ring.hpp>
#include <ringlog/shared_ring.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>
#include <numa.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>

using namespace ringlog;
using ring::MemoryOptions;
using ring::MemoryReport;

namespace {

constexpr const char* nr_hugepages = "/proc/sys/vm/nr_hugepages";

std::optional<long> read_number(const char* path) {
  std::ifstream in(path);
  long value = 0;
  if (in >> value) return value;
  return std::nullopt;
}

// Reserves `pages` 2 MiB hugepages for the test and gives them back after it.
class HugepageReservation {
 public:
  explicit HugepageReservation(long pages) : before_(read_number(nr_hugepages)) {
    if (!before_) return;
    std::ofstream(nr_hugepages) << *before_ + pages;
    reserved_ = read_number(nr_hugepages).value_or(0) >= *before_ + pages;
  }
  ~HugepageReservation() {
    if (before_) std::ofstream(nr_hugepages) << *before_;
  }
  bool reserved() const { return reserved_; }

 private:
  std::optional<long> before_;
  bool reserved_ = false;
};

std::string transparent_hugepage_mode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  std::getline(in, line);
  const auto open = line.find('[');
  const auto close = line.find(']');
  return open == std::string::npos ? "" : line.substr(open + 1, close - open - 1);
}

}  // namespace

TEST(ring_memory, never_gives_normal_pages_on_this_threads_node) {
  MemoryOptions options;
  options.huge_pages = MemoryOptions::HugePages::Never;
  const auto ring = ring::SpscRingBuffer::create(1 << 20, options);
  ASSERT_TRUE(ring.has_value()) << ring::to_string(ring.error());
  const MemoryReport report = ring->memory_report();
  EXPECT_EQ(report.pages, MemoryReport::Pages::normal) << report.describe();
  EXPECT_EQ(report.page_bytes, 4096u);
  EXPECT_FALSE(report.locked);
  if (numa_available() >= 0) {
    EXPECT_EQ(report.numa_node, numa_node_of_cpu(sched_getcpu()));
  }
  EXPECT_EQ(ring->capacity(), 1u << 20);
}

TEST(ring_memory, always_takes_explicit_hugepages_or_says_how_to_reserve_them) {
  MemoryOptions options;
  options.huge_pages = MemoryOptions::HugePages::Always;
  if (read_number(nr_hugepages).value_or(0) == 0) {
    // None reserved: a clear refusal that says how to reserve them.
    const auto refused = ring::SpscRingBuffer::create(1 << 20, options);
    ASSERT_FALSE(refused.has_value());
    EXPECT_NE(ring::to_string(refused.error()).find("nr_hugepages"), std::string::npos)
        << ring::to_string(refused.error());
  }
  HugepageReservation reservation(2);
  if (!reservation.reserved()) GTEST_SKIP() << "cannot reserve hugepages here (needs root)";
  auto ring = ring::SpscRingBuffer::create(1 << 20, options);
  ASSERT_TRUE(ring.has_value()) << ring::to_string(ring.error());
  const MemoryReport report = ring->memory_report();
  EXPECT_EQ(report.pages, MemoryReport::Pages::explicit_huge) << report.describe();
  EXPECT_EQ(report.page_bytes, std::size_t{2} << 20);
  EXPECT_EQ(report.huge_bytes, std::size_t{2} << 20) << "a 1 MiB ring takes one whole hugepage";
  EXPECT_EQ(ring->capacity(), 1u << 20);

  // The ring works on them.
  auto [producer, consumer] = ring->split();
  const std::byte payload[8] = {};
  ASSERT_TRUE(producer.write_event(event::EventHeader(1, 1, 8), payload));
  ASSERT_TRUE(consumer.read_event().has_value());
}

TEST(ring_memory, try_falls_back_to_transparent_hugepages) {
  if (read_number(nr_hugepages).value_or(0) != 0) GTEST_SKIP() << "explicit hugepages reserved";
  MemoryOptions options;  // HugePages::Try
  const auto ring = ring::SpscRingBuffer::create(std::size_t{4} << 20, options);
  ASSERT_TRUE(ring.has_value()) << ring::to_string(ring.error());
  const MemoryReport report = ring->memory_report();
  std::printf("Try with no explicit hugepages: %s\n", report.describe().c_str());
  if (transparent_hugepage_mode() == "never") {
    EXPECT_EQ(report.pages, MemoryReport::Pages::normal);
  } else {
    EXPECT_EQ(report.pages, MemoryReport::Pages::transparent_huge) << report.describe();
    EXPECT_GT(report.huge_bytes, 0u);
  }
}

TEST(ring_memory, locks_when_asked_and_refuses_a_node_that_does_not_exist) {
  MemoryOptions options;
  options.huge_pages = MemoryOptions::HugePages::Never;
  options.lock = true;
  const auto locked = ring::SpscRingBuffer::create(1 << 16, options);
  if (!locked) {
    EXPECT_NE(ring::to_string(locked.error()).find("RLIMIT_MEMLOCK"), std::string::npos);
  } else if (!test::sanitized) {  // a sanitizer makes mlock a no-op
    EXPECT_TRUE(locked->memory_report().locked) << locked->memory_report().describe();
  }
  options.lock = false;
  options.numa_node = 999;
  const auto refused = ring::SpscRingBuffer::create(1 << 16, options);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(ring::to_string(refused.error()).find("no such NUMA node"), std::string::npos)
      << ring::to_string(refused.error());
  options.numa_node = 0;
  if (numa_available() >= 0) {
    const auto bound = ring::SpscRingBuffer::create(1 << 16, options);
    ASSERT_TRUE(bound.has_value()) << ring::to_string(bound.error());
    EXPECT_EQ(bound->memory_report().numa_node, 0);
  }
}

TEST(ring_memory, shared_ring_takes_explicit_hugepages_in_both_processes_mappings) {
  const HugepageReservation reservation(2);
  if (!reservation.reserved()) GTEST_SKIP() << "cannot reserve hugepages here (needs root)";
  MemoryOptions options;
  options.huge_pages = MemoryOptions::HugePages::Always;
  auto ring = ring::SharedRing::create({}, 1 << 20, options);
  ASSERT_TRUE(ring.has_value()) << ring::to_string(ring.error());
  auto opened = ring::SharedRing::open(ring->path());
  ASSERT_TRUE(opened.has_value()) << ring::to_string(opened.error());
  for (const MemoryReport& report : {ring->memory_report(), opened->memory_report()}) {
    std::printf("shared ring, Always, 2 pages reserved: %s\n", report.describe().c_str());
    EXPECT_EQ(report.pages, MemoryReport::Pages::explicit_huge) << report.describe();
    EXPECT_EQ(report.page_bytes, std::size_t{2} << 20);
  }
}

TEST(ring_memory, shared_ring_without_hugepages_refuses_always_and_falls_back_under_try) {
  if (read_number(nr_hugepages).value_or(0) != 0) GTEST_SKIP() << "explicit hugepages reserved";
  MemoryOptions options;
  options.huge_pages = MemoryOptions::HugePages::Always;
  const auto refused = ring::SharedRing::create({}, 1 << 20, options);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(ring::to_string(refused.error()).find("reserve-hugepages"), std::string::npos)
      << ring::to_string(refused.error());
  if (std::filesystem::is_directory("/dev/shm")) {
    const std::string path = "/dev/shm/ringlog-test-always-" + std::to_string(::getpid());
    const auto not_hugetlbfs = ring::SharedRing::create(path, 1 << 20, options);
    ASSERT_FALSE(not_hugetlbfs.has_value());
    EXPECT_NE(ring::to_string(not_hugetlbfs.error()).find("is not on hugetlbfs"),
              std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(path)) << "a refused ring left its file behind";
  }
  options.huge_pages = MemoryOptions::HugePages::Try;
  const auto fallen_back = ring::SharedRing::create({}, 1 << 20, options);
  ASSERT_TRUE(fallen_back.has_value()) << ring::to_string(fallen_back.error());
  const MemoryReport report = fallen_back->memory_report();
  std::printf("shared ring, Try, no hugepages reserved: %s\n", report.describe().c_str());
  EXPECT_NE(report.pages, MemoryReport::Pages::explicit_huge);
}

TEST(ring_memory, shared_ring_on_a_hugetlbfs_file_takes_its_hugepages) {
  const HugepageReservation reservation(2);
  if (!reservation.reserved()) GTEST_SKIP() << "cannot reserve hugepages here (needs root)";
  const test::TempDir dir;
  if (::mount("ringlog-test", dir.path().c_str(), "hugetlbfs", 0, "pagesize=2M") != 0) {
    GTEST_SKIP() << "cannot mount hugetlbfs here: " << std::strerror(errno);
  }
  struct Unmount {
    const test::TempDir& dir;
    ~Unmount() { ::umount(dir.path().c_str()); }
  } const unmount{dir};
  MemoryOptions options;
  options.huge_pages = MemoryOptions::HugePages::Always;
  {
    auto ring = ring::SharedRing::create(dir / "ring", 1 << 20, options);
    ASSERT_TRUE(ring.has_value()) << ring::to_string(ring.error());
    auto opened = ring::SharedRing::open(dir / "ring");
    ASSERT_TRUE(opened.has_value()) << ring::to_string(opened.error());
    for (const MemoryReport& report : {ring->memory_report(), opened->memory_report()}) {
      EXPECT_EQ(report.pages, MemoryReport::Pages::explicit_huge) << report.describe();
    }
    // Each ring takes one 2 MiB page (a 4 KiB header and 1 MiB of ring): a second takes the
    // other reserved page, and a third finds none and says how to reserve more.
    const auto second = ring::SharedRing::create(dir / "second", 1 << 20, options);
    ASSERT_TRUE(second.has_value()) << ring::to_string(second.error());
    const auto third = ring::SharedRing::create(dir / "third", 1 << 20, options);
    ASSERT_FALSE(third.has_value()) << "two pages reserved, three rings";
    EXPECT_NE(ring::to_string(third.error()).find("reserve-hugepages"), std::string::npos)
        << ring::to_string(third.error());
    EXPECT_FALSE(std::filesystem::exists(dir / "third")) << "a refused ring left its file";
  }
  std::filesystem::remove(dir / "ring");
  std::filesystem::remove(dir / "second");
}

// The opener prefaults its own mapping too: a producer on one mapping and a consumer on
// another (as two processes would have) take no page fault moving events through.
TEST(ring_memory, shared_ring_hot_path_takes_no_page_fault) {
  if (test::sanitized) GTEST_SKIP() << "sanitizer shadow memory takes page faults of its own";
  auto created = ring::SharedRing::create({}, 1 << 20);
  ASSERT_TRUE(created.has_value()) << ring::to_string(created.error());
  auto opened = ring::SharedRing::open(created->path());
  ASSERT_TRUE(opened.has_value()) << ring::to_string(opened.error());
  auto producer = created->producer();
  auto consumer = opened->consumer();
  ASSERT_TRUE(producer.has_value() && consumer.has_value());
  const std::vector<std::byte> payload(64, std::byte{7});
  event::EventHeader header{};
  header.payload_len = static_cast<std::uint16_t>(payload.size());
  std::uint64_t read = 0;
  const long faults_before = test::thread_page_faults();
  for (int i = 0; i < 200'000; ++i) {  // about 15 laps of the ring
    ASSERT_TRUE(producer->write_event(header, payload));
    read += consumer->poll([](const event::EventView&) {});
  }
  const long faults = test::thread_page_faults() - faults_before;
  EXPECT_EQ(read, 200'000u);
  EXPECT_EQ(faults, 0);
}
