// The producer → ring → dispatcher → journal pipeline that the ringlog demo and the stress
// program run: a producer thread writes generated events, a consumer thread drains them through
// the dispatcher into the journal (runs of records, one copy each) and a counting consumer, and
// the calling thread reports.
#pragma once

#include <ringlog/journal.hpp>
#include <ringlog/ring.hpp>
#include <ringlog/topology.hpp>

#include <chrono>
#include <expected>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ringlog::programs {

// A deterministic event generator: event `sequence` is a pure function of it, so that a replay
// can regenerate every event and compare it byte for byte.
struct EventSource {
  std::uint16_t payload_len;  // at least 8: the payload starts with the sequence number
  std::uint8_t (*event_type)(std::uint64_t sequence) noexcept;
  void (*fill)(std::uint64_t sequence, std::span<std::byte> payload) noexcept;
  // Wall-clock nanoseconds as the timestamp, or the sequence number where reading the clock
  // (about 30 ns on a VM) would cost more than the write being measured.
  bool wall_clock_timestamps;
};

struct PipelineOptions {
  std::filesystem::path journal_dir;  // an existing journal is continued
  std::size_t ring_bytes = ring::default_capacity_bytes;
  ring::MemoryOptions ring_memory{};  // numa_node -1: the pair's node
  journal::JournalOptions journal;
  // How long the producer writes: `event_count` events where not 0 (what a test or a smoke
  // run relies on: hosts differ in speed, counts do not), else for `duration`. Either way a
  // SIGINT or SIGTERM stops it early.
  std::chrono::duration<double> duration{10.0};
  std::uint64_t event_count = 0;
  double events_per_second = 0;  // 0: as fast as the ring takes them
  bool show_status = true;       // a status line every second on stdout
  // The CPUs the producer and the consumer run on; empty: the topology's choice (unpinned
  // where the process may use only one CPU).
  std::vector<int> cpus;
  // Where the journal's background work runs on a host with no CPU besides the pair: on both
  // (false), or split for throughput (true): the segment housekeeper on the producer's CPU,
  // which yields it while the ring is full, and the flushes on the consumer's, which rests
  // while one runs and the ring is empty.
  bool split_background_across_pair = false;
};

// What one thread cost, from getrusage(RUSAGE_THREAD).
struct ThreadUsage {
  std::int64_t page_faults = 0;  // minor and major
  double user_seconds = 0;
  double system_seconds = 0;  // in the kernel: page faults and population, system calls
};

// The host's page-cache writeback during the run, from /proc/vmstat and /proc/meminfo, to tell
// whether dirty-page throttling or the disk held the run back.
struct WritebackFigures {
  double written_back_mb = 0;   // pages the kernel wrote back, for every file (nr_written)
  double peak_dirty_mb = 0;     // Dirty + Writeback, sampled once a second
  double dirty_limit_mb = 0;    // where the kernel starts throttling writers (vm.dirty_*)
};

struct PipelineReport {
  std::uint64_t written = 0;         // accepted by the ring
  std::uint64_t journaled = 0;       // accepted by the journal consumer
  std::uint64_t counted = 0;         // seen by the counting consumer
  std::uint64_t failed = 0;          // deliveries a consumer refused
  std::uint64_t persisted = 0;       // found intact, in order and byte-exact by the replay
  std::uint64_t mismatched = 0;      // replayed events that differ from what was written
  std::uint64_t ring_full_waits = 0; // writes that found the ring full and waited (back-pressure)
  ThreadUsage producer;              // while writing
  ThreadUsage consumer;              // while draining, preparing pages ahead included
  WritebackFigures writeback;
  std::uint64_t first_sequence = 0;  // the journal's sequence number of this run's first event
  std::uint64_t durable = 0;         // events of this run the journal reports durable
  std::size_t segments = 0;          // segment files in the journal
  std::string flush_backend;
  std::string placement;             // where the producer and consumer ran, one line
  double seconds = 0;                // from the first write to the last event drained
  bool interrupted = false;          // stopped by SIGINT or SIGTERM
  std::optional<std::string> error;  // the journal failed during the run

  std::uint64_t lost() const noexcept { return written - persisted; }
};

// A set-up failure (the ring, the journal directory) is the error; everything after is reported.
std::expected<PipelineReport, std::string> run_pipeline(const PipelineOptions&,
                                                         const EventSource&);

// The report as the programs print it.
void print_report(const PipelineReport&, std::size_t record_bytes);
// Every written event persisted and verified, nothing refused, no error.
bool succeeded(const PipelineReport&);

}  // namespace ringlog::programs
