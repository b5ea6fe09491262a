// journal_bench: what the journal costs and how fast it reaches the disk, on one thread.
//
//   append      80-byte events in runs of 4096 ring records (Journal::append_records) with the
//               default flush policy: events/s, MB/s, and the page faults (minor and major)
//               taken inside append_records (the hot path) apart from those of preparing
//               pages ahead (flush_if_due), counted with getrusage around each call.
//   durable     the same with a flush every 1 ms, timed until sync() returns: the sustained
//               durable bandwidth, to set beside fio's on the same file system.
//   latency     one event at a time at a fixed rate, with the default flush policy, timed from
//               its append to the moment durable_sequence() passes it: percentiles of
//               append → durable latency, and given a file name, their HdrHistogram .hgrm
//               distribution.
//
// One JSON line per part is printed last, for scripts/bench-run and scripts/durable-tail.
#include "support/latency_histogram.hpp"

#include <ringlog/journal.hpp>

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t payload_bytes = 64;
constexpr std::size_t record_bytes = 16 + payload_bytes;
constexpr std::size_t run_events = 4096;

std::int64_t thread_page_faults() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_minflt + usage.ru_majflt;
}

std::vector<std::byte> ring_run() {
  std::vector<std::byte> run(run_events * record_bytes);
  for (std::size_t i = 0; i < run_events; ++i) {
    const ringlog::event::EventHeader header(i, 1, payload_bytes);
    std::memcpy(run.data() + i * record_bytes, &header, sizeof header);
    std::memset(run.data() + i * record_bytes + 16, static_cast<int>(i), payload_bytes);
  }
  return run;
}

ringlog::journal::Journal open_or_exit(const std::filesystem::path& dir,
                                       ringlog::journal::FlushPolicy flush) {
  std::filesystem::remove_all(dir);
  ringlog::journal::JournalOptions options;
  options.flush = flush;
  options.keep_segments = 4;  // recycled: the run measures steady state, not disk filling
  auto journal = ringlog::journal::Journal::open(dir, options);
  if (!journal) {
    fmt::print(stderr, "journal_bench: {}\n", journal.error().message());
    std::exit(2);
  }
  return std::move(*journal);
}

void fail_on(const ringlog::journal::Journal& journal) {
  if (!journal.failure()) return;
  fmt::print(stderr, "journal_bench: {}\n", journal.failure()->message());
  std::exit(1);
}

std::string append_part(const std::filesystem::path& dir, double seconds) {
  auto journal = open_or_exit(dir, {});
  const std::vector<std::byte> run = ring_run();
  std::int64_t append_faults = 0;
  std::int64_t prepare_faults = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    const std::int64_t before = thread_page_faults();
    if (!journal.append_records(run)) fail_on(journal);
    const std::int64_t appended = thread_page_faults();
    journal.flush_if_due();
    prepare_faults += thread_page_faults() - appended;
    append_faults += appended - before;
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const double events = double(journal.next_sequence());
  fmt::print("append   {:8.2f} M events/s  {:6.0f} MB/s  page faults: {} in append_records, "
             "{} preparing pages ahead\n", events / elapsed / 1e6,
             events * record_bytes / elapsed / 1e6, append_faults, prepare_faults);
  if (!journal.sync()) fail_on(journal);
  return fmt::format("{{\"part\":\"append\",\"events_per_second\":{:.0f},\"mb_per_second\":{:.0f},"
                     "\"append_faults\":{},\"prepare_faults\":{}}}",
                     events / elapsed, events * record_bytes / elapsed / 1e6, append_faults,
                     prepare_faults);
}

std::string durable_part(const std::filesystem::path& dir, double seconds) {
  auto journal = open_or_exit(dir, {0, std::chrono::microseconds(1000)});
  const std::vector<std::byte> run = ring_run();
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    if (!journal.append_records(run)) fail_on(journal);
    journal.flush_if_due();
  }
  if (!journal.sync()) fail_on(journal);
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const double bytes = double(journal.durable_sequence()) * record_bytes;
  fmt::print("durable  {:8.0f} MB/s made durable with a flush every 1 ms ({})\n",
             bytes / elapsed / 1e6, journal.flush_backend_note());
  return fmt::format("{{\"part\":\"durable\",\"mb_per_second\":{:.0f}}}", bytes / elapsed / 1e6);
}

std::string latency_part(const std::filesystem::path& dir, double seconds, double rate,
                         const char* hgrm_path) {
  auto journal = open_or_exit(dir, {});  // the default flush policy
  const std::vector<std::byte> payload(payload_bytes, std::byte{7});
  struct Pending {
    std::uint64_t sequence;
    Clock::time_point appended;
  };
  std::deque<Pending> pending;
  ringlog::detail::LatencyHistogram latencies_ns;
  const auto start = Clock::now();
  const auto interval = std::chrono::duration<double>(1.0 / rate);
  const std::uint64_t total = static_cast<std::uint64_t>(seconds * rate);
  for (std::uint64_t sent = 0; sent < total || !pending.empty();) {
    const auto now = Clock::now();
    // Each event's clock starts at its intended send time, so a stall is not hidden.
    const auto due = start + std::chrono::duration_cast<Clock::duration>(interval * double(sent));
    if (sent < total && now >= due) {
      const ringlog::event::EventHeader header(sent, 1, payload_bytes);
      if (!journal.append(header, payload)) fail_on(journal);
      pending.push_back({sent++, due});
    }
    journal.flush_if_due();
    fail_on(journal);
    const std::uint64_t durable = journal.durable_sequence();
    while (!pending.empty() && pending.front().sequence < durable) {
      latencies_ns.record(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - pending.front().appended)
              .count()));
      pending.pop_front();
    }
  }
  const auto at = [&](double percentile) {
    return double(latencies_ns.value_at_percentile(percentile)) / 1e3;
  };
  const double max_us = double(latencies_ns.max()) / 1e3;
  fmt::print("latency  append → durable at {:.0f} events/s, {} events: p50 {:.0f} us  p99 {:.0f} "
             "us  p99.9 {:.0f} us  max {:.0f} us\n", rate, latencies_ns.count(), at(50), at(99),
             at(99.9), max_us);
  if (hgrm_path != nullptr) {
    std::FILE* file = std::fopen(hgrm_path, "w");
    if (file == nullptr) {
      fmt::print(stderr, "journal_bench: cannot write {}: {}\n", hgrm_path, std::strerror(errno));
      std::exit(2);
    }
    latencies_ns.write_hgrm(file, 1000.0);
    std::fclose(file);
  }
  return fmt::format("{{\"part\":\"latency\",\"rate\":{:.0f},\"p50_us\":{:.1f},\"p99_us\":{:.1f},"
                     "\"p999_us\":{:.1f},\"max_us\":{:.1f}}}", rate, at(50), at(99), at(99.9),
                     max_us);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: journal_bench <scratch directory> [seconds per part] "
                       "[events/s for the latency part] [.hgrm file for its histogram] "
                       "[parts: append,durable,latency]\n");
    return 2;
  }
  const std::filesystem::path dir = std::filesystem::path(argv[1]) / "journal";
  const double seconds = argc > 2 ? std::atof(argv[2]) : 5;
  const double rate = argc > 3 ? std::atof(argv[3]) : 100'000;
  const char* hgrm_path = argc > 4 && argv[4][0] != '\0' ? argv[4] : nullptr;
  // One part alone: the latency part without the gigabytes the others write and delete first.
  const std::string parts = argc > 5 ? argv[5] : "append,durable,latency";
  std::vector<std::string> lines;
  if (parts.contains("append")) lines.push_back(append_part(dir, seconds));
  if (parts.contains("durable")) lines.push_back(durable_part(dir, seconds));
  if (parts.contains("latency")) lines.push_back(latency_part(dir, seconds, rate, hgrm_path));
  std::filesystem::remove_all(dir);
  for (const std::string& line : lines) fmt::print("{}\n", line);
  return lines.empty() ? 2 : 0;
}
