// RINGLOG_ASSERT: the contracts the comments state, checked in Debug builds and wherever
// RINGLOG_ASSERTIONS is defined (the sanitizer and fuzz builds define it), so that TSan and the
// fuzzers find a broken contract where it breaks, not a crash later. Release builds check
// nothing: the hot path stays as it is.
//
// RINGLOG_CHECK: always on, Release included: the contracts that guard a trust boundary (bytes
// another process writes) or a control-plane invariant, where a broken one would otherwise
// read or write out of bounds. Each costs a compare where it stands: never per event.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace ringlog::detail {

[[noreturn, gnu::cold]] inline void contract_broken(const char* condition, const char* contract,
                                                     const char* file, int line) noexcept {
  std::fprintf(stderr, "ringlog: contract broken at %s:%d: %s (%s)\n", file, line, contract,
               condition);
  std::abort();
}

}  // namespace ringlog::detail

#if defined(RINGLOG_ASSERTIONS) || !defined(NDEBUG)
#define RINGLOG_ASSERT(condition, contract)                                                 \
  ((condition) ? void(0)                                                                    \
               : ::ringlog::detail::contract_broken(#condition, contract, __FILE__, __LINE__))
#else
#define RINGLOG_ASSERT(condition, contract) ((void)0)
#endif

#define RINGLOG_CHECK(condition, contract)                                                  \
  ((condition) ? void(0)                                                                    \
               : ::ringlog::detail::contract_broken(#condition, contract, __FILE__, __LINE__))
