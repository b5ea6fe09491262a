// SPSC throughput of 80-byte events (16-byte header + 64-byte payload) between two pinned
// threads: ringlog against boost::lockfree::spsc_queue and moodycamel::ReaderWriterQueue, and
// against the ceilings the hardware and the consumer's own work set, all in the same binary and
// the same run, so that the ratios printed at the end compare like with like.
//
// ringlog is measured on both of its API paths: write_event → read_event, and try_claim/commit
// → poll; the first also through calls the compiler may not inline. Every queue runs in two
// regimes: the consumer only reads and checks each event ("BM_<queue>"), or it also spends a
// fixed ~20 ns of work on each ("BM_<queue>_with_consumer_work").
//
// CPUs: RINGLOG_BENCH_CPUS="producer,consumer" (default: the first two this process may use).
// Every event carries its sequence number; the consumer checks each one, so a benchmark that
// loses or reorders events fails instead of reporting a number.
#include <ringlog/detail/cpu_relax.hpp>
#include <ringlog/ring.hpp>
#include <ringlog/shared_ring.hpp>

#include <benchmark/benchmark.h>
#include <boost/lockfree/spsc_queue.hpp>
#include <readerwriterqueue/readerwriterqueue.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t payload_bytes = 64;
constexpr std::uint64_t events_per_iteration = 1 << 20;
// Events a consumer takes before it publishes its progress, for the queues that take a limit.
constexpr std::uint64_t drain_batch = 256;

// The working regime's per-event work: dependent multiply/xorshift rounds of about 5 cycles each
// (shift, xor, 3-cycle multiply), so 10 rounds are ~50 cycles, ~20 ns on a 2-3 GHz core. A fixed
// count, not a time, so that it costs every queue the same however the clock moves.
constexpr int consumer_work_rounds = 10;

enum class ConsumerWork { none, per_event };

struct Record {  // what boost's queue carries: the same 80 bytes ringlog frames
  ringlog::event::EventHeader header;
  std::byte payload[payload_bytes];
};
static_assert(sizeof(Record) == 80);

using ringlog::detail::cpu_relax;

// Each event's work starts from the previous event's result, so out-of-order execution cannot
// overlap the work of consecutive events: the cost stays per event, as real work's would.
std::uint64_t consumer_work(std::uint64_t previous, std::uint64_t sequence) noexcept {
  std::uint64_t mixed = previous ^ sequence;
  for (int round = 0; round < consumer_work_rounds; ++round) {
    mixed ^= mixed >> 31;
    mixed *= 0x9e3779b97f4a7c15;
  }
  const std::uint64_t result = mixed;
  benchmark::DoNotOptimize(result);
  return result;
}

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

// What the consumer does with each event it takes: checks its sequence number and, in the working
// regime, spends the per-event work on it. Used by the consumer thread only, but out_of_order()
// is read by the producer's thread once the run is over.
class EventChecker {
 public:
  explicit EventChecker(ConsumerWork work) noexcept : work_(work) {}
  void take(std::uint64_t sequence) noexcept {
    if (sequence != expected_++) out_of_order_.store(true, std::memory_order_relaxed);
    if (work_ == ConsumerWork::per_event) work_chain_ = consumer_work(work_chain_, sequence);
  }
  std::uint64_t taken() const noexcept { return expected_; }
  bool out_of_order() const noexcept { return out_of_order_.load(std::memory_order_relaxed); }

 private:
  ConsumerWork work_;
  std::uint64_t expected_ = 0;
  std::uint64_t work_chain_ = 0;
  std::atomic<bool> out_of_order_{false};
};

// The consumer thread: drains the queue into its checker and publishes how many events it took.
class ConsumerThread {
 public:
  template <class Drain>
  ConsumerThread(int cpu, ConsumerWork work, Drain drain)
      : checker_(work), thread_([this, cpu, drain]() mutable {
          pin_this_thread(cpu);
          while (!stop_.load(std::memory_order_relaxed)) {
            if (drain(checker_) == 0) {
              cpu_relax();
              continue;
            }
            consumed_.store(checker_.taken(), std::memory_order_release);
          }
        }) {}
  ~ConsumerThread() {
    stop_.store(true, std::memory_order_relaxed);
    thread_.join();
  }
  bool wait_for(std::uint64_t count) const {
    while (consumed_.load(std::memory_order_acquire) < count) cpu_relax();
    return true;
  }
  bool out_of_order() const noexcept { return checker_.out_of_order(); }

 private:
  alignas(128) EventChecker checker_;
  alignas(128) std::atomic<std::uint64_t> consumed_{0};
  alignas(128) std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The consumer in a process of its own, as `ringlog serve` is to its publishers: the child opens
// the shared ring by its path (its own mapping, prefaulted), drains it into its checker, and
// reports through a shared page. The page faults counted are the producer's process's only.
class ConsumerProcess {
 public:
  template <class Drain>
  ConsumerProcess(int cpu, ConsumerWork work, const std::filesystem::path& ring_path, Drain drain)
      : shared_(static_cast<Shared*>(mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE,
                                          MAP_SHARED | MAP_ANONYMOUS, -1, 0))) {
    if (shared_ == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
    new (shared_) Shared(work);
    child_ = fork();
    if (child_ != 0) return;
    pin_this_thread(cpu);
    auto ring = ringlog::ring::SharedRing::open(ring_path);
    auto consumer = ring ? ring->consumer() : std::unexpected(ring.error());
    if (!consumer) _exit(1);
    while (!shared_->stop.load(std::memory_order_relaxed)) {
      if (drain(*consumer, shared_->checker) == 0) {
        cpu_relax();
        continue;
      }
      shared_->consumed.store(shared_->checker.taken(), std::memory_order_release);
    }
    _exit(0);
  }
  ~ConsumerProcess() {
    shared_->stop.store(true, std::memory_order_relaxed);
    if (child_ > 0) waitpid(child_, nullptr, 0);
    munmap(shared_, sizeof(Shared));
  }
  // False when the child has died, or never started, before taking `count` events.
  bool wait_for(std::uint64_t count) const {
    for (std::uint64_t spins = 1; shared_->consumed.load(std::memory_order_acquire) < count;
         ++spins) {
      if (spins % (1 << 20) == 0 && waitpid(child_, nullptr, WNOHANG) != 0) return false;
      cpu_relax();
    }
    return true;
  }
  bool out_of_order() const noexcept { return shared_->checker.out_of_order(); }

 private:
  struct Shared {
    explicit Shared(ConsumerWork work) : checker(work) {}
    alignas(128) EventChecker checker;
    alignas(128) std::atomic<std::uint64_t> consumed{0};
    alignas(128) std::atomic<bool> stop{false};
  };
  Shared* shared_;
  pid_t child_ = -1;
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

void count_events(benchmark::State& state) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * events_per_iteration));
  state.SetBytesProcessed(
      static_cast<std::int64_t>(state.iterations() * events_per_iteration * sizeof(Record)));
}

// The timed loop every queue benchmark shares: `write_one(sequence)` for each event of an
// iteration, then a wait until the consumer has checked them all. Counts the minor page faults
// both threads take in steady state, after a warm-up lap that may touch the queue's pages for
// the first time.
template <class ConsumerSide, class WriteOne>
void measure(benchmark::State& state, const ConsumerSide& consumer, WriteOne write_one) {
  std::uint64_t sequence = 0;
  for (; sequence < events_per_iteration; ++sequence) write_one(sequence);
  if (!consumer.wait_for(sequence)) {
    state.SkipWithError("the consumer process could not open the shared ring");
    return;
  }
  const std::int64_t faults_before = process_minor_faults();
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < events_per_iteration; ++i, ++sequence) write_one(sequence);
    if (!consumer.wait_for(sequence)) {
      state.SkipWithError("the consumer process died");
      return;
    }
  }
  state.counters["page_faults"] = static_cast<double>(process_minor_faults() - faults_before);
  count_events(state);
  if (consumer.out_of_order()) state.SkipWithError("events arrived out of order");
}

// A ringlog ring of state.range(0) bytes: `drain(consumer, checker)` on the consumer thread,
// `write_one(producer, sequence)` on this one.
template <class Drain, class WriteOne>
void run_ringlog(benchmark::State& state, ConsumerWork work, Drain drain, WriteOne write_one) {
  std::vector<int> cpus;
  if (!pin_pair(state, cpus)) return;
  auto ring = ringlog::ring::SpscRingBuffer::create(static_cast<std::size_t>(state.range(0)));
  if (!ring) {
    state.SkipWithError(ringlog::ring::to_string(ring.error()).c_str());
    return;
  }
  auto [producer, consumer] = ring->split();
  ConsumerThread draining(cpus[1], work, [&consumer = consumer, drain](EventChecker& checker) {
    return drain(consumer, checker);
  });
  measure(state, draining, [&](std::uint64_t sequence) { write_one(producer, sequence); });
}

// The same with the consumer in another process, through a shared ring (an anonymous memfd).
template <class Drain, class WriteOne>
void run_shared_ring(benchmark::State& state, ConsumerWork work, Drain drain, WriteOne write_one) {
  std::vector<int> cpus;
  if (!pin_pair(state, cpus)) return;
  auto ring = ringlog::ring::SharedRing::create({}, static_cast<std::size_t>(state.range(0)));
  auto producer = ring ? ring->producer() : std::unexpected(ring.error());
  if (!producer) {
    state.SkipWithError(ringlog::ring::to_string(producer.error()).c_str());
    return;
  }
  ConsumerProcess draining(cpus[1], work, ring->path(), drain);
  measure(state, draining, [&](std::uint64_t sequence) { write_one(*producer, sequence); });
}

enum class Sides { one_process, two_processes };

// The write_event → read_event path, with `write` and `read` standing for the two calls.
template <class Write, class Read>
void run_write_read(benchmark::State& state, ConsumerWork work, Write write, Read read,
                    Sides sides = Sides::one_process) {
  std::byte payload[payload_bytes] = {};
  const auto drain = [read](ringlog::ring::Consumer& consumer, EventChecker& checker) {
    std::uint64_t taken = 0;
    while (const auto view = read(consumer)) {
      checker.take(sequence_of(view->payload.data()));
      if (++taken == drain_batch) break;
    }
    return taken;
  };
  const auto write_one = [&](ringlog::ring::Producer& producer, std::uint64_t sequence) {
    std::memcpy(payload, &sequence, sizeof sequence);
    const ringlog::event::EventHeader header(sequence, 1, payload_bytes);
    while (!write(producer, header, std::span<const std::byte>(payload))) cpu_relax();
  };
  if (sides == Sides::one_process) {
    run_ringlog(state, work, drain, write_one);
  } else {
    run_shared_ring(state, work, drain, write_one);
  }
}

// The two calls as a caller writes them, inlined where the compiler likes.
constexpr auto write_event = [](ringlog::ring::Producer& producer,
                                const ringlog::event::EventHeader& header,
                                std::span<const std::byte> payload) {
  return producer.write_event(header, payload);
};
constexpr auto read_event = [](ringlog::ring::Consumer& consumer) {
  return consumer.read_event();
};

void BM_ringlog_write_event(benchmark::State& state, ConsumerWork work) {
  run_write_read(state, work, write_event, read_event);
}

// write_event → read_event with the consumer in another process, as `ringlog serve` runs.
void BM_ringlog_shared_ring(benchmark::State& state, ConsumerWork work) {
  run_write_read(state, work, write_event, read_event, Sides::two_processes);
}

// Callers of a library do not always get its calls inlined (another translation unit, a
// virtual sink, a cold path): these two keep the calls out of line to show what that costs.
// noipa as well: without it GCC clones them for the constant payload size their one caller
// passes, which a caller in another translation unit would not get.
[[gnu::noinline, gnu::noipa]] bool write_event_out_of_line(ringlog::ring::Producer& producer,
                                               const ringlog::event::EventHeader& header,
                                               std::span<const std::byte> payload) noexcept {
  return producer.write_event(header, payload);
}

[[gnu::noinline, gnu::noipa]] std::optional<ringlog::event::EventView> read_event_out_of_line(
    ringlog::ring::Consumer& consumer) noexcept {
  return consumer.read_event();
}

// Lambdas rather than function pointers, so that the calls are direct, as a caller's would be.
void BM_ringlog_write_read_out_of_line(benchmark::State& state, ConsumerWork work) {
  run_write_read(
      state, work,
      [](ringlog::ring::Producer& producer, const ringlog::event::EventHeader& header,
         std::span<const std::byte> payload) {
        return write_event_out_of_line(producer, header, payload);
      },
      [](ringlog::ring::Consumer& consumer) { return read_event_out_of_line(consumer); });
}

void BM_ringlog_claim_commit(benchmark::State& state, ConsumerWork work) {
  const auto drain = [](ringlog::ring::Consumer& consumer, EventChecker& checker) {
    return consumer.poll([&](const ringlog::event::EventView& view) {
      checker.take(sequence_of(view.payload.data()));
    }, drain_batch);
  };
  run_ringlog(state, work, drain, [](ringlog::ring::Producer& producer, std::uint64_t sequence) {
    const ringlog::event::EventHeader header(sequence, 1, payload_bytes);
    std::optional<std::span<std::byte>> claimed;
    while (!(claimed = producer.try_claim(header))) cpu_relax();
    std::memset(claimed->data(), 0, payload_bytes);
    std::memcpy(claimed->data(), &sequence, sizeof sequence);
    producer.commit();
  });
}

Record record_for(std::uint64_t sequence) {
  Record record{};
  record.header = ringlog::event::EventHeader(sequence, 1, payload_bytes);
  std::memcpy(record.payload, &sequence, sizeof sequence);
  return record;
}

// Capacity in bytes for every queue, so each gets the same memory.
void BM_boost_spsc_queue(benchmark::State& state, ConsumerWork work) {
  std::vector<int> cpus;
  if (!pin_pair(state, cpus)) return;
  boost::lockfree::spsc_queue<Record> queue(static_cast<std::size_t>(state.range(0)) /
                                            sizeof(Record));
  ConsumerThread draining(cpus[1], work, [&queue](EventChecker& checker) {
    return queue.consume_all(
        [&](const Record& record) { checker.take(sequence_of(record.payload)); });
  });
  measure(state, draining, [&](std::uint64_t sequence) {
    const Record record = record_for(sequence);
    while (!queue.push(record)) cpu_relax();
  });
}

void BM_moodycamel_reader_writer_queue(benchmark::State& state, ConsumerWork work) {
  std::vector<int> cpus;
  if (!pin_pair(state, cpus)) return;
  moodycamel::ReaderWriterQueue<Record> queue(static_cast<std::size_t>(state.range(0)) /
                                              sizeof(Record));
  ConsumerThread draining(cpus[1], work, [&queue](EventChecker& checker) {
    Record record;
    std::uint64_t taken = 0;
    while (taken < drain_batch && queue.try_dequeue(record)) {
      checker.take(sequence_of(record.payload));
      ++taken;
    }
    return taken;
  });
  measure(state, draining, [&](std::uint64_t sequence) {
    const Record record = record_for(sequence);
    while (!queue.try_enqueue(record)) cpu_relax();  // never allocates: fixed capacity
  });
}

// The hardware's side of the read-only ratio: one core storing 80-byte records into a buffer of
// the ring's size, round and round, with nobody reading them. No queue can beat it.
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
  count_events(state);
}

// The working regime's ceiling: the consumer's per-event work alone, on the consumer's CPU, with
// no queue in front of it. No queue's consumer can take events faster while doing it.
void BM_consumer_work_bound(benchmark::State& state) {
  std::vector<int> cpus;
  if (!pin_pair(state, cpus)) return;
  pin_this_thread(cpus[1]);
  std::uint64_t work_chain = 0;
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < events_per_iteration; ++i) {
      work_chain = consumer_work(work_chain, i);
    }
  }
  count_events(state);
}

struct QueueBenchmark {
  const char* name;
  const char* label;  // in the ratios
  void (*run)(benchmark::State&, ConsumerWork);
};
constexpr QueueBenchmark ringlog_paths[] = {
    {"BM_ringlog_write_event", "write_event -> read_event", BM_ringlog_write_event},
    {"BM_ringlog_write_read_out_of_line", "the same, not inlined",
     BM_ringlog_write_read_out_of_line},
    {"BM_ringlog_claim_commit", "try_claim/commit -> poll", BM_ringlog_claim_commit},
    {"BM_ringlog_shared_ring", "write -> read, 2 processes", BM_ringlog_shared_ring},
};
constexpr QueueBenchmark peers[] = {
    {"BM_boost_spsc_queue", "boost", BM_boost_spsc_queue},
    {"BM_moodycamel_reader_writer_queue", "moodycamel", BM_moodycamel_reader_writer_queue},
};
constexpr const char* store_stream = "BM_store_80_byte_records";
constexpr const char* consumer_work_bound = "BM_consumer_work_bound";

std::string name_in_regime(const char* queue, ConsumerWork work) {
  return std::string(queue) + (work == ConsumerWork::per_event ? "_with_consumer_work" : "");
}

// Capacities from 64 KiB to 64 MiB, so that the default (1 MiB) is chosen from data.
void over_capacities(benchmark::internal::Benchmark* benchmark) {
  constexpr std::int64_t kib = 1024;
  for (std::int64_t capacity = 64 * kib; capacity <= 64 * kib * kib; capacity *= 4) {
    benchmark->Arg(capacity);
  }
  benchmark->UseRealTime()->Unit(benchmark::kMillisecond);
}

void register_queue(const QueueBenchmark& queue, ConsumerWork work) {
  over_capacities(
      benchmark::RegisterBenchmark(name_in_regime(queue.name, work).c_str(), queue.run, work));
}

// Every queue in both regimes, then the two ceilings.
void register_benchmarks() {
  for (const ConsumerWork work : {ConsumerWork::none, ConsumerWork::per_event}) {
    for (const QueueBenchmark& queue : ringlog_paths) register_queue(queue, work);
    for (const QueueBenchmark& queue : peers) register_queue(queue, work);
  }
  over_capacities(benchmark::RegisterBenchmark(store_stream, BM_store_80_byte_records));
  benchmark::RegisterBenchmark(consumer_work_bound, BM_consumer_work_bound)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

std::string capacity_text(const std::string& bytes) {
  const long long value = std::stoll(bytes);
  return value >= 1 << 20 ? std::to_string(value >> 20) + " MiB"
                          : std::to_string(value >> 10) + " KiB";
}

// Collects events/s per benchmark (the median where runs are repeated) to print the ratios.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred || !run.counters.contains("items_per_second")) continue;
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name != "median") continue;
      const std::string& capacity = run.run_name.args;
      if (!capacity.empty() && std::find(capacities_.begin(), capacities_.end(), capacity) ==
                                   capacities_.end()) {
        capacities_.push_back(capacity);
      }
      rates_[run.run_name.function_name][capacity] = run.counters.at("items_per_second");
    }
  }
  void print_ratios() const {
    std::printf("\nevents/s, ringlog against the others in the same run at the same capacity "
                "(medians where repeated); best peer: the faster of boost and moodycamel\n");
    for (const std::string& capacity : capacities_) {
      for (const ConsumerWork work : {ConsumerWork::none, ConsumerWork::per_event}) {
        print_case(capacity, work);
      }
    }
  }

 private:
  std::optional<double> rate(const std::string& name, const std::string& capacity) const {
    const auto runs = rates_.find(name);
    if (runs == rates_.end()) return std::nullopt;
    const auto at = runs->second.find(capacity);
    if (at == runs->second.end()) return std::nullopt;
    return at->second;
  }
  // "vs <peer> 1.20x" or "/ <ceiling> 0.40x"; nothing when that benchmark did not run.
  static void print_ratio(const char* relation, const char* against, double ours,
                          std::optional<double> theirs) {
    if (theirs) std::printf("  %s %s %.2fx", relation, against, ours / *theirs);
  }
  void print_case(const std::string& capacity, ConsumerWork work) const {
    std::optional<double> best_peer;
    for (const QueueBenchmark& peer : peers) {
      if (const auto theirs = rate(name_in_regime(peer.name, work), capacity)) {
        best_peer = std::max(best_peer.value_or(0), *theirs);
      }
    }
    const bool working = work == ConsumerWork::per_event;
    const auto ceiling = working ? rate(consumer_work_bound, "") : rate(store_stream, capacity);
    std::printf("%s, consumer %s:\n", capacity_text(capacity).c_str(),
                working ? "also works ~20 ns an event" : "reads and checks only");
    for (const QueueBenchmark& path : ringlog_paths) {
      const auto ours = rate(name_in_regime(path.name, work), capacity);
      if (!ours) continue;
      std::printf("  %-26s %7.2f M/s", path.label, *ours / 1e6);
      print_ratio("vs", "best peer", *ours, best_peer);
      for (const QueueBenchmark& peer : peers) {
        print_ratio("vs", peer.label, *ours, rate(name_in_regime(peer.name, work), capacity));
      }
      print_ratio("/", working ? "consumer-work bound" : "store stream", *ours, ceiling);
      if (path.run == BM_ringlog_shared_ring) {
        print_ratio("/", "in-process", *ours,
                    rate(name_in_regime("BM_ringlog_write_event", work), capacity));
      }
      std::printf("\n");
    }
  }

  std::vector<std::string> capacities_;  // in the order they ran
  std::map<std::string, std::map<std::string, double>> rates_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_benchmarks();
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_ratios();
  benchmark::Shutdown();
  return 0;
}
