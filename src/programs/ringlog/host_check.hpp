// `ringlog doctor`: audits a host for running a producer/consumer core pair and a journal at
// production latency. Each item reads what the kernel exposes under /proc and /sys and gives a
// verdict with the fix:
//   PASS  as it should be;
//   WARN  works, at a cost in latency or headroom, or cannot be told from here;
//   FAIL  unfit for production: spikes of many microseconds on the hot cores, or a journal
//         that is not durable.
#pragma once

#include <ringlog/ring.hpp>

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace ringlog::programs {

enum class Verdict { pass, warn, fail };

struct CheckItem {
  std::string name;   // short and stable, for scripts: "isolation", "governor", ...
  Verdict verdict = Verdict::pass;
  std::string found;  // what the host has
  std::string fix;    // what to change; empty for PASS
};

struct HostCheckOptions {
  int producer_cpu = -1;
  int consumer_cpu = -1;
  std::filesystem::path journal_dir;
  std::size_t ring_bytes = ring::default_capacity_bytes;
  // Where /proc and /sys are read: "/" for this host, or a copy of another host's files. The
  // checks that ask the kernel directly (io_uring, RLIMIT_MEMLOCK, the journal's device) are
  // about this host, and are only made when root is "/".
  std::filesystem::path root = "/";
};

struct HostReport {
  HostCheckOptions checked;
  std::vector<CheckItem> items;

  std::size_t count(Verdict) const;
  bool fit_for_production() const { return count(Verdict::fail) == 0; }
};

HostReport check_host(const HostCheckOptions&);

// One line per item, the fix under it, and the verdict at the end.
void print_host_report(const HostReport&, std::FILE* out);
// The same as one JSON object.
void print_host_report_json(const HostReport&, std::FILE* out);

}  // namespace ringlog::programs
