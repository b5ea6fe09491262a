// What `ringlog ship` and `ringlog fetch` share: a connection to NATS JetStream, with its
// credentials read from a file (never from the command line, where `ps` shows them), where the
// stream stands, and a cursor over it. The forms events take in messages: message_format.hpp.
#pragma once

#include "ship/nats_endpoint.hpp"

#include <nats/nats.h>

#include <ringlog/journal.hpp>

#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringlog::ship {

// "what: <the client's text for status>: <its last error>", for every failed call.
std::string nats_error(std::string_view what, natsStatus);
std::string nats_error(std::string_view what, natsStatus, jsErrCode);

// One connection and its JetStream context. It reconnects on its own, forever, to any of the
// endpoint's servers; until it has, JetStream calls fail and are tried again by their caller.
class NatsLink {
 public:
  // `js_options` tunes the JetStream context (asynchronous publishing); null for defaults.
  // The client's threads start here and inherit the calling thread's CPU affinity.
  static std::expected<std::unique_ptr<NatsLink>, std::string> connect(
      const NatsEndpoint&, const std::string& client_name, const jsOptions* js_options = nullptr);
  ~NatsLink();
  NatsLink(const NatsLink&) = delete;
  NatsLink& operator=(const NatsLink&) = delete;

  natsConnection* connection() const noexcept { return connection_; }
  jsCtx* jetstream() const noexcept { return jetstream_; }
  bool connected() const noexcept;

 private:
  NatsLink() = default;
  natsConnection* connection_ = nullptr;
  jsCtx* jetstream_ = nullptr;
};

// Owns what the client hands back and must be destroyed.
struct NatsMessageDeleter {
  void operator()(natsMsg* message) const noexcept { natsMsg_Destroy(message); }
};
using NatsMessage = std::unique_ptr<natsMsg, NatsMessageDeleter>;

// Where the stream stands for the journal's subject.
struct StreamPosition {
  std::uint64_t last_stream_sequence = 0;  // of any message in the stream; 0: empty
  std::optional<std::uint64_t> last_event;  // the newest event on the subject, if any
};
// Asks the stream; when it does not exist and `create_replicas` is set, creates it (file
// storage, the subject only, that many replicas), else says so.
std::expected<StreamPosition, std::string> stream_position(NatsLink&, const NatsEndpoint&,
                                                           std::optional<int> create_replicas);

// Reads the stream's messages on the endpoint's subject in stream order, from the oldest: an
// ephemeral pull consumer without acknowledgements, fetched in batches bounded in count and in
// bytes, so that the reader sets the pace and the server never outruns it.
//
// The server places such a consumer on any of the stream's replicas, a follower still catching
// up included, which hands out nothing past what it has stored. A fetch that brings nothing
// within replica_patience gives that consumer up and takes a new one from the next message on
// (placed anew): the reading waits for, or moves off, a lagging replica. While the cluster
// cannot place a consumer at all (no metadata leader: nats-server elects one within its election
// timeout, 4 to 9 s in 2.9, and a request made meanwhile goes unanswered until the client's own
// wait is over), the cursor asks again for up to placement_patience, and that time does not
// count against next()'s wait for a message.
class StreamCursor {
 public:
  // Asks nothing of the server yet: the first next() takes a consumer.
  static StreamCursor open(NatsLink&, const NatsEndpoint&);
  StreamCursor(StreamCursor&&) noexcept;
  StreamCursor& operator=(StreamCursor&&) = delete;
  ~StreamCursor();

  // The next message, waiting up to `wait_ms` for it once a consumer is placed (and up to
  // placement_patience for one); an error (NATS_TIMEOUT's among them)
  // when none came.
  std::expected<NatsMessage, std::string> next(std::int64_t wait_ms);

  // How long one consumer may bring nothing before the cursor moves to a new one.
  static constexpr std::int64_t replica_patience_ms = 1000;
  // How long the cursor keeps asking for a consumer the cluster cannot place: a metadata
  // leader's election, with the 5 s a client waits for each unanswered request, several times.
  static constexpr std::int64_t placement_patience_ms = 30'000;

  // Where a hole before the message handed out last begins: right after the message handed
  // out before it (0 when there was none). A replica still catching up serves what it has
  // stored and skips what it lacks.
  std::uint64_t hole_start() const noexcept { return previous_next_stream_sequence_; }
  // What the stream's leader, which holds every message the stream has, answers for a hole:
  // its oldest stream sequence, and the message at a stream sequence (nullopt where the stream
  // holds none on the subject: removed, never written, or another subject's).
  std::expected<std::uint64_t, std::string> oldest_at_leader();
  std::expected<std::optional<NatsMessage>, std::string> read_at_leader(std::uint64_t sequence);

 private:
  StreamCursor(NatsLink& link, const NatsEndpoint& endpoint) : link_(&link), endpoint_(endpoint) {}
  // A consumer from stream sequence `from` on (0: from the oldest); why not, when it failed.
  std::optional<std::string> subscribe(std::uint64_t from);
  // A batch into batch_ within `wait_ms`: the client's status.
  natsStatus fetch(std::int64_t wait_ms);
  void unsubscribe() noexcept;

  NatsLink* link_;
  NatsEndpoint endpoint_;
  std::uint64_t next_stream_sequence_ = 0;  // after the last message handed out; 0: none yet
  std::uint64_t previous_next_stream_sequence_ = 0;  // what it was before that message
  natsSubscription* subscription_ = nullptr;
  natsMsgList batch_{};
  int taken_ = 0;  // of batch_
  std::int64_t batch_bytes_ = 0;  // the most a fetch brings
};

}  // namespace ringlog::ship
