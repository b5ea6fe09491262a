// The journal service (`ringlog serve`): publishing processes attach over a Unix socket and
// each gets a shared-memory ring of its own (service::Publisher); one pinned consumer thread
// drains every ring through the dispatcher into one journal and tells each publisher, through
// its ring, how many of its events are durable.
//
// Threads: a control thread accepts attachments and notices detaches (a closed connection,
// whether the publisher exited or died); the consumer thread owns the rings it drains and the
// journal. A detached publisher's ring is drained of every committed event before it goes.
#pragma once

#include "service/channel_metrics.hpp"
#include "service/service_config.hpp"

#include <cstdint>
#include <filesystem>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ringlog::service {

// Who a publisher is, from its connection's SO_PEERCRED: an operator's answer to "which
// process broke its ring?".
struct PeerCredentials {
  int pid = 0;
  unsigned uid = 0;
  unsigned gid = 0;
};

struct PublisherStatus {
  std::uint64_t id = 0;
  std::string channel;
  PeerCredentials peer;
  std::uint64_t journaled = 0;    // events drained into the journal
  std::uint64_t durable = 0;      // of those, durable
  bool attached = true;           // false once its connection closed; then drained and dropped
  std::size_t ring_used = 0;      // bytes written and not yet drained
  std::size_t ring_bytes = 0;
  // Why it was detached, when it broke its ring's protocol; its ring is read no further.
  std::optional<std::string> violation;
};

// A publisher detached for breaking its ring's protocol.
struct ViolationStatus {
  std::uint64_t id = 0;
  std::string channel;
  PeerCredentials peer;
  std::string reason;  // the ring's byte and what was wrong there
};

// A channel's figures since the service started, across every publisher attached to it.
struct ChannelStatus {
  std::string name;
  std::uint64_t journaled = 0;
  std::uint64_t durable = 0;
  std::size_t publishers = 0;     // attached now
  std::size_t ring_used = 0;      // over its publishers' rings
  std::size_t ring_bytes = 0;
  DurationCounts journaled_to_durable;
  std::string_view overflow_policy;  // its publishers' (service::to_string)
  OverflowFigures overflow;          // what they did with a full ring, since the start
  std::array<DurationCounts, stage_count> stages;  // their sampled events' stages (Stage)
  std::uint64_t violations = 0;      // publishers detached for breaking their rings' protocol
};

struct ServiceStatus {
  std::uint64_t latency_sample_every = 0;   // one event in this many is timed through the stages
  std::vector<PublisherStatus> publishers;  // attached, or detached and not yet drained
  std::vector<ChannelStatus> channels;      // every configured one
  std::uint64_t journal_next_sequence = 0;
  std::uint64_t journal_durable_sequence = 0;
  std::size_t journal_segments = 0;         // segment files in the journal's directory
  double events_per_second = 0;             // journaled, over the last second or so
  std::uint64_t attaches = 0;               // since the start
  std::uint64_t refusals = 0;
  std::uint64_t violations = 0;             // publishers detached for breaking their rings
  std::vector<ViolationStatus> latest_violations;  // the latest few, oldest first
  std::string placement;                    // the consumer's CPU, and why
  // Where a publisher best runs: the other CPU of the service's core pair, on which none of the
  // service's threads spin. Publishers that spin on the drain thread's CPU instead delay it and
  // the flushes beside it (ringlog serve at 1 M events/s on 2 CPUs, five runs each: commit ->
  // durable p99.9 7.2-38 ms with the publisher unpinned, 6.1-14.9 ms pinned here). -1: none.
  int publisher_cpu = -1;
  std::string flush_backend;
  // Why the journal stopped taking events. From then on the service takes no more: it closes
  // every publisher's connection and refuses new ones, and reports this until it is stopped.
  std::optional<std::string> failure;
  // Why the previous run of this service failed, when it did: kept in the runtime directory
  // (failure_record_path) until a run stops cleanly.
  std::optional<std::string> previous_failure;
  std::optional<ship::ShipStatus> ship;           // when [ship] names NATS servers
};

// The status for a person, as one JSON object, or as Prometheus text exposition.
std::string to_text(const ServiceStatus&);
std::string to_json(const ServiceStatus&);
std::string to_prometheus(const ServiceStatus&);

// Asks the running service `name` under `runtime_dir` for its status in `format` ("text",
// "json" or "prometheus"): what `ringlog status` prints.
std::expected<std::string, Error> query_status(const std::filesystem::path& runtime_dir,
                                                     const std::string& name,
                                                     const std::string& format);

// Where a service records why its journal failed, so that the next start reports it.
std::filesystem::path failure_record_path(const ServiceConfig&);

class Service {
 public:
  // Opens (or recovers) the journal, listens on the control socket and starts both threads.
  static std::expected<std::unique_ptr<Service>, Error> start(const ServiceConfig&);
  ~Service();  // stop()

  // Takes no more attachments, drains every ring, makes the journal durable, joins the threads;
  // the journal's error (SetupErrc::journal_failed), if it failed. A clean stop removes the
  // failure record.
  std::expected<void, Error> stop();
  ServiceStatus status() const;  // a snapshot, from any thread
  // True when the control thread and the drain thread have both gone round their loops since
  // the last call, the drain thread reading events if any were waiting (a drain thread stopped
  // by a journal failure counts: failed is reported, not wedged). For one caller: the systemd
  // watchdog's.
  bool responsive();

  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

 private:
  struct State;
  explicit Service(std::unique_ptr<State>) noexcept;
  std::unique_ptr<State> state_;
};

}  // namespace ringlog::service
