// The benchmarks' latency histogram against exact percentiles of the same values, and its
// .hgrm output.
#include "support/latency_histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using ringlog::detail::LatencyHistogram;

TEST(latency_histogram, small_values_are_exact) {
  LatencyHistogram histogram;
  for (std::uint64_t value = 1; value <= 1000; ++value) histogram.record(value);
  EXPECT_EQ(histogram.count(), 1000u);
  EXPECT_EQ(histogram.min(), 1u);
  EXPECT_EQ(histogram.max(), 1000u);
  EXPECT_EQ(histogram.value_at_percentile(50), 500u);
  EXPECT_EQ(histogram.value_at_percentile(99.9), 999u);
  EXPECT_EQ(histogram.value_at_percentile(100), 1000u);
  EXPECT_DOUBLE_EQ(histogram.mean(), 500.5);
}

// Three significant digits: a percentile is never below the exact one, and at most one part in
// 1024 above it.
TEST(latency_histogram, percentiles_hold_three_significant_digits) {
  std::mt19937_64 random(7);
  std::lognormal_distribution<double> latency(std::log(2000.0), 1.5);  // ns, a long tail
  LatencyHistogram histogram;
  std::vector<std::uint64_t> values;
  for (int i = 0; i < 200'000; ++i) {
    const auto value = static_cast<std::uint64_t>(latency(random)) + 1;
    values.push_back(value);
    histogram.record(value);
  }
  std::sort(values.begin(), values.end());
  for (const double percentile : {0.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    const std::size_t rank = std::max<std::size_t>(
        1, static_cast<std::size_t>(std::ceil(percentile / 100 * double(values.size()) - 1e-9)));
    const std::uint64_t exact = values[rank - 1];
    const std::uint64_t reported = histogram.value_at_percentile(percentile);
    EXPECT_GE(reported, exact) << "p" << percentile;
    EXPECT_LE(double(reported), double(exact) * (1 + 1.0 / 1024) + 1) << "p" << percentile;
  }
  EXPECT_EQ(histogram.max(), values.back());
  EXPECT_EQ(histogram.min(), values.front());
}

TEST(latency_histogram, writes_hdrhistogram_percentile_distributions) {
  LatencyHistogram histogram;
  for (std::uint64_t value = 1000; value < 101'000; value += 10) histogram.record(value);
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  histogram.write_hgrm(file, 1000.0);
  std::rewind(file);
  std::string text;
  for (int c; (c = std::fgetc(file)) != EOF;) text += static_cast<char>(c);
  std::fclose(file);

  std::istringstream lines(text);
  std::string line;
  std::getline(lines, line);
  EXPECT_NE(line.find("Percentile"), std::string::npos);
  double last_value = 0, last_percentile = -1;
  std::uint64_t last_count = 0;
  int rows = 0;
  while (std::getline(lines, line) && !line.starts_with("#")) {
    if (line.empty()) continue;
    double value = 0, percentile = 0;
    unsigned long long count = 0;
    ASSERT_EQ(std::sscanf(line.c_str(), "%lf %lf %llu", &value, &percentile, &count), 3) << line;
    EXPECT_GE(value, last_value) << line;
    EXPECT_GT(percentile, last_percentile) << line;
    EXPECT_GE(count, last_count) << line;
    last_value = value, last_percentile = percentile, last_count = count;
    ++rows;
  }
  EXPECT_GT(rows, 40);  // five steps per halving, down to the last few values
  EXPECT_DOUBLE_EQ(last_percentile, 1.0);
  EXPECT_EQ(last_count, histogram.count());
  EXPECT_NEAR(last_value, 100.99, 0.001);  // the maximum, in microseconds
  EXPECT_NE(text.find("#[Max     =      100.990, Total count    =        10000]"),
            std::string::npos) << text;
}
