// Ring memory shared by the in-process ring (anonymous memory) and the shared ring (a memfd or
// a file): choosing the NUMA node and making the pages ready before the hot path runs.
#pragma once

#include <ringlog/detail/page_sizes.hpp>
#include <ringlog/ring.hpp>

#include <cstddef>
#include <optional>
#include <string_view>

namespace ringlog::ring::detail {

using ringlog::detail::small_page_bytes;
inline constexpr std::size_t transparent_huge_bytes = ringlog::detail::pmd_bytes;

constexpr std::size_t round_up(std::size_t bytes, std::size_t unit) noexcept {
  return (bytes + unit - 1) / unit * unit;
}

// Why HugePages::Always failed, and what to do about it.
inline constexpr std::string_view no_free_hugepages =
    "no free explicit hugepages: reserve them, e.g. tuning/reserve-hugepages --node 0 --pages 64 "
    "--apply, or echo 64 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages; or use "
    "HugePages::Try";

// A capacity the ring geometry accepts, or why not.
std::optional<RingError> check_capacity(std::size_t capacity);

// The node MemoryOptions ask for (checked to exist), or the calling thread's; -1 without NUMA.
std::expected<int, RingError> chosen_node(const MemoryOptions&, std::size_t bytes);

// Binds a fresh mapping to `node` (when >= 0) before anything touches it, prefaults every page
// for writing, and locks it when asked.
std::optional<RingError> make_ready(void* data, std::size_t bytes, int node,
                                    const MemoryOptions&);

}  // namespace ringlog::ring::detail
