// Ring memory: explicit or transparent hugepages as MemoryOptions allow, bound to a NUMA node
// before the first touch, prefaulted, optionally locked; and what the kernel says it got.
#include "ring/ring_memory.hpp"

#include <fmt/format.h>
#include <numa.h>
#include <numaif.h>
#include <sched.h>
#include <sys/mman.h>

#include <bit>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace ringlog::ring {

namespace {

using detail::round_up;
using detail::transparent_huge_bytes;

// Explicit hugepages (hugetlbfs); nullptr with errno set when none can be had.
void* map_explicit_huge(std::size_t bytes, std::size_t page_bytes) {
  const int size_flag = std::countr_zero(page_bytes) << MAP_HUGE_SHIFT;
  void* data = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | size_flag, -1, 0);
  return data == MAP_FAILED ? nullptr : data;
}

// Normal anonymous memory, 2 MiB aligned and marked for transparent hugepages when `huge`.
void* map_normal(std::size_t bytes, bool huge, std::size_t& mapped) {
  if (!huge) {
    mapped = bytes;
    void* data = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return data == MAP_FAILED ? nullptr : data;
  }
  // Over-map by one hugepage and trim, so the region starts on a 2 MiB boundary.
  mapped = round_up(bytes, transparent_huge_bytes);
  const std::size_t padded = mapped + transparent_huge_bytes;
  void* raw = ::mmap(nullptr, padded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = round_up(start, transparent_huge_bytes);
  if (aligned != start) ::munmap(raw, aligned - start);
  if (const std::uintptr_t end = start + padded, used_end = aligned + mapped; end != used_end) {
    ::munmap(reinterpret_cast<void*>(used_end), end - used_end);
  }
  ::madvise(reinterpret_cast<void*>(aligned), mapped, MADV_HUGEPAGE);  // a hint: THP may be off
  return reinterpret_cast<void*>(aligned);
}

// The node of the CPU this thread runs on, or -1 without NUMA support.
int current_node() {
  if (numa_available() < 0) return -1;
  const int cpu = sched_getcpu();
  return cpu < 0 ? -1 : numa_node_of_cpu(cpu);
}

}  // namespace

namespace detail {

std::expected<ringlog::detail::Mapping, RingError> map_ring_memory(
    std::size_t capacity, const MemoryOptions& options) {
  using HugePages = MemoryOptions::HugePages;
  const std::size_t huge_bytes = options.huge_page_bytes;
  if (options.huge_pages != HugePages::Never &&
      (huge_bytes != transparent_huge_bytes && huge_bytes != (std::size_t{1} << 30))) {
    return std::unexpected(
        MemoryUnavailable{huge_bytes, 0, "huge_page_bytes must be 2 MiB or 1 GiB"});
  }
  const auto node = chosen_node(options, capacity);
  if (!node) return std::unexpected(node.error());

  std::size_t mapped = round_up(capacity, huge_bytes);
  void* data = nullptr;
  if (options.huge_pages != HugePages::Never) data = map_explicit_huge(mapped, huge_bytes);
  if (data == nullptr && options.huge_pages == HugePages::Always) {
    return std::unexpected(MemoryUnavailable{
        mapped, errno, no_free_hugepages});
  }
  if (data == nullptr) data = map_normal(capacity, options.huge_pages == HugePages::Try, mapped);
  if (data == nullptr) return std::unexpected(MemoryUnavailable{capacity, errno, "mmap"});
  ringlog::detail::Mapping memory(static_cast<std::byte*>(data), mapped);
  if (auto unready = make_ready(data, mapped, *node, options)) return std::unexpected(*unready);
  return memory;
}

std::expected<int, RingError> chosen_node(const MemoryOptions& options, std::size_t bytes) {
  if (options.numa_node < 0) return current_node();
  if (numa_available() < 0 || options.numa_node > numa_max_node()) {
    return std::unexpected(MemoryUnavailable{
        bytes, 0, "no such NUMA node on this machine (numactl --hardware lists them)"});
  }
  return options.numa_node;
}

std::optional<RingError> make_ready(void* data, std::size_t bytes, int node,
                                    const MemoryOptions& options) {
  // Bound before the first touch: pages are placed when they are first written.
  if (node >= 0 && numa_available() >= 0) {
    unsigned long mask[16] = {};
    mask[node / 64] |= 1UL << (node % 64);
    if (::mbind(data, bytes, MPOL_BIND, mask, sizeof mask * 8, MPOL_MF_STRICT) != 0) {
      return MemoryUnavailable{bytes, errno, "mbind to the NUMA node"};
    }
  }
  // Prefaulted now, so the hot path never takes a first-touch fault. Where memory runs out
  // (a full /dev/shm, no free hugepages) this fails cleanly instead of a store's SIGBUS later.
  if (::madvise(data, bytes, MADV_POPULATE_WRITE) != 0) {
    if (errno != EINVAL) {
      return MemoryUnavailable{bytes, errno, "prefaulting (no free hugepages, or a full tmpfs?)"};
    }
    // A kernel before 5.14: touch every page instead.
    for (std::size_t at = 0; at < bytes; at += detail::small_page_bytes) {
      static_cast<volatile char*>(data)[at] = 0;
    }
  }
  if (options.lock && ::mlock(data, bytes) != 0) {
    return MemoryUnavailable{bytes, errno, "mlock (raise RLIMIT_MEMLOCK, see ulimit -l)"};
  }
  return std::nullopt;
}

MemoryReport read_memory_report(const ringlog::detail::Mapping& memory) {
  MemoryReport report;
  const auto start = reinterpret_cast<std::uintptr_t>(memory.data());
  // Whether a line starts with the mapping's address and then `separator`.
  const auto starts_ours = [&](const std::string& line, char separator) {
    std::uintptr_t first = 0;
    const char* end = line.data() + line.size();
    auto [at, error] = std::from_chars(line.data(), end, first, 16);
    return error == std::errc() && at != end && *at == separator && first == start;
  };
  // smaps: one block per mapping, its header line first.
  std::ifstream smaps("/proc/self/smaps");
  bool ours = false;
  std::size_t hugetlb_bytes = 0;
  for (std::string line; std::getline(smaps, line);) {
    // Header lines ("<start>-<end> rw-p ...") have no ':' before their first space.
    if (line.find(':') > line.find(' ')) {
      ours = starts_ours(line, '-');
      continue;
    }
    if (!ours) continue;
    std::istringstream fields(line);
    std::string key;
    std::size_t kb = 0;
    fields >> key >> kb;
    if (key == "Size:") report.bytes = kb << 10;
    if (key == "KernelPageSize:") report.page_bytes = kb << 10;
    // Transparent hugepages: anonymous memory, or a shared ring's memfd or tmpfs file.
    if (key == "AnonHugePages:" || key == "ShmemPmdMapped:" || key == "FilePmdMapped:") {
      report.huge_bytes += kb << 10;
    }
    if (key == "Private_Hugetlb:" || key == "Shared_Hugetlb:") hugetlb_bytes += kb << 10;
    // "lo" in VmFlags: the mapping is mlocked.
    if (key == "VmFlags:") report.locked = (" " + line + " ").find(" lo ") != std::string::npos;
  }
  if (report.page_bytes > detail::small_page_bytes) {
    report.pages = MemoryReport::Pages::explicit_huge;
    report.huge_bytes = hugetlb_bytes;
    // The kernel never swaps or reclaims hugetlbfs pages, and so never marks them locked.
    report.locked = true;
  } else if (report.huge_bytes > 0) {
    report.pages = MemoryReport::Pages::transparent_huge;
  }
  // numa_maps: "<start> <policy> ... N<node>=<pages> ..." for the mapping.
  std::ifstream numa_maps("/proc/self/numa_maps");
  for (std::string line; std::getline(numa_maps, line);) {
    if (!starts_ours(line, ' ')) continue;
    std::istringstream fields(line);
    std::map<int, std::size_t> pages_by_node;
    for (std::string field; fields >> field;) {
      int node = 0;
      std::size_t pages = 0;
      if (field.size() > 1 && field[0] == 'N' &&
          std::sscanf(field.c_str(), "N%d=%zu", &node, &pages) == 2) {
        pages_by_node[node] += pages;
      }
    }
    if (pages_by_node.size() == 1) report.numa_node = pages_by_node.begin()->first;
  }
  return report;
}

}  // namespace detail

std::string MemoryReport::describe() const {
  const std::string kind =
      pages == Pages::explicit_huge
          ? fmt::format("explicit {} KiB hugepages", page_bytes >> 10)
      : pages == Pages::transparent_huge
          ? fmt::format("transparent hugepages ({} KiB of {} KiB)", huge_bytes >> 10, bytes >> 10)
          : fmt::format("normal {} KiB pages", page_bytes >> 10);
  return fmt::format("{}, {}, {}", kind,
                     numa_node >= 0 ? fmt::format("NUMA node {}", numa_node)
                                    : std::string("NUMA node unknown"),
                     locked ? "locked" : "not locked");
}

}  // namespace ringlog::ring
