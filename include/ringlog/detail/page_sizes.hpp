// The page sizes ringlog sizes memory in (x86-64, and aarch64 with 4 KiB pages): a normal page,
// and the PMD size, which is at once a transparent hugepage, the default explicit hugepage and
// the largest folio the page cache builds a file from.
#pragma once

#include <cstddef>

namespace ringlog::detail {

inline constexpr std::size_t small_page_bytes = 4096;
inline constexpr std::size_t pmd_bytes = std::size_t{2} << 20;

}  // namespace ringlog::detail
