// Ring memory as MemoryOptions ask for it, checked against what the kernel reports.
#include <ringlog/ring.hpp>

#include <gtest/gtest.h>
#include <numa.h>
#include <sched.h>

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
  } else {
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)  // both make mlock a no-op
    EXPECT_TRUE(locked->memory_report().locked) << locked->memory_report().describe();
#endif
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
