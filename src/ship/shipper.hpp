// The shipper (`ringlog ship`, or a thread of `ringlog serve` given a [ship] section): follows
// a journal and publishes every durable event, in order, to a JetStream stream: runs of events
// as blocks (the default), or one message per event (message_format.hpp has both forms).
//
// Exactly once, in order, across restarts of the shipper, the service or the NATS servers:
//  - on start, and after any failed publish, it asks the stream for the newest message on the
//    subject and resumes after the last event it carries;
//  - every publish names the stream sequence it must follow (Nats-Expected-Last-Sequence): a
//    message whose predecessor was lost is refused instead of stored after a gap, and so are
//    all behind it, until the shipper has asked the stream again;
//  - a message's Nats-Msg-Id is its first event's sequence number, so that the stream's
//    duplicate window also drops any resend.
// It ships durable events only: a machine crash can take back what a flush did not cover, and
// the journal would then reuse those sequence numbers for other events.
//
// The stream should hold this journal's subject alone: another publisher's messages do not
// break the guarantee, but each one costs the shipper a round of asking the stream again.
#pragma once

#include "ship/nats_endpoint.hpp"
#include "ship/ship_format.hpp"

#include <ringlog/error.hpp>

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ringlog::ship {

struct ShipConfig {
  std::filesystem::path journal_dir;
  NatsEndpoint nats;
  ShipFormat format = ShipFormat::blocks;
  Compression compression = Compression::none;  // of blocks
  // A block's body at most (the shipper keeps it under the server's max_payload too): bigger
  // blocks cost the stream less per event, and hold up no one, as a block also goes once it
  // has lingered (below).
  std::size_t block_bytes = std::size_t{256} << 10;
  // How long a block waits for more events, from its first, before it goes at the first moment
  // the journal has no new durable event. Kafka's linger.ms: longer makes fuller blocks at low
  // rates (fewer messages, better compression), at the cost of that much latency to the stream.
  std::chrono::microseconds linger{1000};
  // Messages awaiting the stream's acknowledgement; 0: 4096 events, or 64 blocks (16 MiB).
  std::size_t max_in_flight = 0;
  std::optional<int> create_replicas = 1;  // creates a missing stream; nullopt: it must exist
  std::vector<int> cpus;             // the shipper's and the NATS client's threads; empty: any
};

struct ShipStatus {
  std::string stream;
  std::string subject;
  bool connected = false;
  bool in_step = false;  // it knows where the stream stands: false before that, and after a
                         // failed publish until it has asked the stream again
  std::uint64_t shipped = 0;       // events below this sequence number are in the stream
  std::uint64_t journal_end = 0;   // the sequence number after the journal's newest event
  std::uint64_t lag_events = 0;    // journal_end - shipped
  // How long the oldest event not yet in the stream has been in the journal, as the shipper saw
  // it (it looks every 100 ms; events already there when it started count from its start).
  double lag_seconds = 0;
  ShipFormat format = ShipFormat::blocks;
  Compression compression = Compression::none;
  // Acknowledged by the stream, over the last second or so: events, messages (blocks, or events
  // one a message), and bytes as they travelled (compressed).
  double events_per_second = 0;
  double messages_per_second = 0;
  double wire_bytes_per_second = 0;
  std::uint64_t acknowledged = 0;           // events the stream took since the start
  std::uint64_t acknowledged_messages = 0;  // the messages that carried them
  std::uint64_t acknowledged_bytes = 0;     // their size in the journal's framing
  std::uint64_t acknowledged_wire_bytes = 0;  // the messages' data, compressed where it was
  // acknowledged_bytes / acknowledged_wire_bytes (1 for events one a message, or no compression)
  double compression_ratio() const;
  std::uint64_t resumes = 0;       // times it asked the stream where to go on, after the first
  std::optional<std::string> problem;  // what keeps it from shipping now; empty while it ships
};

// The status for a person (lines of text), as a JSON object, or as Prometheus text exposition:
// what `ringlog status` shows of a service's shipper, and `ringlog ship` prints.
std::string to_text(const ShipStatus&);
nlohmann::ordered_json to_json(const ShipStatus&);
std::string to_prometheus(const ShipStatus&);

class Shipper {
 public:
  // Starts the shipping thread; it connects, and reconnects, on its own. An error only for what
  // no retry mends: a journal directory that is not one, unreadable credentials, a bad URL.
  static std::expected<std::unique_ptr<Shipper>, Error> start(ShipConfig);
  ~Shipper();  // stop()

  // Stops reading the journal and waits (up to a few seconds) for the publishes in flight.
  void stop();
  ShipStatus status() const;  // a snapshot, from any thread
  // Events below this sequence number are in the stream: one load, from any thread.
  std::uint64_t shipped_through() const noexcept;

  Shipper(const Shipper&) = delete;
  Shipper& operator=(const Shipper&) = delete;

 private:
  struct State;
  explicit Shipper(std::unique_ptr<State>) noexcept;
  std::unique_ptr<State> state_;
};

}  // namespace ringlog::ship
