// What a thread that spins waiting for another does on each turn: tell the core, so that it
// spends less power and, on a hyperthreaded core, leaves its sibling the resources.
#pragma once

namespace ringlog::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace ringlog::detail
