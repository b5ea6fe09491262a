// The exit statuses the ringlog program's subcommands share, chosen from an error's code, never
// from its text.
#pragma once

#include <ringlog/error.hpp>

namespace ringlog::programs {

inline constexpr int exit_done = 0;
inline constexpr int exit_failed = 1;         // it ran, and what it was for failed
inline constexpr int exit_could_not_start = 2;

// A journal that stopped taking events failed the run; anything else kept it from starting.
inline int exit_status_for(const Error& error) noexcept {
  return error.code == SetupErrc::journal_failed ? exit_failed : exit_could_not_start;
}

}  // namespace ringlog::programs
