// The placement plan: which CPUs the spinning threads get, and which are left to housekeeping
// (the flusher, the segment housekeeper, io_uring's workers, the shipper). Every program asks
// here, so the demo, stress, doctor, ship and the service choose alike: a pair chosen near the
// journal's storage, every other CPU for background work.
#pragma once

#include <ringlog/topology.hpp>

#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ringlog::placement {

// Which of this process's threads spin on a core of their own.
enum class Spinners {
  producer_and_consumer,  // both ends of a ring run here: the demo, stress, doctor, ship
  consumer_only,          // the service: its producers are other processes, placed by their owners
};

struct PlanRequest {
  // The CPUs asked for: {producer, consumer}, or {consumer} with consumer_only; each must be
  // one this process may use. Empty: the topology's choice.
  std::vector<int> asked;
  std::filesystem::path journal_dir;  // the pair is chosen on the NUMA node nearest its storage
  Spinners spinners = Spinners::producer_and_consumer;
};

struct Plan {
  // The spinning CPUs; none where this process may use only one CPU. With consumer_only,
  // producer_cpu is the one a publisher would best use, or -1 where the consumer's was asked.
  std::optional<topology::CorePair> pair;
  // Every other CPU this process may use, the producer's left out with consumer_only too: a
  // publisher is told to use it. Empty where none is left (background work shares the pair's).
  std::vector<int> housekeeping_cpus;

  // One line for a banner or a status: the pair, why, and where background work runs.
  std::string describe() const;
};

std::expected<Plan, Error> plan(const PlanRequest& request);

// The same choice on a machine described by `machine`, for tests with an hwloc XML topology.
std::expected<Plan, Error> plan_on(const topology::Topology& machine,
                                         const PlanRequest& request);

}  // namespace ringlog::placement
