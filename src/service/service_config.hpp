// The ringlog service's configuration: a TOML file (tuning/ringlog.toml documents every key),
// every key optional, so that the service runs with no file at all.
//
// A file is read strictly: a syntax error, an unknown key (a typo would otherwise be ignored
// silently), a value of the wrong type or out of range each stop the load with an error that
// names the file, the line and the key.
#pragma once

#include "ship/shipper.hpp"

#include <ringlog/journal.hpp>
#include <ringlog/publisher.hpp>
#include <ringlog/ring.hpp>

#include <chrono>
#include <cstddef>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ringlog::service {

// A named stream publishers attach to, each with a ring of its own.
struct ChannelConfig {
  std::string name;
  std::size_t ring_bytes = 0;  // 0: the [rings] default
  // What its publishers do with a full ring (Publisher::write_event), and block's deadline.
  service::OverflowPolicy overflow = service::OverflowPolicy::block;
  std::chrono::microseconds block_timeout{100'000};
};

struct ServiceConfig {
  // [service]
  std::string name = "ringlog";                 // publishers attach by this name
  std::filesystem::path runtime_dir = "/dev/shm/ringlog";  // control socket and rings
  std::string group;                            // given access (mode 0660); empty: owner only
  // Publishers stamp one event in this many (Publisher::write_event) for the stage timings in
  // the status; 0: none.
  std::uint64_t latency_sample_every = 1024;
  // [journal] and [journal.flush]
  std::filesystem::path journal_dir = "ringlog-journal";
  // The payload schema (src/schema/) the service puts into the journal as schema.toml, for the
  // tools and the Python reader; empty: none (a schema.toml already there stays).
  std::filesystem::path journal_schema;
  journal::JournalOptions journal{};
  // [placement]
  int consumer_cpu = -1;                        // -1: the topology's choice
  std::vector<int> housekeeping_cpus;           // empty: every CPU but the consumer's
  // [rings]
  std::size_t ring_bytes = ring::default_capacity_bytes;
  ring::MemoryOptions ring_memory{};
  // [[channels]]
  std::vector<ChannelConfig> channels = {{"default", 0}};
  // [ship]: the journal shipped into a NATS JetStream stream, when servers are given. The
  // service fills in the journal directory and the CPUs (the housekeeping ones).
  ship::ShipConfig ship{};
  // [metrics]: where the Prometheus endpoint listens ("127.0.0.1:9464"); empty: nowhere. A port
  // alone listens on the loopback interface.
  std::string metrics_listen;

  // The configuration as TOML, every key with its value: what the service runs with.
  std::string to_toml() const;
};

// Everything `ringlog serve` refuses to start with, beyond what the file parser checks: the
// journal's options as Journal::open takes them, a journal directory that is no journal or
// cannot be created or written, a runtime directory that cannot be, a control socket path too
// long for the kernel, CPUs this process may not use, and [ship]'s endpoint. `ringlog
// check-config` and `ringlog serve` both call it, so that they cannot drift apart. Nothing when
// all is well; else every problem, one a line.
std::optional<std::string> check_before_serving(const ServiceConfig&);

// The defaults overridden by the file at `path`. A refusal is SetupErrc::invalid_setting, its
// context `file:line: key: what`; a file that cannot be read, the OS error.
std::expected<ServiceConfig, Error> load_service_config(const std::filesystem::path& path);
// The same from text; `source` names it in errors.
std::expected<ServiceConfig, Error> parse_service_config(std::string_view text,
                                                         const std::string& source);

}  // namespace ringlog::service
