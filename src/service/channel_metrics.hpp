// What the service counts per channel, across every publisher that ever attached to it: a
// publisher that restarts attaches again, and Prometheus must see one series per channel that
// keeps counting, not a new series (and a counter starting again from zero) per process.
//
// The drain thread is the only writer; status readers on other threads load the figures, so
// each is an atomic written with a plain relaxed store (one writer needs no read-modify-write).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace ringlog::service {

// Upper bounds of the latency histograms' buckets, in nanoseconds, as Prometheus histograms
// take them (cumulative counts at each bound, then +Inf): from a ring hand-over of a
// microsecond to a disk that has stalled for seconds.
inline constexpr std::array<std::uint64_t, 20> latency_bounds_ns = {
    1'000,       2'500,       5'000,       10'000,      25'000,        50'000,      100'000,
    250'000,     500'000,     1'000'000,   2'500'000,   5'000'000,     10'000'000,  25'000'000,
    50'000'000,  100'000'000, 250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000};

// A histogram's figures at one moment: counts per bucket (not cumulative; the last one is
// above every bound), their number and their sum.
struct DurationCounts {
  std::array<std::uint64_t, latency_bounds_ns.size() + 1> per_bucket{};
  std::uint64_t count = 0;
  std::uint64_t sum_ns = 0;

  // The bucket bound at or below which `quantile` (0 to 1) of the observations lie: an upper
  // bound on that percentile, as Prometheus' histogram_quantile would place it; 0 when empty,
  // UINT64_MAX when it lies above the last bound.
  std::uint64_t bound_at(double quantile) const noexcept;
};

// One writer's histogram, readable from any thread.
class DurationHistogram {
 public:
  void observe(std::chrono::nanoseconds duration) noexcept {
    const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(duration.count(), 0));
    std::size_t bucket = 0;
    while (bucket < latency_bounds_ns.size() && ns > latency_bounds_ns[bucket]) {
      ++bucket;
    }
    bump(per_bucket_[bucket], 1);
    bump(sum_ns_, ns);
  }
  DurationCounts counts() const noexcept;

 private:
  static void bump(std::atomic<std::uint64_t>& value, std::uint64_t by) noexcept {
    value.store(value.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }

  std::array<std::atomic<std::uint64_t>, latency_bounds_ns.size() + 1> per_bucket_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

// The stages a sampled event is timed through, each from the end of the one before.
enum class Stage : std::uint8_t {
  commit_to_journaled,   // the publisher committed it; the service's consumer copied it
  journaled_to_durable,  // a flush covered it
  durable_to_shipped,    // the stream acknowledged it (when shipping)
};
inline constexpr std::size_t stage_count = 3;
inline constexpr std::array<std::string_view, stage_count> stage_names = {
    "commit_to_journaled", "journaled_to_durable", "durable_to_shipped"};

// What a channel's publishers did with a full ring, over every attachment (see
// ring::OverflowCounts).
struct OverflowFigures {
  std::uint64_t waits = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t failed = 0;
  std::uint64_t dropped = 0;
};

struct ChannelMetrics {
  ChannelMetrics(std::string channel_name, std::string_view policy)
      : name(std::move(channel_name)), overflow_policy(policy) {}

  void add_journaled(std::uint64_t events) noexcept {
    journaled.store(journaled.load(std::memory_order_relaxed) + events,
                    std::memory_order_relaxed);
  }
  void add_durable(std::uint64_t events) noexcept {
    durable.store(durable.load(std::memory_order_relaxed) + events, std::memory_order_relaxed);
  }

  // What the rings' overflow counts rose by since they were last looked at.
  void add_overflow(const OverflowFigures& more) noexcept {
    for (auto [count, by] : {std::pair{&waits, more.waits}, {&timeouts, more.timeouts},
                             {&failed, more.failed}, {&dropped, more.dropped}}) {
      count->store(count->load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
    }
  }
  void add_violation() noexcept {
    violations.store(violations.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  OverflowFigures overflow() const noexcept {
    return {waits.load(std::memory_order_relaxed), timeouts.load(std::memory_order_relaxed),
            failed.load(std::memory_order_relaxed), dropped.load(std::memory_order_relaxed)};
  }

  const std::string name;
  const std::string_view overflow_policy;  // its publishers' (service::to_string)
  std::atomic<std::uint64_t> journaled{0};  // events drained into the journal, since the start
  std::atomic<std::uint64_t> durable{0};    // of those, durable
  // Publishers detached for breaking their rings' protocol (drain thread writes).
  std::atomic<std::uint64_t> violations{0};
  // From the drain that journaled a batch of a publisher's events to the flush that made it
  // durable: one observation per drained batch.
  DurationHistogram journaled_to_durable;
  // The sampled events' stages (Stage), from their publishers' TSC stamps.
  std::array<DurationHistogram, stage_count> stages;

 private:
  std::atomic<std::uint64_t> waits{0}, timeouts{0}, failed{0}, dropped{0};
};

}  // namespace ringlog::service
