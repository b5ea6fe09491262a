// `ringlog publish`: attaches to a running `ringlog serve` and writes synthetic market data,
// each event paced from its intended send time, then waits until all of it is durable.
#pragma once

#include <ringlog/publisher.hpp>

#include <cstdint>

#include <CLI/CLI.hpp>

#include <optional>

namespace ringlog::programs {

struct PublishOptions {
  service::AttachOptions attach;
  std::uint64_t count = 1'000'000;
  double rate = 1'000'000;  // events/s; 0: as fast as the ring takes them
  // The CPU the writing thread is pinned to: the service's publisher_cpu (its status says
  // which) unless given; -1 leaves it unpinned.
  static constexpr int service_cpu = -2;
  int cpu = service_cpu;
};

class PublishCommand {
 public:
  explicit PublishCommand(CLI::App& app);
  PublishCommand(const PublishCommand&) = delete;  // the command line points into it

  // 0 when every event is durable, 1 when the service went away for good, 2 when it could not
  // attach; nothing when another subcommand was given.
  std::optional<int> run() const;

 private:
  CLI::App* publish_;
  PublishOptions options_;
};

}  // namespace ringlog::programs
