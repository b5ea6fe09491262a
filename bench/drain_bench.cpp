// drain_bench: the journal service's drain, ring → journal, as `ringlog serve` runs it. A
// producer thread writes 80-byte events into a shared ring (a memfd of the default capacity)
// and the consumer thread drains it through the dispatcher into one journal, by two consumers
// in alternating rounds on the same journal:
//
//   trusted   ring::Consumer, the drain as it was before publishers' rings were read as
//             untrusted input (the in-process ring's path);
//   checked   ring::CheckedConsumer, what the service runs: every record checked, copied into
//             the consumer's memory and checked again there.
//
// Prints each round's events/s, the median of each consumer and checked / trusted. The first
// round of each is a warm-up (the journal's first segments), left out of the medians.
//
// usage: drain_bench DIR [EVENTS_PER_ROUND] [ROUNDS] [PRODUCER_CPU CONSUMER_CPU]
#include <ringlog/detail/cpu_relax.hpp>
#include <ringlog/dispatcher.hpp>
#include <ringlog/journal.hpp>
#include <ringlog/journal_consumer.hpp>
#include <ringlog/shared_ring.hpp>
#include <ringlog/topology.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t payload_bytes = 64;

[[noreturn]] void fail(const std::string& why) {
  fmt::print(stderr, "drain_bench: {}\n", why);
  std::exit(2);
}

void pin(int cpu) {
  if (cpu < 0) return;
  if (auto pinned = ringlog::topology::pin_this_thread(cpu); !pinned) {
    fail(pinned.error().message());
  }
}

struct Setup {
  std::uint64_t events = 5'000'000;
  int rounds = 5;
  int producer_cpu = -1;
  int consumer_cpu = -1;
};

// One round: `events` through a new shared ring into `journal`; events/s from the start signal
// to the last event drained.
template <class Consumer>
double drain_round(ringlog::journal::Journal& journal, ringlog::ring::SharedRing& ring,
                   Consumer& consumer, const Setup& setup) {
  auto producer = ring.producer();
  if (!producer) fail(ringlog::ring::to_string(producer.error()));
  std::atomic<bool> go{false};
  std::thread writer([&] {
    pin(setup.producer_cpu);
    std::byte payload[payload_bytes] = {};
    while (!go.load(std::memory_order_acquire)) ringlog::detail::cpu_relax();
    for (std::uint64_t i = 0; i < setup.events; ++i) {
      const ringlog::event::EventHeader header(i, 1, payload_bytes);
      while (!producer->write_event(header, payload)) ringlog::detail::cpu_relax();
    }
  });
  ringlog::dispatch::EventDispatcher dispatcher;
  dispatcher.add_consumer(std::make_unique<ringlog::dispatch::JournalConsumer>(journal));
  const auto start = Clock::now();
  go.store(true, std::memory_order_release);
  for (std::uint64_t read = 0; read < setup.events;) {
    const auto drained = dispatcher.drain_batch(consumer, 4096);
    if (drained.events_failed != 0) fail("the journal refused events");
    read += drained.events_read;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  writer.join();
  return double(setup.events) / seconds;
}

double round_of(bool checked, ringlog::journal::Journal& journal, const Setup& setup) {
  auto ring = ringlog::ring::SharedRing::create({}, ringlog::ring::default_capacity_bytes);
  if (!ring) fail(ringlog::ring::to_string(ring.error()));
  if (checked) {
    auto consumer = ring->checked_consumer();
    if (!consumer) fail(ringlog::ring::to_string(consumer.error()));
    const double rate = drain_round(journal, *ring, *consumer, setup);
    if (consumer->violation()) fail("a violation in an honest ring: " + consumer->violation()->describe());
    return rate;
  }
  auto consumer = ring->consumer();
  if (!consumer) fail(ringlog::ring::to_string(consumer.error()));
  return drain_round(journal, *ring, *consumer, setup);
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) fail("usage: drain_bench DIR [EVENTS_PER_ROUND] [ROUNDS] [PRODUCER_CPU CONSUMER_CPU]");
  Setup setup;
  if (argc > 2) setup.events = std::strtoull(argv[2], nullptr, 10);
  if (argc > 3) setup.rounds = std::atoi(argv[3]);
  if (argc > 5) {
    setup.producer_cpu = std::atoi(argv[4]);
    setup.consumer_cpu = std::atoi(argv[5]);
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::remove_all(dir);
  ringlog::journal::JournalOptions options;
  options.keep_segments = 4;  // recycled: steady state, not a disk filling
  auto journal = ringlog::journal::Journal::open(dir, options);
  if (!journal) fail(journal.error().message());
  pin(setup.consumer_cpu);

  std::vector<double> trusted, checked;
  for (int round = 0; round <= setup.rounds; ++round) {
    for (const bool is_checked : {false, true}) {
      const double rate = round_of(is_checked, *journal, setup);
      fmt::print("round {} {:<8} {:6.2f} M events/s{}\n", round, is_checked ? "checked" : "trusted",
                 rate / 1e6, round == 0 ? " (warm-up)" : "");
      if (round > 0) (is_checked ? checked : trusted).push_back(rate);
    }
  }
  if (auto synced = journal->sync(); !synced) fail(synced.error().message());
  if (setup.rounds > 0) {
    const double trusted_median = median(trusted), checked_median = median(checked);
    fmt::print("median of {} rounds of {} events: trusted {:.2f} M/s, checked {:.2f} M/s, "
               "checked / trusted {:.3f}\n",
               setup.rounds, setup.events, trusted_median / 1e6, checked_median / 1e6,
               checked_median / trusted_median);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
