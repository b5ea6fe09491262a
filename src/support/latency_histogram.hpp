// A latency histogram in the manner of HdrHistogram, for the benchmarks and the programs: log-linear buckets with three significant
// digits (each power-of-two range split into 1024 equal steps), all preallocated, so recording
// is an add to an array slot: no allocation, no branch on the hot path beyond a clamp.
// Percentiles report the highest value equivalent to the bucket they fall in, as HdrHistogram
// does, and the percentile distribution can be written in HdrHistogram's .hgrm text format for
// its plotter (or gnuplot).
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <vector>

namespace ringlog::detail {

class LatencyHistogram {
 public:
  // Values up to 2^max_bits - 1 (in whatever unit the caller records; the runners use ns).
  static constexpr int sub_bucket_bits = 11;  // 2048 values below 2^11 exact, then 1024 steps
  static constexpr int max_bits = 44;         // about 4.9 hours in nanoseconds

  LatencyHistogram() : counts_(bucket_count(), 0) {}

  void record(std::uint64_t value) noexcept {
    value = std::min(value, max_value());
    ++counts_[index_of(value)];
    ++total_;
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
    sum_ += static_cast<double>(value);
    sum_of_squares_ += static_cast<double>(value) * static_cast<double>(value);
  }

  void reset() noexcept {
    std::fill(counts_.begin(), counts_.end(), 0);
    total_ = 0;
    min_ = max_value();
    max_ = 0;
    sum_ = sum_of_squares_ = 0;
  }

  std::uint64_t count() const noexcept { return total_; }
  std::uint64_t min() const noexcept { return total_ == 0 ? 0 : min_; }
  std::uint64_t max() const noexcept { return max_; }
  double mean() const noexcept { return total_ == 0 ? 0 : sum_ / double(total_); }
  double stddev() const noexcept {
    if (total_ == 0) return 0;
    const double m = mean();
    return std::sqrt(std::max(0.0, sum_of_squares_ / double(total_) - m * m));
  }

  // The value at or below which `percentile` percent of the recorded values lie (0 to 100).
  std::uint64_t value_at_percentile(double percentile) const noexcept {
    if (total_ == 0) return 0;
    const double fraction = std::clamp(percentile, 0.0, 100.0) / 100.0;
    // The rank of the value: ceil(fraction * count), less a rounding error's worth so that
    // 99.9% of 1000 values is the 999th, not the 1000th.
    const auto wanted = std::max<std::uint64_t>(
        1, static_cast<std::uint64_t>(std::ceil(fraction * double(total_) - 1e-9)));
    std::uint64_t seen = 0;
    for (std::size_t index = 0; index < counts_.size(); ++index) {
      seen += counts_[index];
      if (seen >= wanted) return std::min(highest_equivalent(index), max_);
    }
    return max_;
  }

  // HdrHistogram's percentile distribution: five reporting steps per halving of the distance to
  // 100%, values divided by `unit_ratio` (1000: ns recorded, µs reported).
  void write_hgrm(std::FILE* out, double unit_ratio) const {
    std::fprintf(out, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
                 "1/(1-Percentile)");
    double percentile = 0;
    for (;;) {
      const std::uint64_t value = value_at_percentile(percentile);
      const std::uint64_t at_or_below = count_at_or_below(value);
      const double fraction = percentile / 100;
      if (percentile >= 100 || at_or_below == total_) {
        std::fprintf(out, "%12.3f %14.12f %10llu\n", double(max_) / unit_ratio, 1.0,
                     static_cast<unsigned long long>(total_));
        break;
      }
      std::fprintf(out, "%12.3f %14.12f %10llu %14.2f\n", double(value) / unit_ratio, fraction,
                   static_cast<unsigned long long>(at_or_below), 1 / (1 - fraction));
      const int halvings = static_cast<int>(std::floor(std::log2(100 / (100 - percentile))));
      percentile += 100 / (5 * std::ldexp(1.0, halvings + 1));
    }
    std::fprintf(out, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", mean() / unit_ratio,
                 stddev() / unit_ratio);
    std::fprintf(out, "#[Max     = %12.3f, Total count    = %12llu]\n",
                 double(max_) / unit_ratio, static_cast<unsigned long long>(total_));
    std::fprintf(out, "#[Buckets = %12d, SubBuckets     = %12d]\n", max_bits - sub_bucket_bits + 1,
                 1 << sub_bucket_bits);
  }

 private:
  static constexpr std::uint64_t max_value() { return (std::uint64_t{1} << max_bits) - 1; }
  static constexpr std::size_t half = std::size_t{1} << (sub_bucket_bits - 1);
  static constexpr std::size_t bucket_count() {
    return (std::size_t{1} << sub_bucket_bits) + (max_bits - sub_bucket_bits) * half;
  }

  // Values below 2^sub_bucket_bits have a slot each; above, each power-of-two range
  // [2^k, 2^(k+1)) has `half` slots of width 2^(k - sub_bucket_bits + 1).
  static std::size_t index_of(std::uint64_t value) noexcept {
    if (value < (std::uint64_t{1} << sub_bucket_bits)) return static_cast<std::size_t>(value);
    const int shift = std::bit_width(value) - sub_bucket_bits;  // >= 1
    const std::size_t step = static_cast<std::size_t>(value >> shift) - half;  // 0 .. half-1
    return (std::size_t{1} << sub_bucket_bits) + static_cast<std::size_t>(shift - 1) * half + step;
  }
  static std::uint64_t highest_equivalent(std::size_t index) noexcept {
    if (index < (std::size_t{1} << sub_bucket_bits)) return index;
    const std::size_t above = index - (std::size_t{1} << sub_bucket_bits);
    const int shift = static_cast<int>(above / half) + 1;
    const std::uint64_t lowest = static_cast<std::uint64_t>(half + above % half) << shift;
    return lowest + (std::uint64_t{1} << shift) - 1;
  }
  std::uint64_t count_at_or_below(std::uint64_t value) const noexcept {
    std::uint64_t seen = 0;
    const std::size_t last = index_of(std::min(value, max_value()));
    for (std::size_t index = 0; index <= last; ++index) seen += counts_[index];
    return seen;
  }

  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  std::uint64_t min_ = max_value();
  std::uint64_t max_ = 0;
  double sum_ = 0;
  double sum_of_squares_ = 0;
};

}  // namespace ringlog::detail
