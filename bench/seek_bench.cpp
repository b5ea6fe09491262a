// Seeking by time in a large journal: JournalReader::seek_time lists the journal's directory,
// bisects the sealed segments by their time indexes (a handful of small reads), then reads one
// index and at most 64 KiB of events, so its cost grows with the number of segments (the
// listing), not the bytes. This runner writes a journal of the size asked for (timestamps rising,
// every 7th from an earlier clock) and times random seeks, each checked against the answer the
// timestamps dictate.
// usage: seek_bench <scratch dir> [GiB=2] [segment MiB=1] [seeks=2000]
#include <ringlog/journal.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>
#include <vector>

using namespace ringlog;

namespace {

constexpr std::size_t payload_bytes = 48;  // 64-byte records
constexpr std::size_t record_bytes = 64;

std::uint64_t timestamp_of(std::uint64_t sequence) {
  const std::uint64_t base = 1'000'000'000 + sequence * 100;
  return sequence % 7 == 3 ? base - 5'000 : base;
}

// The sequence where the running maximum first reaches `wanted` (timestamps rise but for the
// one step back in seven, which never passes the one before it).
std::uint64_t expected_for(std::uint64_t wanted, std::uint64_t total) {
  std::uint64_t low = 0;
  std::uint64_t high = total;
  while (low < high) {  // the running maximum at s is timestamp_of of the last s' <= s not 3 mod 7
    const std::uint64_t mid = (low + high) / 2;
    const std::uint64_t last_rising = mid % 7 == 3 ? mid - 1 : mid;
    if (std::max(timestamp_of(mid), timestamp_of(last_rising)) >= wanted) high = mid;
    else low = mid + 1;
  }
  return low;
}

std::uint64_t write_journal(const std::filesystem::path& dir, std::uint64_t bytes,
                            std::size_t segment_bytes) {
  journal::JournalOptions options;
  options.segment_bytes = segment_bytes;
  auto journal = journal::Journal::open(dir, options);
  if (!journal) {
    fmt::print(stderr, "seek_bench: {}\n", journal.error().message());
    std::exit(2);
  }
  const std::vector<std::byte> payload(payload_bytes, std::byte{0x5a});
  const std::uint64_t total = bytes / record_bytes;
  for (std::uint64_t seq = 0; seq < total; ++seq) {
    if (!journal->append(event::EventHeader(timestamp_of(seq), 1, payload_bytes), payload)) {
      fmt::print(stderr, "seek_bench: append failed at {}\n", seq);
      std::exit(2);
    }
    if (seq % 4096 == 0) journal->flush_if_due();
  }
  if (!journal->sync()) std::exit(2);
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: seek_bench <scratch dir> [GiB=2] [segment MiB=1] [seeks=2000]\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const double gib = argc > 2 ? std::atof(argv[2]) : 2.0;
  const std::size_t segment_bytes = (argc > 3 ? std::atoi(argv[3]) : 1) * std::size_t{1} << 20;
  const int seeks = argc > 4 ? std::atoi(argv[4]) : 2000;
  std::filesystem::remove_all(dir);
  const std::uint64_t total =
      write_journal(dir, static_cast<std::uint64_t>(gib * double(1ull << 30)), segment_bytes);
  std::size_t segments = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    segments += entry.path().extension() == ".evtl";
  }
  auto reader = journal::JournalReader::open(dir);
  if (!reader) return 2;
  std::mt19937_64 random(5);
  std::vector<double> micros;
  for (int i = 0; i < seeks; ++i) {
    const std::uint64_t wanted = timestamp_of(0) + random() % (timestamp_of(total - 1) - timestamp_of(0));
    const auto start = std::chrono::steady_clock::now();
    reader->seek_time(wanted);
    const auto event = reader->next();
    micros.push_back(std::chrono::duration<double, std::micro>(
                         std::chrono::steady_clock::now() - start).count());
    if (!event || event->sequence != expected_for(wanted, total)) {
      fmt::print(stderr, "seek_bench: seek to {} landed on {}, not {}\n", wanted,
                 event ? event->sequence : 0, expected_for(wanted, total));
      return 1;
    }
  }
  std::sort(micros.begin(), micros.end());
  const auto at = [&](double q) { return micros[std::min(micros.size() - 1, std::size_t(q * micros.size()))]; };
  fmt::print("journal {:.2f} GiB in {} segments of {} MiB, {} events; {} seeks by time, each "
             "checked\nseek_time + next: p50 {:.0f} us, p99 {:.0f} us, max {:.0f} us "
             "({:.2f} us per segment at p50)\n",
             double(total * record_bytes) / double(1ull << 30), segments, segment_bytes >> 20,
             total, seeks, at(0.5), at(0.99), micros.back(), at(0.5) / double(segments));
  std::filesystem::remove_all(dir);
  return 0;
}
