// Without a subcommand, `ringlog` runs its demo: synthetic market data through the ring and the
// dispatcher into a journal in one process, with a live status line, then a replay that checks
// every event.
#pragma once

#include "programs/stress/pipeline.hpp"

#include <CLI/CLI.hpp>

#include <optional>

namespace ringlog::programs {

class DemoCommand {
 public:
  explicit DemoCommand(CLI::App& app);  // its options are the program's own
  DemoCommand(const DemoCommand&) = delete;  // the command line points into it

  // 0 when every event written was persisted and verified, 1 when not, 2 when it cannot start.
  int run();

 private:
  PipelineOptions options_;
  double duration_s_ = 10;
};

}  // namespace ringlog::programs
