// The command-line options the ringlog demo and stress share: where the pipeline runs and what
// its ring and journal are made of.
#pragma once

#include "programs/stress/pipeline.hpp"

#include <CLI/CLI.hpp>

#include <map>
#include <optional>
#include <string>

namespace ringlog::programs {

inline void add_pipeline_options(CLI::App& app, PipelineOptions& options) {
  using HugePages = ring::MemoryOptions::HugePages;
  app.add_option("--cpus", options.cpus, "the producer's and the consumer's CPU, e.g. 2,3 "
                 "(default: two physical cores sharing a NUMA node and an L3 cache, isolated "
                 "ones first, near the journal's disk)")->delimiter(',')->expected(2);
  app.add_option("--ring-bytes", options.ring_bytes, "ring capacity (a power of two)")
      ->capture_default_str();
  const std::map<std::string, HugePages> kinds = {
      {"try", HugePages::Try}, {"always", HugePages::Always}, {"never", HugePages::Never}};
  app.add_option("--huge-pages", options.ring_memory.huge_pages,
                 "the ring's pages: try (explicit hugepages where reserved, else transparent "
                 "ones, else normal pages), always (explicit or refuse to start), never")
      ->transform(CLI::CheckedTransformer(kinds, CLI::ignore_case))
      ->default_str("try");
  app.add_flag("--lock-ring", options.ring_memory.lock, "mlock the ring's memory");
  app.add_option("--segment-bytes", options.journal.segment_bytes,
                 "size of each preallocated journal segment")->capture_default_str();
}

// Parses the command line; the exit status when the program is to stop there: 0 after --help,
// 2 for a command line that does not parse (the status every command gives for "could not
// start", rather than CLI11's own numbers).
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

}  // namespace ringlog::programs
