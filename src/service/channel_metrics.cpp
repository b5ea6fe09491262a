#include "service/channel_metrics.hpp"

#include <limits>

namespace ringlog::service {

std::uint64_t DurationCounts::bound_at(double quantile) const noexcept {
  if (count == 0) return 0;
  const double wanted = std::clamp(quantile, 0.0, 1.0) * double(count);
  std::uint64_t seen = 0;
  for (std::size_t bucket = 0; bucket < latency_bounds_ns.size(); ++bucket) {
    seen += per_bucket[bucket];
    if (double(seen) >= wanted) return latency_bounds_ns[bucket];
  }
  return std::numeric_limits<std::uint64_t>::max();
}

DurationCounts DurationHistogram::counts() const noexcept {
  DurationCounts counts;
  for (std::size_t bucket = 0; bucket < per_bucket_.size(); ++bucket) {
    counts.per_bucket[bucket] = per_bucket_[bucket].load(std::memory_order_relaxed);
    counts.count += counts.per_bucket[bucket];
  }
  // Summed from the buckets rather than read from count_, so that a scrape racing the writer
  // never shows a count its buckets do not add up to (Prometheus checks +Inf == _count).
  counts.sum_ns = sum_ns_.load(std::memory_order_relaxed);
  return counts;
}

}  // namespace ringlog::service
