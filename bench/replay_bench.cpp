// replay_bench DIR: the C++ side of bench/typed_read.py, over one journal, in one process:
//   plain read: the segment files' bytes up to each one's last intact record, read() into a
//               buffer (from the page cache once warm): the hardware's limit here;
//   replay:     JournalReader::replay over the same events, each header read;
// printed as one JSON object: seconds, bytes and events of each.
#include <ringlog/journal.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
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

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: replay_bench DIR\n");
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
  fmt::print("{{\"plain_read_s\":{:.6f},\"replay_s\":{:.6f},\"bytes\":{},\"events\":{},"
             "\"checksum\":{}}}\n", plain_s, replay_s, bytes, events, sum);
  return 0;
}
