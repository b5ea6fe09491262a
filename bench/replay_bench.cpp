// replay_bench DIR [FRESH_BYTES]: the C++ side of bench/typed_read.py, over one journal, in one
// process:
//   plain read:   the segment files' bytes up to each one's last intact record, read() into a
//                 buffer (from the page cache once warm): the hardware's limit for reading;
//   replay:       JournalReader::replay over the same events, each header read;
//   fresh memory: FRESH_BYTES of new anonymous memory written once, mapped as the Python
//                 reader maps its arrays (transparent hugepages where the kernel gives them):
//                 what the arrays' memory costs before a byte of the journal is copied. On a VM
//                 whose host takes free memory back, that is far more than on bare metal.
// printed as one JSON object: seconds, bytes and events of each.
#include <ringlog/journal.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Every segment's bytes up to its intact end; what it read, or -1.
long long plain_read(const ringlog::journal::JournalCheck& check) {
  std::vector<char> buffer(std::size_t{1} << 20);
  long long total = 0;
  for (const auto& segment : check.segments) {
    const int fd = ::open(segment.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    long long left = static_cast<long long>(segment.scan.end_offset);
    while (left > 0) {
      const ssize_t got = ::read(fd, buffer.data(), std::min<long long>(left, buffer.size()));
      if (got <= 0) break;
      left -= got;
      total += got;
    }
    ::close(fd);
  }
  return total;
}

// Writes one byte in every 4 KiB of `bytes` of new memory; -1 when it cannot be mapped.
double fresh_memory_seconds(std::size_t bytes) {
  if (bytes == 0) return 0;
  void* mapped = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapped == MAP_FAILED) return -1;
  ::madvise(mapped, bytes, MADV_HUGEPAGE);
  const auto start = Clock::now();
  auto* memory = static_cast<volatile char*>(mapped);
  for (std::size_t at = 0; at < bytes; at += 4096) memory[at] = 1;
  const double seconds = seconds_since(start);
  ::munmap(mapped, bytes);
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: replay_bench DIR [FRESH_BYTES]\n");
    return 2;
  }
  const auto check = ringlog::journal::check_journal(argv[1]);
  if (!check || !check->problem.empty()) {
    std::fprintf(stderr, "replay_bench: %s\n",
                 check ? check->problem.c_str() : check.error().message().c_str());
    return 1;
  }
  auto start = Clock::now();
  const long long bytes = plain_read(*check);
  const double plain_s = seconds_since(start);

  auto reader = ringlog::journal::JournalReader::open(argv[1]);
  if (!reader) return 1;
  std::uint64_t sum = 0;  // of what each event's header says: the work cannot be left out
  start = Clock::now();
  const std::uint64_t events = reader->replay([&](const ringlog::journal::JournalEvent& event) {
    sum += event.view.header.timestamp + event.view.header.event_type + event.view.payload.size();
  });
  const double replay_s = seconds_since(start);
  if (events != check->intact_events || bytes < 0) return 1;
  const std::size_t fresh_bytes = argc == 3 ? std::stoull(argv[2]) : 0;
  const double fresh_s = fresh_memory_seconds(fresh_bytes);
  fmt::print("{{\"plain_read_s\":{:.6f},\"replay_s\":{:.6f},\"fresh_memory_s\":{:.6f},"
             "\"bytes\":{},\"fresh_bytes\":{},\"events\":{},\"checksum\":{}}}\n", plain_s,
             replay_s, fresh_s, bytes, fresh_bytes, events, sum);
  return 0;
}
