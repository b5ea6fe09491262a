// Per-operation costs on one thread, with no second core involved: what the producer pays to
// write an event (payloads 0 to 4096 bytes; copied in or claimed in place), what the consumer
// pays to read one, what the dispatcher adds per consumer, what a CRC-32C costs per event, and
// what a journal append costs, and what the service's drain of a publisher's shared ring into
// the journal costs, by the trusted consumer and by the checked one it runs. Each iteration
// times a batch that fits the ring (so the writer always has room); the batch is drained or
// refilled with the timer paused. `per_event` is the time per event.
#include <ringlog/dispatcher.hpp>
#include <ringlog/journal.hpp>
#include <ringlog/journal_consumer.hpp>
#include <ringlog/ring.hpp>
#include <ringlog/shared_ring.hpp>

#include <ringlog/detail/crc32c.hpp>

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

namespace {

using ringlog::event::EventHeader;
using ringlog::event::EventView;

constexpr std::size_t ring_bytes = 1 << 20;

// Events of `payload` bytes that fit half the ring: a batch never waits for room.
std::size_t batch_for(std::size_t payload) {
  return ring_bytes / 2 / ((EventHeader::SIZE + payload + 7) / 8 * 8);
}

void per_event(benchmark::State& state, std::size_t batch) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
  state.counters["per_event"] = benchmark::Counter(
      double(batch), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

ringlog::ring::SpscRingBuffer make_ring() {
  auto ring = ringlog::ring::SpscRingBuffer::create(ring_bytes);
  if (!ring) std::abort();
  return std::move(*ring);
}

void drain(ringlog::ring::Consumer& consumer) {
  consumer.poll([](const EventView& view) { benchmark::DoNotOptimize(view.payload.data()); });
}

void BM_producer_write_event(benchmark::State& state) {
  const auto payload_bytes = static_cast<std::size_t>(state.range(0));
  const std::size_t batch = batch_for(payload_bytes);
  auto ring = make_ring();
  auto [producer, consumer] = ring.split();
  std::vector<std::byte> payload(payload_bytes, std::byte{0x5a});
  std::uint64_t sequence = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < batch; ++i, ++sequence) {
      const EventHeader header(sequence, 1, static_cast<std::uint16_t>(payload_bytes));
      if (!producer.write_event(header, payload)) state.SkipWithError("ring full");
    }
    state.PauseTiming();
    drain(consumer);
    state.ResumeTiming();
  }
  per_event(state, batch);
}

void BM_producer_claim_commit(benchmark::State& state) {
  const auto payload_bytes = static_cast<std::size_t>(state.range(0));
  const std::size_t batch = batch_for(payload_bytes);
  auto ring = make_ring();
  auto [producer, consumer] = ring.split();
  std::uint64_t sequence = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < batch; ++i, ++sequence) {
      const EventHeader header(sequence, 1, static_cast<std::uint16_t>(payload_bytes));
      const auto claimed = producer.try_claim(header);
      if (!claimed) state.SkipWithError("ring full");
      std::memset(claimed->data(), 0x5a, claimed->size());  // the payload built in place
      producer.commit();
    }
    state.PauseTiming();
    drain(consumer);
    state.ResumeTiming();
  }
  per_event(state, batch);
}

// Times `read_all(consumer)` over batches of 64-byte-payload events written by `producer` with
// the timer paused.
template <class Consumer, class ReadAll>
void time_reads_of(benchmark::State& state, ringlog::ring::Producer& producer, Consumer& consumer,
                   ReadAll read_all) {
  const std::size_t batch = batch_for(64);
  std::byte payload[64] = {};
  std::uint64_t sequence = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (std::size_t i = 0; i < batch; ++i, ++sequence) {
      if (!producer.write_event(EventHeader(sequence, 1, 64), payload)) std::abort();
    }
    state.ResumeTiming();
    read_all(consumer);
  }
  per_event(state, batch);
}

// The same through an in-process ring.
template <class ReadAll>
void time_reads(benchmark::State& state, ReadAll read_all) {
  auto ring = make_ring();
  auto [producer, consumer] = ring.split();
  time_reads_of(state, producer, consumer, read_all);
}

void BM_consumer_read(benchmark::State& state) {
  time_reads(state, [](ringlog::ring::Consumer& consumer) {
    std::uint64_t sum = 0;
    consumer.poll([&](const EventView& view) { sum += view.header.timestamp; });
    benchmark::DoNotOptimize(sum);
  });
}

// A consumer that takes every event and does nothing else: what remains is the dispatcher.
class Discard final : public ringlog::dispatch::EventConsumer {
 public:
  bool consume(const EventHeader& header, std::span<const std::byte> payload) override {
    benchmark::DoNotOptimize(header.timestamp);
    benchmark::DoNotOptimize(payload.data());
    return true;
  }
  std::string_view name() const override { return "discard"; }
};

void BM_dispatcher_drain(benchmark::State& state) {
  ringlog::dispatch::EventDispatcher dispatcher;
  for (std::int64_t i = 0; i < state.range(0); ++i) dispatcher.add_consumer(Discard{});
  time_reads(state, [&](ringlog::ring::Consumer& consumer) { dispatcher.drain(consumer); });
}

void BM_crc32c_of_record(benchmark::State& state) {
  const std::size_t bytes = EventHeader::SIZE + static_cast<std::size_t>(state.range(0));
  std::vector<std::byte> record(bytes, std::byte{0x5a});
  std::uint32_t crc = 0;
  for (auto _ : state) {
    crc = ringlog::detail::crc32c(crc, record.data(), record.size());
    benchmark::DoNotOptimize(crc);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}

// A journal in a scratch directory, flushed only on request so that a figure is the append
// path's own: the copy, the framing and the checksum, into pages prepared ahead. Old segments
// are recycled, so a long run stays small on disk.
struct ScratchJournal {
  struct Dir {
    std::filesystem::path path = std::filesystem::temp_directory_path() /
                                 ("ringlog-ops-bench-" + std::to_string(::getpid()));
    Dir() { std::filesystem::remove_all(path); }
    ~Dir() { std::filesystem::remove_all(path); }
  } dir;  // removed after the journal closes
  std::optional<ringlog::journal::Journal> journal;

  explicit ScratchJournal(benchmark::State& state) {
    ringlog::journal::JournalOptions options;
    options.flush = ringlog::journal::FlushPolicy::on_request();
    options.keep_segments = 2;
    options.segment_bytes = std::size_t{64} << 20;
    auto opened = ringlog::journal::Journal::open(dir.path, options);
    if (opened) {
      journal.emplace(std::move(*opened));
    } else {
      state.SkipWithError(opened.error().message().c_str());
    }
  }
};

// Journal appends of 80-byte events.
void BM_journal_append(benchmark::State& state) {
  ScratchJournal scratch(state);
  if (!scratch.journal) return;
  ringlog::journal::Journal* journal = &*scratch.journal;
  std::byte payload[64] = {};
  constexpr std::size_t batch = 4096;
  for (auto _ : state) {
    for (std::size_t i = 0; i < batch; ++i) {
      if (!journal->append(EventHeader(i, 1, 64), payload)) state.SkipWithError("append failed");
    }
    state.PauseTiming();
    journal->flush_if_due();  // prepares pages ahead and retires segments, off the clock
    state.ResumeTiming();
  }
  per_event(state, batch);
}

// Takes each run of records whole and does nothing with it: what remains of a drain is the
// ring's reading.
class DiscardRuns final : public ringlog::dispatch::EventConsumer {
 public:
  bool consume(const EventHeader&, std::span<const std::byte>) override { return true; }
  std::size_t consume_records(std::span<const std::byte> records, std::size_t events) override {
    benchmark::DoNotOptimize(records.data());
    return events;
  }
  std::string_view name() const override { return "discard runs"; }
};

// The service's drain of a publisher's shared ring: 80-byte events written with the timer
// paused, drained through the dispatcher by the trusted consumer (the in-process ring's, which
// the service used before) or the checked one it runs, which checks every record and copies
// each run into its own memory first. Into the journal (range 1), or into a consumer that takes
// runs and does nothing (range 0): the reading's own cost.
template <bool checked>
void BM_shared_ring_drain(benchmark::State& state) {
  ScratchJournal scratch(state);
  if (!scratch.journal) return;
  ringlog::dispatch::EventDispatcher dispatcher;
  if (state.range(0) == 1) {
    dispatcher.add_consumer(
        std::make_unique<ringlog::dispatch::JournalConsumer>(*scratch.journal));
  } else {
    dispatcher.add_consumer(DiscardRuns{});
  }
  auto ring = ringlog::ring::SharedRing::create({}, ring_bytes);
  if (!ring) std::abort();
  auto producer = ring->producer();
  auto consumer = [&] {
    if constexpr (checked) {
      return ring->checked_consumer();
    } else {
      return ring->consumer();
    }
  }();
  if (!producer || !consumer) std::abort();
  time_reads_of(state, *producer, *consumer, [&](auto& reading) {
    if (dispatcher.drain_batch(reading, SIZE_MAX).events_read != batch_for(64)) std::abort();
  });
}

BENCHMARK(BM_producer_write_event)->Arg(0)->Arg(16)->Arg(64)->Arg(256)->Arg(1024)->Arg(4096);
BENCHMARK(BM_producer_claim_commit)->Arg(0)->Arg(16)->Arg(64)->Arg(256)->Arg(1024)->Arg(4096);
BENCHMARK(BM_consumer_read);
BENCHMARK(BM_dispatcher_drain)->Arg(1)->Arg(2)->Arg(4)->Arg(8);
BENCHMARK(BM_crc32c_of_record)->Arg(0)->Arg(64)->Arg(1024)->Arg(4096);
BENCHMARK(BM_journal_append);
BENCHMARK(BM_shared_ring_drain<false>)->Name("BM_shared_ring_drain/trusted")->Arg(0)->Arg(1);
BENCHMARK(BM_shared_ring_drain<true>)->Name("BM_shared_ring_drain/checked")->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
