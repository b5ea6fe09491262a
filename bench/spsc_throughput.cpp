// SPSC throughput of 80-byte events (16-byte header + 64-byte payload) between two pinned
// threads: ringlog against boost::lockfree::spsc_queue and moodycamel::ReaderWriterQueue, and
// against the single-core bandwidth of storing 80-byte records, all in the same binary and the
// same run, so that the ratios printed at the end compare like with like.
//
// CPUs: RINGLOG_BENCH_CPUS="producer,consumer" (default: the first two this process may use).
// Every event carries its sequence number; the consumer checks each one, so a benchmark that
// loses or reorders events fails instead of reporting a number.
#include <ringlog/ring.hpp>

#include <benchmark/benchmark.h>
#include <boost/lockfree/spsc_queue.hpp>
#include <readerwriterqueue/readerwriterqueue.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t payload_bytes = 64;
constexpr std::uint64_t events_per_iteration = 1 << 20;

struct Record {  // what boost's queue carries: the same 80 bytes ringlog frames
  ringlog::event::EventHeader header;
  std::byte payload[payload_bytes];
};
static_assert(sizeof(Record) == 80);

void cpu_relax() noexcept { __builtin_ia32_pause(); }

// Minor page faults the whole process (both threads) has taken so far.
std::int64_t process_minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

std::vector<int> bench_cpus() {
  std::vector<int> cpus;
  if (const char* listed = std::getenv("RINGLOG_BENCH_CPUS")) {
    for (const char* at = listed; *at != '\0';) {
      char* end = nullptr;
      cpus.push_back(static_cast<int>(std::strtol(at, &end, 10)));
      at = *end == ',' ? end + 1 : end;
      if (end == at && *end != '\0') break;
    }
  } else {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    sched_getaffinity(0, sizeof allowed, &allowed);
    for (int cpu = 0; cpu < CPU_SETSIZE && cpus.size() < 2; ++cpu) {
      if (CPU_ISSET(cpu, &allowed)) cpus.push_back(cpu);
    }
  }
  return cpus;
}

bool pin_this_thread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// The consumer thread: checks sequence numbers and publishes how many events it has taken.
class ConsumerThread {
 public:
  template <class Drain>
  ConsumerThread(int cpu, Drain drain)
      : thread_([this, cpu, drain]() mutable {
          pin_this_thread(cpu);
          std::uint64_t expected = 0;
          while (!stop_.load(std::memory_order_relaxed)) {
            const std::uint64_t taken = drain(expected);
            if (taken == 0) {
              cpu_relax();
              continue;
            }
            consumed_.store(expected, std::memory_order_release);
          }
        }) {}
  ~ConsumerThread() {
    stop_.store(true, std::memory_order_relaxed);
    thread_.join();
  }
  void wait_for(std::uint64_t count) const {
    while (consumed_.load(std::memory_order_acquire) < count) cpu_relax();
  }
  std::atomic<bool> out_of_order{false};

 private:
  alignas(128) std::atomic<std::uint64_t> consumed_{0};
  alignas(128) std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::uint64_t sequence_of(const std::byte* payload) {
  std::uint64_t sequence;
  std::memcpy(&sequence, payload, sizeof sequence);
  return sequence;
}

// Read once, before any benchmark pins this thread and narrows what sched_getaffinity reports.
const std::vector<int> chosen_cpus = bench_cpus();

bool pin_pair(benchmark::State& state, std::vector<int>& cpus) {
  cpus = chosen_cpus;
  if (cpus.size() < 2) {
    state.SkipWithError("needs two CPUs (set RINGLOG_BENCH_CPUS=producer,consumer)");
    return false;
  }
  pin_this_thread(cpus[0]);
  return true;
}

// The timed loop every benchmark shares: `write_one(sequence)` for each event of an iteration,
// then a wait until the consumer has checked them all. Counts the minor page faults both threads
// take in steady state, after a warm-up lap that may touch the queue's pages for the first time.
template <class WriteOne>
void measure(benchmark::State& state, const ConsumerThread& consumer, WriteOne write_one) {
  std::uint64_t sequence = 0;
  for (; sequence < events_per_iteration; ++sequence) write_one(sequence);
  consumer.wait_for(sequence);
  const std::int64_t faults_before = process_minor_faults();
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < events_per_iteration; ++i, ++sequence) write_one(sequence);
    consumer.wait_for(sequence);
  }
  state.counters["page_faults"] = static_cast<double>(process_minor_faults() - faults_before);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * events_per_iteration));
  state.SetBytesProcessed(
      static_cast<std::int64_t>(state.iterations() * events_per_iteration * sizeof(Record)));
  if (consumer.out_of_order) state.SkipWithError("events arrived out of order");
}

// A ringlog ring of state.range(0) bytes, drained by a checking consumer thread.
template <class WriteOne>
void run_ringlog(benchmark::State& state, WriteOne write_one) {
  std::vector<int> cpus;
  if (!pin_pair(state, cpus)) return;
  auto ring = ringlog::ring::SpscRingBuffer::create(static_cast<std::size_t>(state.range(0)));
  if (!ring) {
    state.SkipWithError(ringlog::ring::to_string(ring.error()).c_str());
    return;
  }
  auto [producer, consumer] = ring->split();
  ConsumerThread draining(cpus[1], [&consumer = consumer, &draining](std::uint64_t& expected) {
    return consumer.poll([&](const ringlog::event::EventView& view) {
      if (sequence_of(view.payload.data()) != expected++) draining.out_of_order = true;
    }, 256);
  });
  measure(state, draining, [&](std::uint64_t sequence) { write_one(producer, sequence); });
}

void BM_ringlog_write_event(benchmark::State& state) {
  std::byte payload[payload_bytes] = {};
  run_ringlog(state, [&](ringlog::ring::Producer& producer, std::uint64_t sequence) {
    std::memcpy(payload, &sequence, sizeof sequence);
    const ringlog::event::EventHeader header(sequence, 1, payload_bytes);
    while (!producer.write_event(header, payload)) cpu_relax();
  });
}

void BM_ringlog_claim_commit(benchmark::State& state) {
  run_ringlog(state, [](ringlog::ring::Producer& producer, std::uint64_t sequence) {
    const ringlog::event::EventHeader header(sequence, 1, payload_bytes);
    std::optional<std::span<std::byte>> claimed;
    while (!(claimed = producer.try_claim(header))) cpu_relax();
    std::memset(claimed->data(), 0, payload_bytes);
    std::memcpy(claimed->data(), &sequence, sizeof sequence);
    producer.commit();
  });
}

// Capacity in bytes for every queue, so each gets the same memory.
void BM_boost_spsc_queue(benchmark::State& state) {
  std::vector<int> cpus;
  if (!pin_pair(state, cpus)) return;
  boost::lockfree::spsc_queue<Record> queue(static_cast<std::size_t>(state.range(0)) /
                                            sizeof(Record));
  ConsumerThread draining(cpus[1], [&queue, &draining](std::uint64_t& expected) {
    return queue.consume_all([&](const Record& record) {
      if (sequence_of(record.payload) != expected++) draining.out_of_order = true;
    });
  });
  Record record{};
  record.header = ringlog::event::EventHeader(0, 1, payload_bytes);
  measure(state, draining, [&](std::uint64_t sequence) {
    record.header.timestamp = sequence;
    std::memcpy(record.payload, &sequence, sizeof sequence);
    while (!queue.push(record)) cpu_relax();
  });
}

void BM_moodycamel_reader_writer_queue(benchmark::State& state) {
  std::vector<int> cpus;
  if (!pin_pair(state, cpus)) return;
  moodycamel::ReaderWriterQueue<Record> queue(static_cast<std::size_t>(state.range(0)) /
                                              sizeof(Record));
  ConsumerThread draining(cpus[1], [&queue, &draining](std::uint64_t& expected) {
    Record record;
    std::uint64_t taken = 0;
    while (taken < 256 && queue.try_dequeue(record)) {
      if (sequence_of(record.payload) != expected++) draining.out_of_order = true;
      ++taken;
    }
    return taken;
  });
  Record record{};
  record.header = ringlog::event::EventHeader(0, 1, payload_bytes);
  measure(state, draining, [&](std::uint64_t sequence) {
    record.header.timestamp = sequence;
    std::memcpy(record.payload, &sequence, sizeof sequence);
    while (!queue.try_enqueue(record)) cpu_relax();  // never allocates: fixed capacity
  });
}

// The hardware's side of the ratio: one core storing 80-byte records into a buffer of the
// ring's size, round and round, with nobody reading them. No queue can beat it.
void BM_store_80_byte_records(benchmark::State& state) {
  std::vector<int> cpus;
  if (!pin_pair(state, cpus)) return;
  std::vector<Record> buffer(static_cast<std::size_t>(state.range(0)) / sizeof(Record));
  Record record{};
  record.header = ringlog::event::EventHeader(0, 1, payload_bytes);
  std::size_t at = 0;
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < events_per_iteration; ++i) {
      record.header.timestamp = i;
      std::memcpy(record.payload, &i, sizeof i);
      std::memcpy(&buffer[at], &record, sizeof record);
      at = at + 1 == buffer.size() ? 0 : at + 1;
    }
    benchmark::DoNotOptimize(buffer.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * events_per_iteration));
  state.SetBytesProcessed(
      static_cast<std::int64_t>(state.iterations() * events_per_iteration * sizeof(Record)));
}

// Capacities from 64 KiB to 64 MiB, so that the default (1 MiB) is chosen from data.
constexpr std::int64_t kib = 1024;
#define RINGLOG_CAPACITIES                                                          \
  ->Arg(64 * kib)->Arg(256 * kib)->Arg(1024 * kib)->Arg(4 * 1024 * kib)            \
      ->Arg(16 * 1024 * kib)->Arg(64 * 1024 * kib)->UseRealTime()                  \
      ->Unit(benchmark::kMillisecond)
BENCHMARK(BM_ringlog_write_event) RINGLOG_CAPACITIES;
BENCHMARK(BM_ringlog_claim_commit) RINGLOG_CAPACITIES;
BENCHMARK(BM_boost_spsc_queue) RINGLOG_CAPACITIES;
BENCHMARK(BM_moodycamel_reader_writer_queue) RINGLOG_CAPACITIES;
BENCHMARK(BM_store_80_byte_records) RINGLOG_CAPACITIES;

// Collects events/s per benchmark (the median where runs are repeated) to print the ratios.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred || !run.counters.contains("items_per_second")) continue;
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name != "median") continue;
      rates_[run.run_name.function_name][run.run_name.args] = run.counters.at("items_per_second");
    }
  }
  void print_ratios() const {
    for (const char* base : {"BM_boost_spsc_queue", "BM_moodycamel_reader_writer_queue",
                             "BM_store_80_byte_records"}) {
      const auto peer = rates_.find(base);
      if (peer == rates_.end()) continue;
      std::printf("\nevents/s against %s, same run, same capacity:\n", base);
      for (const char* name : {"BM_ringlog_write_event", "BM_ringlog_claim_commit"}) {
        const auto ours = rates_.find(name);
        if (ours == rates_.end()) continue;
        for (const auto& [capacity, rate] : ours->second) {
          const auto against = peer->second.find(capacity);
          if (against == peer->second.end()) continue;
          std::printf("  %-24s capacity %-9s %7.2f M/s vs %7.2f M/s  = %.2fx\n", name,
                      capacity.c_str(), rate / 1e6, against->second / 1e6,
                      rate / against->second);
        }
      }
    }
  }

 private:
  std::map<std::string, std::map<std::string, double>> rates_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_ratios();
  benchmark::Shutdown();
  return 0;
}
