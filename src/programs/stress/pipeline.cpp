#include "programs/stress/pipeline.hpp"

#include "placement/plan.hpp"
#include "support/proc_fields.hpp"
#include "support/stop_signals.hpp"
#include "support/timing.hpp"
#include "support/wall_clock.hpp"

#include <ringlog/detail/cpu_relax.hpp>
#include <ringlog/dispatcher.hpp>
#include <ringlog/ring.hpp>
#include <ringlog/topology.hpp>
#include <ringlog/journal.hpp>
#include <ringlog/journal_consumer.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

namespace ringlog::programs {

namespace {

using Clock = std::chrono::steady_clock;

using ringlog::detail::cpu_relax;
using ringlog::support::wall_clock_ns;

double seconds_of(const timeval& time) noexcept {
  return double(time.tv_sec) + double(time.tv_usec) / 1e6;
}

ThreadUsage thread_usage() noexcept {
  rusage usage{};
  ::getrusage(RUSAGE_THREAD, &usage);
  return {usage.ru_minflt + usage.ru_majflt, seconds_of(usage.ru_utime), seconds_of(usage.ru_stime)};
}

ThreadUsage operator-(const ThreadUsage& after, const ThreadUsage& before) noexcept {
  return {after.page_faults - before.page_faults, after.user_seconds - before.user_seconds,
          after.system_seconds - before.system_seconds};
}

// The number after `key` in a /proc file of "key value" lines; 0 when absent.
double proc_value(const char* path, std::string_view key) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return support::proc_field(text.str(), key).value_or(0);
}

double dirty_pages_mb() {
  return (proc_value("/proc/meminfo", "Dirty:") + proc_value("/proc/meminfo", "Writeback:")) /
         1024;
}

double written_back_mb() {
  return proc_value("/proc/vmstat", "nr_written") * double(::sysconf(_SC_PAGESIZE)) / 1e6;
}

// vm.dirty_bytes, or vm.dirty_ratio of the memory the kernel counts as dirtyable (about the
// available memory).
double dirty_limit_mb() {
  double bytes = 0;
  double ratio = 0;
  std::ifstream("/proc/sys/vm/dirty_bytes") >> bytes;
  std::ifstream("/proc/sys/vm/dirty_ratio") >> ratio;
  if (bytes > 0) return bytes / 1e6;
  return proc_value("/proc/meminfo", "MemAvailable:") * 1024 * ratio / 100 / 1e6;
}

class CountingConsumer final : public dispatch::EventConsumer {
 public:
  bool consume(const event::EventHeader&, std::span<const std::byte>) override {
    add(1);
    return true;
  }
  std::size_t consume_records(std::span<const std::byte>, std::size_t event_count) override {
    add(event_count);
    return event_count;
  }
  std::string_view name() const override { return "counter"; }
  std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

 private:
  void add(std::uint64_t events) noexcept {
    count_.store(count_.load(std::memory_order_relaxed) + events, std::memory_order_relaxed);
  }
  std::atomic<std::uint64_t> count_{0};  // read by the reporting thread
};

// What the three threads share. Each field is written by one thread only.
struct Progress {
  std::atomic<bool> stop_producing{false};     // reporting thread
  std::atomic<bool> producer_done{false};      // producer
  std::atomic<std::uint64_t> written{0};       // producer
  std::atomic<std::uint64_t> ring_full_waits{0};
  // Written by each thread as it ends, read after join().
  ThreadUsage producer_usage;
  ThreadUsage consumer_usage;
};

// What the producer writes, and how.
struct ProducerPlan {
  double events_per_second = 0;  // 0: as fast as the ring takes them
  std::uint64_t event_limit = UINT64_MAX;
  // While the ring is full, give the CPU to whatever else is runnable there (the journal's
  // background work) after a few spins.
  bool yield_when_full = false;
};

void produce(ring::Producer& producer, const EventSource& source, const ProducerPlan& plan,
             Progress& progress) {
  constexpr std::uint64_t spins_before_yield = 64;
  const ThreadUsage before = thread_usage();
  const auto start = Clock::now();
  const double ns_per_event = plan.events_per_second > 0 ? 1e9 / plan.events_per_second : 0;
  std::uint64_t sequence = 0;
  std::uint64_t waits = 0;
  while (sequence < plan.event_limit && !progress.stop_producing.load(std::memory_order_relaxed)) {
    if (ns_per_event > 0) {
      // Paced from the intended send time, so a stall is caught up rather than forgotten.
      const auto due = start + std::chrono::nanoseconds(
                                   static_cast<std::int64_t>(double(sequence) * ns_per_event));
      while (Clock::now() < due) cpu_relax();
    }
    const event::EventHeader header(
        source.wall_clock_timestamps ? wall_clock_ns() : sequence, source.event_type(sequence),
        source.payload_len);
    std::optional<std::span<std::byte>> payload;
    for (std::uint64_t spins = 1; !(payload = producer.try_claim(header)); ++spins) {
      ++waits;  // the ring is full: wait for the consumer, never drop
      if (plan.yield_when_full && spins % spins_before_yield == 0) {
        ::sched_yield();
      } else {
        cpu_relax();
      }
    }
    source.fill(sequence, *payload);
    producer.commit();
    ++sequence;
    progress.written.store(sequence, std::memory_order_relaxed);
  }
  progress.ring_full_waits.store(waits, std::memory_order_relaxed);
  progress.producer_usage = thread_usage() - before;
  progress.producer_done.store(true, std::memory_order_release);  // every write is published
}

// `journal`'s flushes run on the consumer's CPU where `rest_while_flushing`: on an empty ring
// it then rests until the flush in flight ends (a spinning thread keeps a woken one from its CPU
// until the scheduler's next tick), for a while at most.
void consume(ring::Consumer& consumer, dispatch::EventDispatcher& dispatcher,
             journal::Journal& journal, bool rest_while_flushing, Progress& progress) {
  const ThreadUsage before = thread_usage();
  for (;;) {
    if (dispatcher.drain_batch(consumer, timing::drain_batch_events).events_read != 0) continue;
    // Empty: finished only once the producer has stopped and the ring is still empty.
    if (progress.producer_done.load(std::memory_order_acquire) && consumer.is_empty()) break;
    if (rest_while_flushing) {
      journal.rest_while_flushing(timing::drain_idle_rest);
    } else {
      cpu_relax();
    }
  }
  progress.consumer_usage = thread_usage() - before;
}

// Replays this run's events from the journal and compares each with what the source generates.
void verify(const std::filesystem::path& directory, const EventSource& source,
            PipelineReport& report) {
  auto reader = journal::JournalReader::open(directory);
  if (!reader) {
    report.error = reader.error().message();
    return;
  }
  std::vector<std::byte> expected(source.payload_len);
  reader->replay_from(report.first_sequence, [&](const journal::JournalEvent& event) {
    const std::uint64_t index = event.sequence - report.first_sequence;
    const event::EventView& view = event.view;
    source.fill(index, expected);
    const bool same = view.header.event_type == source.event_type(index) &&
                      view.payload.size() == expected.size() &&
                      std::memcmp(view.payload.data(), expected.data(), expected.size()) == 0;
    ++(same ? report.persisted : report.mismatched);
  });
}

std::string human_count(double value) {
  if (value >= 1e9) return fmt::format("{:.2f}G", value / 1e9);
  if (value >= 999.5e3) return fmt::format("{:.2f}M", value / 1e6);
  if (value >= 1e3) return fmt::format("{:.1f}k", value / 1e3);
  return fmt::format("{:.0f}", value);
}

std::string describe_placement(const placement::Plan& plan, bool split_background) {
  if (split_background) {
    return plan.pair->reason + "; no other CPU: the segment housekeeper on the producer's CPU, "
                               "the flushes on the consumer's";
  }
  return plan.describe();
}

// What the reporting thread looks at while the producer and the consumer run.
struct Watched {
  ring::SpscRingBuffer& ring;  // split by run_threads
  journal::Journal& journal;
};

// Returns once the producer is to stop: its count written, its time up, or a signal. Prints a
// status line every second (where asked) and samples the host's dirty pages.
void watch_run(const PipelineOptions& options, const Watched& watched,
               const CountingConsumer& counter, const Progress& progress,
               support::StopSignals& signals,
               Clock::time_point start, PipelineReport& report) {
  const bool counted = options.event_count != 0;
  const auto deadline =
      counted ? Clock::time_point::max()
              : start + std::chrono::duration_cast<Clock::duration>(options.duration);
  // A counted run ends when the producer has written its count: looked at every 10 ms.
  constexpr auto done_check = std::chrono::milliseconds(10);
  auto next_status = start + timing::rate_window;
  std::uint64_t last_count = 0;
  while (Clock::now() < deadline && !progress.producer_done.load(std::memory_order_acquire)) {
    Clock::time_point wake = std::min(deadline, next_status);
    if (counted) wake = std::min(wake, Clock::now() + done_check);
    if (signals.wait(wake - Clock::now())) {
      report.interrupted = true;
      return;
    }
    if (Clock::now() < next_status) continue;
    report.writeback.peak_dirty_mb = std::max(report.writeback.peak_dirty_mb, dirty_pages_mb());
    const std::uint64_t count = counter.count();
    if (options.show_status) {
      const std::uint64_t appended = watched.journal.next_sequence();
      fmt::print("[{:5.1f}s] events {:>9}  {:>8}/s  ring {:5.1f}% used  durable lag {} events\n",
                 std::chrono::duration<double>(Clock::now() - start).count(),
                 human_count(double(count)), human_count(double(count - last_count)),
                 100.0 * double(watched.ring.used()) / double(watched.ring.capacity()),
                 appended - std::min(appended, watched.journal.durable_sequence()));
      std::fflush(stdout);
    }
    last_count = count;
    next_status += timing::rate_window;
  }
}

// After the threads are joined: what they did, what the journal holds, and the replay.
void collect_results(const PipelineOptions& options, const EventSource& source,
                     const Progress& progress, const dispatch::EventDispatcher& dispatcher,
                     const dispatch::EventConsumer& journaling, const CountingConsumer& counter,
                     journal::Journal& journal, PipelineReport& report) {
  if (auto synced = journal.sync(); !synced) report.error = synced.error().message();
  report.written = progress.written.load();
  report.ring_full_waits = progress.ring_full_waits.load();
  report.producer = progress.producer_usage;
  report.consumer = progress.consumer_usage;
  for (const dispatch::ConsumerTotals& totals : dispatcher.totals()) report.failed += totals.failed;
  report.journaled = dispatcher.totals_of(journaling).delivered;
  report.counted = counter.count();
  report.durable = journal.durable_sequence() - report.first_sequence;
  report.segments = journal.segment_count();
  if (options.event_count != 0 && !report.interrupted && report.written != options.event_count) {
    report.error = fmt::format("wrote {} of the {} events asked for", report.written,
                               options.event_count);
  }
  verify(options.journal_dir, source, report);
}

// Runs the producer and the consumer on their CPUs until the producer is to stop and the
// consumer has drained everything, then fills in the report.
void run_threads(const PipelineOptions& options, const EventSource& source,
                 const ProducerPlan& plan, bool consumer_rests,
                 const std::optional<topology::CorePair>& pair, const Watched& watched,
                 PipelineReport& report) {
  dispatch::EventDispatcher dispatcher;
  const dispatch::EventConsumer& journaling =
      dispatcher.add_consumer(std::make_unique<dispatch::JournalConsumer>(watched.journal));
  auto counting = std::make_unique<CountingConsumer>();
  const CountingConsumer& counter = *counting;
  dispatcher.add_consumer(std::move(counting));

  support::StopSignals signals;  // blocked before the threads start, so they inherit the mask
  Progress progress;
  auto [producer, consumer] = watched.ring.split();
  const double written_back_at_start = written_back_mb();
  report.writeback.dirty_limit_mb = dirty_limit_mb();
  const auto start = Clock::now();
  // Named, so that top -H and perf tell the threads apart; pinned before they start work.
  // Written by each thread, read after join().
  std::expected<void, Error> pinned[2];
  std::thread producing([&, &producer = producer] {
    pthread_setname_np(pthread_self(), "producer");
    if (pair) pinned[0] = topology::pin_this_thread(pair->producer_cpu);
    produce(producer, source, plan, progress);
  });
  std::thread consuming([&, &consumer = consumer] {
    pthread_setname_np(pthread_self(), "consumer");
    if (pair) pinned[1] = topology::pin_this_thread(pair->consumer_cpu);
    consume(consumer, dispatcher, watched.journal, consumer_rests, progress);
  });
  watch_run(options, watched, counter, progress, signals, start, report);
  progress.stop_producing.store(true, std::memory_order_relaxed);
  producing.join();
  consuming.join();
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  report.writeback.written_back_mb = written_back_mb() - written_back_at_start;
  for (const auto& result : pinned) {
    if (!result) report.placement += fmt::format(" (FAILED: {})", result.error().message());
  }
  collect_results(options, source, progress, dispatcher, journaling, counter, watched.journal,
                  report);
}

}  // namespace

void print_report(const PipelineReport& report, std::size_t record_bytes) {
  const double seconds = std::max(report.seconds, 1e-9);
  fmt::print("written    {:>13} events  {:>8} events/s  {:.0f} MB/s of {}-byte records\n",
             report.written, human_count(double(report.written) / seconds),
             double(report.written * record_bytes) / seconds / 1e6, record_bytes);
  fmt::print("persisted  {:>13} events  (replayed from the journal: intact, in order, "
             "byte-exact)\n", report.persisted);
  fmt::print("lost       {:>13} events\n", report.lost());
  if (report.mismatched != 0) {
    fmt::print("MISMATCHED {:>13} events differ from what was written\n", report.mismatched);
  }
  if (report.failed != 0) fmt::print("FAILED     {:>13} deliveries refused\n", report.failed);
  fmt::print("journal    sequences {}..{} of the journal, {} durable, {} segment(s); a full ring "
             "holds the producer back ({} waits)\n",
             report.first_sequence, report.first_sequence + report.written, report.durable,
             report.segments, report.ring_full_waits);
  fmt::print("placement  {}\n", report.placement);
  for (const auto& [name, usage] : {std::pair{"producer", report.producer},
                                    std::pair{"consumer", report.consumer}}) {
    fmt::print("{:<10} {:.2f} s user, {:.2f} s system, {} page faults\n", name,
               usage.user_seconds, usage.system_seconds, usage.page_faults);
  }
  fmt::print("writeback  {:.0f} MB written back host-wide during the run, at most {:.0f} MB "
             "dirty or under writeback (throttling starts near {:.0f} MB)\n",
             report.writeback.written_back_mb, report.writeback.peak_dirty_mb,
             report.writeback.dirty_limit_mb);
  if (report.error) fmt::print("ERROR      {}\n", *report.error);
}

bool succeeded(const PipelineReport& report) {
  return !report.error && report.lost() == 0 && report.mismatched == 0 && report.failed == 0 &&
         report.counted == report.written;
}

std::expected<PipelineReport, std::string> run_pipeline(const PipelineOptions& options,
                                                         const EventSource& source) {
  const auto placement = placement::plan({options.cpus, options.journal_dir});
  if (!placement) return std::unexpected(placement.error().message());
  const std::optional<topology::CorePair>& pair = placement->pair;
  // The ring on the pair's node; the journal's background work on the other CPUs, where the
  // host has any (on two CPUs it shares them with the pair).
  ring::MemoryOptions memory = options.ring_memory;
  if (pair && memory.numa_node < 0) memory.numa_node = pair->numa_node;
  auto ring = ring::SpscRingBuffer::create(options.ring_bytes, memory);
  if (!ring) return std::unexpected(ring::to_string(ring.error()));
  fmt::print("ring       {} bytes in {}\n", ring->capacity(), ring->memory_report().describe());
  journal::JournalOptions journal_options = options.journal;
  const bool split_background =
      pair && placement->housekeeping_cpus.empty() && options.split_background_across_pair;
  if (journal_options.housekeeping_cpus.empty()) {
    journal_options.housekeeping_cpus =
        split_background ? std::vector<int>{pair->producer_cpu} : placement->housekeeping_cpus;
  }
  if (split_background && journal_options.flush_cpus.empty()) {
    journal_options.flush_cpus = {pair->consumer_cpu};
  }
  auto journal = journal::Journal::open(options.journal_dir, journal_options);
  if (!journal) return std::unexpected(journal.error().message());
  PipelineReport report;
  report.first_sequence = journal->next_sequence();
  report.flush_backend = journal->flush_backend_note();
  fmt::print("journal    {}: {}; {}\n", options.journal_dir.string(),
             journal->recovery().summary(), report.flush_backend);
  report.placement = describe_placement(*placement, split_background);
  fmt::print("placement  {}\n", report.placement);
  std::fflush(stdout);
  const ProducerPlan plan{options.events_per_second,
                          options.event_count != 0 ? options.event_count : UINT64_MAX,
                          split_background};
  run_threads(options, source, plan, split_background, pair, {*ring, *journal}, report);
  return report;
}

}  // namespace ringlog::programs
