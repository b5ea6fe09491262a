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

namespace ringlog::app {

// Upper bounds of the journaled → durable histogram's buckets, in nanoseconds, as Prometheus
// histograms take them (cumulative counts at each bound, then +Inf): from well under a fast
// NVMe fdatasync to a disk that has stalled for seconds.
inline constexpr std::array<std::uint64_t, 14> durable_latency_bounds_ns = {
    100'000,    250'000,    500'000,     1'000'000,   2'500'000,   5'000'000,   10'000'000,
    25'000'000, 50'000'000, 100'000'000, 250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000};

// A histogram's figures at one moment: counts per bucket (not cumulative; the last one is
// above every bound), their number and their sum.
struct DurationCounts {
  std::array<std::uint64_t, durable_latency_bounds_ns.size() + 1> per_bucket{};
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
    while (bucket < durable_latency_bounds_ns.size() && ns > durable_latency_bounds_ns[bucket]) {
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

  std::array<std::atomic<std::uint64_t>, durable_latency_bounds_ns.size() + 1> per_bucket_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

struct ChannelMetrics {
  explicit ChannelMetrics(std::string channel_name) : name(std::move(channel_name)) {}

  void add_journaled(std::uint64_t events) noexcept {
    journaled.store(journaled.load(std::memory_order_relaxed) + events,
                    std::memory_order_relaxed);
  }
  void add_durable(std::uint64_t events) noexcept {
    durable.store(durable.load(std::memory_order_relaxed) + events, std::memory_order_relaxed);
  }

  const std::string name;
  std::atomic<std::uint64_t> journaled{0};  // events drained into the journal, since the start
  std::atomic<std::uint64_t> durable{0};    // of those, durable
  // From the drain that journaled a batch of a publisher's events to the flush that made it
  // durable: one observation per drained batch.
  DurationHistogram journaled_to_durable;
};

}  // namespace ringlog::app
