// ringlog_latency: latency through the ring, beside the hardware's own limit, in one run on one
// pair of pinned cores.
//   - the raw cache-line round trip between the two cores (two atomics, nothing else): the
//     floor any queue between them stands on; and the raw round trip of 80-byte records laid
//     out as a ring lays them, the floor for an event of this size;
//   - the round trip through two ringlog rings (ping-pong of 80-byte events), on each of the
//     ring's paths (write_event → read_event, and try_claim/commit → poll), and through two of
//     each peer queue (boost::lockfree::spsc_queue, moodycamel::ReaderWriterQueue), each printed
//     as a ratio of its p50 to the raw round trip's;
//   - one-way producer → consumer latency at fixed offered rates, timed from each event's
//     intended send time, so a stall delays every event scheduled behind it and shows
//     (no coordinated omission); and a saturation run, as fast as the ring takes events.
// Times are TSC stamps (rdtscp) calibrated against CLOCK_MONOTONIC_RAW; the stamp's own cost
// is measured and printed. Each scenario prints min/p50/p90/p99/p99.9/p99.99/max and writes an
// HdrHistogram .hgrm file; with gnuplot installed, one percentile plot of them all.
#include "support/latency_histogram.hpp"

#include <ringlog/ring.hpp>
#include <ringlog/topology.hpp>

#include <CLI/CLI.hpp>
#include <boost/lockfree/spsc_queue.hpp>
#include <fmt/format.h>
#include <readerwriterqueue/readerwriterqueue.h>
#include <time.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using ringlog::detail::LatencyHistogram;

constexpr std::size_t payload_bytes = 64;  // 80-byte events, as in the throughput benchmark
constexpr std::size_t ring_bytes = 1 << 20;

std::uint64_t stamp() noexcept {
  unsigned core = 0;
  return __rdtscp(&core);
}

std::int64_t monotonic_raw_ns() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC_RAW, &now);
  return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

// The TSC's rate against CLOCK_MONOTONIC_RAW over 200 ms, and what one stamp costs.
struct TscClock {
  double ticks_per_ns = 0;
  double stamp_cost_ns = 0;  // median of back-to-back stamps

  static TscClock calibrate() {
    TscClock clock;
    const std::int64_t start_ns = monotonic_raw_ns();
    const std::uint64_t start = stamp();
    while (monotonic_raw_ns() - start_ns < 200'000'000) {
    }
    clock.ticks_per_ns = double(stamp() - start) / double(monotonic_raw_ns() - start_ns);
    std::vector<std::uint64_t> gaps(100'000);
    for (auto& gap : gaps) {
      const std::uint64_t first = stamp();
      gap = stamp() - first;
    }
    std::nth_element(gaps.begin(), gaps.begin() + gaps.size() / 2, gaps.end());
    clock.stamp_cost_ns = double(gaps[gaps.size() / 2]) / clock.ticks_per_ns;
    return clock;
  }
  std::uint64_t to_ns(std::uint64_t ticks) const noexcept {
    return static_cast<std::uint64_t>(double(ticks) / ticks_per_ns);
  }
  std::uint64_t ticks(double ns) const noexcept {
    return static_cast<std::uint64_t>(ns * ticks_per_ns);
  }
};

// What a one-way run saw besides the latencies.
struct OneWayRun {
  double events_per_second = 0;  // what the consumer received
  // How far the producer fell behind its schedule: a stall of the sending thread itself (the
  // VM descheduling it, an interrupt), which delays every event due meanwhile.
  std::uint64_t producer_max_late_ns = 0;
};

struct Scenario {
  std::string name;
  std::string slug;  // file name of its .hgrm
  LatencyHistogram histogram;
  std::optional<OneWayRun> one_way;
};

void pin(int cpu) {
  if (auto pinned = ringlog::topology::pin_this_thread(cpu); !pinned) {
    fmt::print(stderr, "ringlog_latency: {}\n", pinned.error().message());
    std::exit(2);
  }
}

ringlog::ring::SpscRingBuffer make_ring() {
  auto ring = ringlog::ring::SpscRingBuffer::create(ring_bytes);
  if (!ring) {
    fmt::print(stderr, "ringlog_latency: {}\n", ringlog::ring::to_string(ring.error()));
    std::exit(2);
  }
  return std::move(*ring);
}

struct Payload {
  std::uint64_t sequence;
  std::uint64_t send_ticks;  // intended (fixed rate) or actual (saturation, round trips)
  std::byte rest[payload_bytes - 16];
};
static_assert(sizeof(Payload) == payload_bytes);

ringlog::event::EventHeader header_for(std::uint64_t sequence) {
  return ringlog::event::EventHeader(sequence, 1, payload_bytes);
}

std::span<const std::byte> bytes_of(const Payload& payload) {
  return {reinterpret_cast<const std::byte*>(&payload), sizeof payload};
}

Payload payload_of(const ringlog::event::EventView& view) {
  Payload payload;
  std::memcpy(&payload, view.payload.data(), sizeof payload);
  return payload;
}

// Two cores handing one cache line each back and forth: the hardware's round trip.
void raw_round_trip(const TscClock& clock, int echo_cpu, std::uint64_t count,
                    LatencyHistogram& histogram) {
  alignas(128) std::atomic<std::uint64_t> ping{0};
  alignas(128) std::atomic<std::uint64_t> pong{0};
  std::thread echo([&] {
    pin(echo_cpu);
    for (std::uint64_t i = 1; i <= count; ++i) {
      while (ping.load(std::memory_order_acquire) != i) {
      }
      pong.store(i, std::memory_order_release);
    }
  });
  for (std::uint64_t i = 1; i <= count; ++i) {
    const std::uint64_t start = stamp();
    ping.store(i, std::memory_order_release);
    while (pong.load(std::memory_order_acquire) != i) {
    }
    histogram.record(clock.to_ns(stamp() - start));
  }
  echo.join();
}

// Two cores handing 80-byte records back and forth, laid out one after another as a ring lays
// them (so that some straddle two cache lines), each published by a word stored last: the
// hardware's round trip for an event of this size, with no queue logic at all. Each record's
// word carries its round trip's number, unique, so no slot needs clearing.
void raw_record_round_trip(const TscClock& clock, int echo_cpu, std::uint64_t count,
                           LatencyHistogram& histogram) {
  constexpr std::size_t record_bytes = 16 + payload_bytes;
  constexpr std::size_t records_per_lap = (64 << 10) / record_bytes;
  struct alignas(4096) Area { std::byte bytes[records_per_lap * record_bytes]; };
  const auto there = std::make_unique<Area>();
  const auto back = std::make_unique<Area>();
  const auto record = [](Area& area, std::uint64_t i) {
    return area.bytes + (i % records_per_lap) * record_bytes;
  };
  const auto word = [](std::byte* at) {
    return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(at + 8));
  };
  std::thread echo([&] {
    pin(echo_cpu);
    for (std::uint64_t i = 1; i <= count; ++i) {
      std::byte* const from = record(*there, i);
      while (word(from).load(std::memory_order_acquire) != i) {
      }
      std::byte* const to = record(*back, i);
      std::memcpy(to, from, 8);
      std::memcpy(to + 16, from + 16, payload_bytes);
      word(to).store(i, std::memory_order_release);
    }
  });
  Payload payload{};
  for (std::uint64_t i = 1; i <= count; ++i) {
    const std::uint64_t start = stamp();
    std::byte* const to = record(*there, i);
    payload.sequence = i;
    std::memcpy(to, &i, 8);
    std::memcpy(to + 16, &payload, sizeof payload);
    word(to).store(i, std::memory_order_release);
    std::byte* const from = record(*back, i);
    while (word(from).load(std::memory_order_acquire) != i) {
    }
    std::uint64_t returned;
    std::memcpy(&returned, from + 16, sizeof returned);
    histogram.record(clock.to_ns(stamp() - start));
    if (returned != i) {
      fmt::print(stderr, "ringlog_latency: raw record {} came back as {}\n", i, returned);
      std::exit(1);
    }
  }
  echo.join();
}

// Round trips from this thread: `ping(i)` sends event i and spins until it comes back, returning
// the sequence number it came back with; `echo_one()`, on `echo_cpu`, sends one event back as it
// arrived. Each round trip is timed from before the send to after the sequence number is read.
template <class Ping, class Echo>
void ping_pong(const TscClock& clock, int echo_cpu, std::uint64_t count,
               LatencyHistogram& histogram, Ping ping, Echo echo_one) {
  std::thread echo([&] {
    pin(echo_cpu);
    for (std::uint64_t i = 0; i < count; ++i) echo_one();
  });
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t start = stamp();
    const std::uint64_t returned = ping(i);
    histogram.record(clock.to_ns(stamp() - start));
    if (returned != i) {
      fmt::print(stderr, "ringlog_latency: round trip {} came back as {}\n", i, returned);
      std::exit(1);
    }
  }
  echo.join();
}

// The two rings of a round trip: `there` from the pinging thread to the echoing one, `back` the
// other way; each side's handles, and the rings they borrow.
struct RingPair {
  ringlog::ring::SpscRingBuffer there_ring = make_ring();
  ringlog::ring::SpscRingBuffer back_ring = make_ring();
  std::pair<ringlog::ring::Producer, ringlog::ring::Consumer> there = there_ring.split();
  std::pair<ringlog::ring::Producer, ringlog::ring::Consumer> back = back_ring.split();
};

// The same round trip through two rings, write_event → read_event: an 80-byte event there, the
// same event back.
void ring_write_read_round_trip(const TscClock& clock, int echo_cpu, std::uint64_t count,
                                LatencyHistogram& histogram) {
  RingPair rings;
  auto& [send, receive_there] = rings.there;
  auto& [send_back, receive] = rings.back;
  Payload payload{};
  const auto ping = [&payload, &send = send, &receive = receive](std::uint64_t i) {
    payload.sequence = i;
    while (!send.write_event(header_for(i), bytes_of(payload))) {
    }
    std::optional<ringlog::event::EventView> view;
    while (!(view = receive.read_event())) {
    }
    return payload_of(*view).sequence;
  };
  const auto echo_one = [&receive_there = receive_there, &send_back = send_back] {
    std::optional<ringlog::event::EventView> view;
    while (!(view = receive_there.read_event())) {
    }
    while (!send_back.write_event(view->header, view->payload)) {
    }
  };
  ping_pong(clock, echo_cpu, count, histogram, ping, echo_one);
}

// Writes the event in place: try_claim, fill, commit.
void claim_and_commit(ringlog::ring::Producer& producer, const ringlog::event::EventHeader& header,
                      std::span<const std::byte> payload) {
  std::optional<std::span<std::byte>> claimed;
  while (!(claimed = producer.try_claim(header))) {
  }
  std::memcpy(claimed->data(), payload.data(), payload.size());
  producer.commit();
}

// The ring's other path both ways: try_claim/commit to send, poll to receive.
void ring_claim_poll_round_trip(const TscClock& clock, int echo_cpu, std::uint64_t count,
                                LatencyHistogram& histogram) {
  RingPair rings;
  auto& [send, receive_there] = rings.there;
  auto& [send_back, receive] = rings.back;
  Payload payload{};
  const auto ping = [&payload, &send = send, &receive = receive](std::uint64_t i) {
    payload.sequence = i;
    claim_and_commit(send, header_for(i), bytes_of(payload));
    std::uint64_t returned = 0;
    const auto read_sequence = [&](const ringlog::event::EventView& view) {
      returned = payload_of(view).sequence;
    };
    while (receive.poll(read_sequence, 1) == 0) {
    }
    return returned;
  };
  const auto echo_one = [&receive_there = receive_there, &send_back = send_back] {
    const auto send_it_back = [&](const ringlog::event::EventView& view) {
      claim_and_commit(send_back, view.header, view.payload);
    };
    while (receive_there.poll(send_it_back, 1) == 0) {
    }
  };
  ping_pong(clock, echo_cpu, count, histogram, ping, echo_one);
}

// An 80-byte event as the peers' queues carry it: the bytes ringlog frames, copied in and out.
struct Event {
  ringlog::event::EventHeader header;
  Payload payload;
};
static_assert(sizeof(Event) == 80);

// A peer's round trip, the same way: an 80-byte event there, the same event back, through two
// queues of the ring's size. `push(queue, event)` and `pop(queue, event)` return false when the
// queue is full or empty.
template <class Queue, class Push, class Pop>
void peer_round_trip(const TscClock& clock, int echo_cpu, std::uint64_t count,
                     LatencyHistogram& histogram, Push push, Pop pop) {
  Queue there(ring_bytes / sizeof(Event));
  Queue back(ring_bytes / sizeof(Event));
  const auto ping = [&](std::uint64_t i) {
    Event sent{header_for(i), {}};
    sent.payload.sequence = i;
    while (!push(there, sent)) {
    }
    Event returned{};
    while (!pop(back, returned)) {
    }
    return returned.payload.sequence;
  };
  const auto echo_one = [&] {
    Event event{};
    while (!pop(there, event)) {
    }
    while (!push(back, event)) {
    }
  };
  ping_pong(clock, echo_cpu, count, histogram, ping, echo_one);
}

void boost_round_trip(const TscClock& clock, int echo_cpu, std::uint64_t count,
                      LatencyHistogram& histogram) {
  using Queue = boost::lockfree::spsc_queue<Event>;
  peer_round_trip<Queue>(
      clock, echo_cpu, count, histogram,
      [](Queue& queue, const Event& event) { return queue.push(event); },
      [](Queue& queue, Event& event) { return queue.pop(event); });
}

void moodycamel_round_trip(const TscClock& clock, int echo_cpu, std::uint64_t count,
                           LatencyHistogram& histogram) {
  using Queue = moodycamel::ReaderWriterQueue<Event>;
  peer_round_trip<Queue>(
      clock, echo_cpu, count, histogram,
      // try_enqueue never allocates: the queue keeps the capacity it was made with.
      [](Queue& queue, const Event& event) { return queue.try_enqueue(event); },
      [](Queue& queue, Event& event) { return queue.try_dequeue(event); });
}

// Producer on `producer_cpu` sends `count` events, event i at start + i × interval (or as fast
// as the ring takes them when `interval_ticks` is 0, stamped when sent); the consumer, here,
// records each event's latency from its send time.
OneWayRun one_way(const TscClock& clock, int producer_cpu, std::uint64_t count,
                  std::uint64_t interval_ticks, LatencyHistogram& histogram) {
  auto ring = make_ring();
  auto [producer, consumer] = ring.split();
  const std::uint64_t start = stamp() + clock.ticks(10e6);  // both sides ready by then
  OneWayRun run;
  std::uint64_t max_late_ticks = 0;  // written by the producer, read after join()
  std::thread producing([&, &producer = producer] {
    pin(producer_cpu);
    Payload payload{};
    for (std::uint64_t i = 0; i < count; ++i) {
      payload.sequence = i;
      if (interval_ticks != 0) {
        payload.send_ticks = start + i * interval_ticks;
        std::uint64_t now;
        while ((now = stamp()) < payload.send_ticks) {
        }
        max_late_ticks = std::max(max_late_ticks, now - payload.send_ticks);
      } else {
        payload.send_ticks = stamp();
      }
      while (!producer.write_event(header_for(i), bytes_of(payload))) {
      }
    }
  });
  std::uint64_t received = 0;
  std::uint64_t first = 0;
  while (received < count) {
    consumer.poll([&](const ringlog::event::EventView& view) {
      const std::uint64_t now = stamp();
      const Payload payload = payload_of(view);
      if (payload.sequence != received) {
        fmt::print(stderr, "ringlog_latency: event {} arrived as {}\n", received,
                   payload.sequence);
        std::exit(1);
      }
      if (received++ == 0) first = now;
      histogram.record(clock.to_ns(now - std::min(now, payload.send_ticks)));
    });
  }
  const double seconds = double(clock.to_ns(stamp() - first)) / 1e9;
  producing.join();
  run.events_per_second = double(count) / std::max(seconds, 1e-9);
  run.producer_max_late_ns = clock.to_ns(max_late_ticks);
  return run;
}

// The hardware's one-way floor at a fixed rate, timed the same way as one_way(): event i is one
// cache line of its own in a ring of lines, carrying its send time, published by its sequence
// number and nothing else. The producer waits for the consumer only when it would lap it.
OneWayRun raw_one_way(const TscClock& clock, int producer_cpu, std::uint64_t count,
                      std::uint64_t interval_ticks, LatencyHistogram& histogram) {
  struct alignas(64) Line {
    std::atomic<std::uint64_t> sequence{~std::uint64_t{0}};
    std::uint64_t send_ticks = 0;
  };
  constexpr std::uint64_t lines = ring_bytes / sizeof(Line);
  std::vector<Line> ring(lines);
  alignas(128) std::atomic<std::uint64_t> consumed{0};
  const std::uint64_t start = stamp() + clock.ticks(10e6);
  OneWayRun run;
  std::uint64_t max_late_ticks = 0;
  std::thread producing([&] {
    pin(producer_cpu);
    for (std::uint64_t i = 0; i < count; ++i) {
      const std::uint64_t due = start + i * interval_ticks;
      std::uint64_t now;
      while ((now = stamp()) < due) {
      }
      max_late_ticks = std::max(max_late_ticks, now - due);
      while (i - consumed.load(std::memory_order_acquire) >= lines) {
      }
      Line& line = ring[i % lines];
      line.send_ticks = due;
      line.sequence.store(i, std::memory_order_release);
    }
  });
  for (std::uint64_t i = 0; i < count; ++i) {
    const Line& line = ring[i % lines];
    while (line.sequence.load(std::memory_order_acquire) != i) {
    }
    const std::uint64_t now = stamp();
    histogram.record(clock.to_ns(now - std::min(now, line.send_ticks)));
    if (i % (lines / 2) == 0) consumed.store(i, std::memory_order_release);
  }
  producing.join();
  run.events_per_second = double(count) * 1e9 / double(clock.to_ns(count * interval_ticks));
  run.producer_max_late_ns = clock.to_ns(max_late_ticks);
  return run;
}

std::string format_row(const Scenario& scenario) {
  const LatencyHistogram& h = scenario.histogram;
  return fmt::format("{:<34} {:>9} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8}", scenario.name,
                     h.count(), h.min(), h.value_at_percentile(50), h.value_at_percentile(90),
                     h.value_at_percentile(99), h.value_at_percentile(99.9),
                     h.value_at_percentile(99.99), h.max());
}

// One JSON line per scenario, for scripts/bench-report.
void write_summary(const std::filesystem::path& path, const std::vector<Scenario>& scenarios) {
  std::ofstream out(path);
  for (const Scenario& scenario : scenarios) {
    const LatencyHistogram& h = scenario.histogram;
    out << fmt::format("{{\"slug\":\"{}\",\"name\":\"{}\",\"count\":{},\"min_ns\":{},"
                       "\"p50_ns\":{},\"p90_ns\":{},\"p99_ns\":{},\"p999_ns\":{},"
                       "\"p9999_ns\":{},\"max_ns\":{}",
                       scenario.slug, scenario.name, h.count(), h.min(),
                       h.value_at_percentile(50), h.value_at_percentile(90),
                       h.value_at_percentile(99), h.value_at_percentile(99.9),
                       h.value_at_percentile(99.99), h.max());
    if (scenario.one_way) {
      out << fmt::format(",\"events_per_second\":{:.0f},\"producer_max_late_ns\":{}",
                         scenario.one_way->events_per_second,
                         scenario.one_way->producer_max_late_ns);
    }
    out << "}\n";
  }
}

// One percentile plot of every scenario, drawn by gnuplot where it is installed.
void plot(const std::filesystem::path& dir, const std::vector<Scenario>& scenarios) {
  const std::filesystem::path script = dir / "latency.gp";
  {
    std::ofstream out(script);
    out << "set terminal pngcairo size 1200,700\nset output '" << (dir / "latency.png").string()
        << "'\nset logscale x\nset logscale y\nset grid\n"
        // Tic labels are format strings: %% is a percent sign.
        << "set xtics ('0%%' 1, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, "
           "'99.999%%' 100000)\n"
        << "set xlabel 'percentile'\nset ylabel 'latency (µs)'\nset key top left\n"
        << "set title 'ringlog latency by percentile'\nplot ";
    for (std::size_t i = 0; i < scenarios.size(); ++i) {
      out << (i == 0 ? "" : ", ") << "'" << (dir / (scenarios[i].slug + ".hgrm")).string()
          << "' skip 2 using 4:1 with lines lw 2 title '" << scenarios[i].name << "'";
    }
    out << "\n";
  }
  const std::string command = fmt::format("gnuplot '{}' 2>&1", script.string());
  if (std::system(("command -v gnuplot >/dev/null 2>&1 && " + command).c_str()) == 0) {
    fmt::print("plot: {}\n", (dir / "latency.png").string());
  } else {
    fmt::print("plot: not drawn (install gnuplot-nox); script in {}\n", script.string());
  }
}

using RoundTrip = void (*)(const TscClock&, int echo_cpu, std::uint64_t count,
                          LatencyHistogram&);

struct RoundTripKind {
  const char* name;
  const char* slug;
  const char* target;  // printed beside its ratio to the raw round trip
  RoundTrip run;
};

// The floor every queue's round trip is a ratio to, measured first in every run.
constexpr RoundTripKind raw_round_trip_kind = {"raw cache-line round trip", "raw_round_trip", "",
                                               raw_round_trip};
// The floor for an event of this size: the same cores moving 80-byte records and nothing else.
constexpr RoundTripKind raw_record_round_trip_kind = {
    "raw 80-byte record round trip", "raw_record_round_trip", "", raw_record_round_trip};
constexpr RoundTripKind queue_round_trips[] = {
    {"ringlog round trip (two rings)", "ring_round_trip", " (target <= 1.3)",
     ring_write_read_round_trip},
    {"ringlog claim/poll round trip", "ring_claim_poll_round_trip", " (target <= 1.3)",
     ring_claim_poll_round_trip},
    {"boost spsc_queue round trip", "boost_spsc_queue_round_trip", "", boost_round_trip},
    {"moodycamel queue round trip", "moodycamel_round_trip", "", moodycamel_round_trip},
};

void add_round_trip(const RoundTripKind& kind, const TscClock& clock, int echo_cpu,
                    std::uint64_t count, std::vector<Scenario>& scenarios) {
  scenarios.push_back({kind.name, kind.slug, {}, {}});
  kind.run(clock, echo_cpu, count, scenarios.back().histogram);
}

// One-way at each offered rate, beside the raw one-cache-line queue at 1M events/s; then one
// saturated run, as fast as the ring takes events.
void add_one_ways(const TscClock& clock, int producer_cpu, double seconds,
                  const std::vector<double>& rates, std::vector<Scenario>& scenarios) {
  for (const double rate : rates) {
    const auto count = static_cast<std::uint64_t>(rate * seconds);
    if (rate == 1e6) {
      scenarios.push_back({"raw one-way at 1M events/s", "raw_one_way_1000000", {}, {}});
      scenarios.back().one_way = raw_one_way(clock, producer_cpu, count,
                                             clock.ticks(1e9 / rate), scenarios.back().histogram);
    }
    const std::string rate_text = rate >= 1e6 ? fmt::format("{:g}M", rate / 1e6)
                                                : fmt::format("{:g}k", rate / 1e3);
    scenarios.push_back({fmt::format("one-way at {} events/s", rate_text),
                         fmt::format("one_way_{:.0f}", rate), {}, {}});
    scenarios.back().one_way =
        one_way(clock, producer_cpu, count, clock.ticks(1e9 / rate), scenarios.back().histogram);
  }
  const auto saturation_count = static_cast<std::uint64_t>(20'000'000 * seconds);
  scenarios.push_back({"one-way, saturated", "one_way_saturated", {}, {}});
  scenarios.back().one_way =
      one_way(clock, producer_cpu, saturation_count, 0, scenarios.back().histogram);
}

void print_table(const std::vector<Scenario>& scenarios) {
  fmt::print("{:<34} {:>9} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8}\n", "scenario", "count",
             "min", "p50", "p90", "p99", "p99.9", "p99.99", "max");
  for (const Scenario& scenario : scenarios) {
    fmt::print("{}", format_row(scenario));
    if (const auto& run = scenario.one_way) {
      fmt::print("  {:.2f} M/s received", run->events_per_second / 1e6);
      if (run->producer_max_late_ns > 0) {
        fmt::print(", sender up to {:.0f} µs late", double(run->producer_max_late_ns) / 1e3);
      }
    }
    fmt::print("\n");
  }
}

const Scenario* find_scenario(const std::vector<Scenario>& scenarios, std::string_view slug) {
  for (const Scenario& scenario : scenarios) {
    if (scenario.slug == slug) return &scenario;
  }
  return nullptr;
}

double percentile_of(const Scenario& scenario, double percentile) {
  return double(scenario.histogram.value_at_percentile(percentile));
}

// Every figure against the hardware's own, measured in the same run on the same cores.
void print_ratios(const std::vector<Scenario>& scenarios) {
  const Scenario* raw = find_scenario(scenarios, raw_round_trip_kind.slug);
  const Scenario* raw_records = find_scenario(scenarios, raw_record_round_trip_kind.slug);
  const double raw_p50 = percentile_of(*raw, 50);
  const double raw_records_p50 = percentile_of(*raw_records, 50);
  fmt::print("\nround trip p50 / raw cache-line round trip p50 ({:.0f} ns), and / raw 80-byte "
             "record round trip p50 ({:.0f} ns), same run:\n",
             raw_p50, raw_records_p50);
  for (const RoundTripKind& kind : queue_round_trips) {
    if (const Scenario* queue = find_scenario(scenarios, kind.slug)) {
      fmt::print("  {:<34} {:.2f}x{}  {:.2f}x\n", kind.name, percentile_of(*queue, 50) / raw_p50,
                 kind.target, percentile_of(*queue, 50) / raw_records_p50);
    }
  }
  const Scenario* ring = find_scenario(scenarios, "one_way_1000000");
  const Scenario* raw_one_way = find_scenario(scenarios, "raw_one_way_1000000");
  if (ring && raw_one_way) {
    fmt::print("one-way at 1M events/s, ringlog / raw cache line: p50 {:.2f}x, p99 {:.2f}x "
               "(target <= 2); p99 / half the raw round trip: {:.2f}x\n",
               percentile_of(*ring, 50) / percentile_of(*raw_one_way, 50),
               percentile_of(*ring, 99) / percentile_of(*raw_one_way, 99),
               percentile_of(*ring, 99) / (raw_p50 / 2));
  }
}

// The .hgrm files, the JSON summary and the plot; false when a file cannot be written.
bool write_results(const std::filesystem::path& out_dir, const std::vector<Scenario>& scenarios) {
  std::filesystem::create_directories(out_dir);
  for (const Scenario& scenario : scenarios) {
    std::FILE* file = std::fopen((out_dir / (scenario.slug + ".hgrm")).c_str(), "w");
    if (file == nullptr) {
      fmt::print(stderr, "ringlog_latency: cannot write {}: {}\n", out_dir.string(),
                 std::strerror(errno));
      return false;
    }
    scenario.histogram.write_hgrm(file, 1000.0);  // microseconds, as HdrHistogram plots
    std::fclose(file);
  }
  write_summary(out_dir / "latency.jsonl", scenarios);
  plot(out_dir, scenarios);
  return true;
}

// The pair of CPUs ringlog itself would choose, isolated ones first.
std::vector<int> chosen_cpus() {
  auto machine = ringlog::topology::Topology::discover();
  auto pair = machine ? machine->choose_pair({ringlog::topology::isolated_cpus(), -1})
                      : std::expected<ringlog::topology::CorePair, ringlog::Error>(
                            std::unexpected(machine.error()));
  if (!pair) {
    fmt::print(stderr, "ringlog_latency: {}\n", pair.error().message());
    std::exit(2);
  }
  return {pair->producer_cpu, pair->consumer_cpu};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> cpus;
  double seconds = 2;
  std::vector<double> rates = {100'000, 1'000'000, 10'000'000};
  std::uint64_t round_trips = 1'000'000;
  std::filesystem::path out_dir;
  CLI::App app{"ringlog_latency: one-way and round-trip latency through the ring and its peers "
               "beside the raw cache-line round trip of the same two cores"};
  app.add_option("--cpus", cpus, "producer,consumer CPUs (default: the pair ringlog chooses)")
      ->delimiter(',')->expected(2);
  app.add_option("--seconds", seconds, "length of each one-way run")->capture_default_str();
  app.add_option("--rates", rates, "offered rates of the one-way runs, events/s")
      ->delimiter(',')->capture_default_str();
  app.add_option("--round-trips", round_trips, "round trips per ping-pong")
      ->capture_default_str();
  app.add_option("--out", out_dir, "directory for the .hgrm files and the plot");
  CLI11_PARSE(app, argc, argv);

  if (cpus.empty()) cpus = chosen_cpus();
  const int producer_cpu = cpus[0];
  const int consumer_cpu = cpus[1];
  pin(consumer_cpu);  // this thread consumes, and starts each round trip
  const TscClock clock = TscClock::calibrate();
  fmt::print("TSC: {:.3f} GHz against CLOCK_MONOTONIC_RAW; a stamp (rdtscp) costs {:.1f} ns and "
             "is included in every figure\n", clock.ticks_per_ns, clock.stamp_cost_ns);
  fmt::print("producer CPU {}, consumer CPU {}; 80-byte events; latencies in ns\n\n",
             producer_cpu, consumer_cpu);

  std::vector<Scenario> scenarios;
  add_round_trip(raw_round_trip_kind, clock, producer_cpu, round_trips, scenarios);
  add_round_trip(raw_record_round_trip_kind, clock, producer_cpu, round_trips, scenarios);
  for (const RoundTripKind& kind : queue_round_trips) {
    add_round_trip(kind, clock, producer_cpu, round_trips, scenarios);
  }
  add_one_ways(clock, producer_cpu, seconds, rates, scenarios);
  print_table(scenarios);
  print_ratios(scenarios);
  if (!out_dir.empty() && !write_results(out_dir, scenarios)) return 2;
  return 0;
}
