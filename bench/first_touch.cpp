// first_touch: what this host charges for memory the first time it is touched, against the
// second time: on a VM whose host takes free memory back (free page reporting), every new
// page-cache page a journal segment needs pays the first price. Touching memory once also
// leaves it warm for a benchmark run right after.
//
// usage: first_touch [GiB, default 16]
#include <fmt/format.h>
#include <sys/mman.h>

#include <chrono>
#include <cstdlib>

namespace {

double touch_every_page(volatile char* memory, std::size_t bytes, char value) {
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t at = 0; at < bytes; at += 4096) memory[at] = value;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t gib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 16;
  const std::size_t bytes = gib << 30;
  void* memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    fmt::print(stderr, "first_touch: cannot map {} GiB\n", gib);
    return 2;
  }
  auto* pages = static_cast<volatile char*>(memory);
  const double first = touch_every_page(pages, bytes, 1);
  const double second = touch_every_page(pages, bytes, 2);
  fmt::print("{} GiB, one store per 4 KiB page: first touch {:.2f} s ({:.2f} GB/s, {:.2f} us a "
             "page), second {:.3f} s ({:.1f} GB/s)\n", gib, first, double(bytes) / first / 1e9,
             first / double(bytes / 4096) * 1e6, second, double(bytes) / second / 1e9);
  ::munmap(memory, bytes);
  return 0;
}
