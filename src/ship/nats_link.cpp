#include "ship/nats_link.hpp"

#include "ship/message_format.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

namespace ringlog::ship {
namespace {

// What a credentials file holds: a NATS .creds file (a user JWT and its key), or a user and a
// password.
struct Credentials {
  bool creds_file = false;
  std::string user;
  std::string password;
};

std::expected<std::optional<Credentials>, std::string> read_credentials(
    const std::filesystem::path& file) {
  if (file.empty()) return std::nullopt;
  const std::string path = file.string();
  struct stat info{};
  if (::stat(path.c_str(), &info) != 0) {
    return std::unexpected(fmt::format("credentials file {}: {}", path, std::strerror(errno)));
  }
  if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return std::unexpected(fmt::format("credentials file {}: others may read it (mode {:o}); "
                                       "chmod 600 it", path, info.st_mode & 07777));
  }
  std::ifstream in(file);
  if (!in) {
    return std::unexpected(fmt::format("credentials file {}: {}", path, std::strerror(errno)));
  }
  std::stringstream contents;
  contents << in.rdbuf();
  const std::string text = contents.str();
  if (text.find("BEGIN NATS USER JWT") != std::string::npos) return Credentials{true, {}, {}};
  const std::string first_line = text.substr(0, text.find('\n'));
  const std::size_t colon = first_line.find(':');
  if (colon == std::string::npos || colon == 0) {
    return std::unexpected(fmt::format("credentials file {}: neither a NATS .creds file nor "
                                       "\"user:password\" on its first line", path));
  }
  return Credentials{false, first_line.substr(0, colon), first_line.substr(colon + 1)};
}

struct OptionsDeleter {
  void operator()(natsOptions* options) const noexcept { natsOptions_Destroy(options); }
};

}  // namespace

std::string nats_error(std::string_view what, natsStatus status) {
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  return detail != nullptr && *detail != '\0' && last == status
             ? fmt::format("{}: {}: {}", what, natsStatus_GetText(status), detail)
             : fmt::format("{}: {}", what, natsStatus_GetText(status));
}

std::string nats_error(std::string_view what, natsStatus status, jsErrCode code) {
  return code == 0 ? nats_error(what, status)
                   : fmt::format("{} (JetStream error {})", nats_error(what, status), int(code));
}

namespace {

// check_endpoint(), and what the credentials file holds.
std::expected<std::optional<Credentials>, std::string> checked_credentials(
    const NatsEndpoint& endpoint) {
  if (endpoint.servers.empty()) return std::unexpected("no NATS server given");
  for (const std::string& server : endpoint.servers) {
    if (server.find('@') != std::string::npos) {
      return std::unexpected(fmt::format("NATS server {}: credentials belong in a credentials "
                                         "file, not in the URL", server));
    }
  }
  if (endpoint.stream.empty() || endpoint.subject.empty()) {
    return std::unexpected("a NATS stream and subject must be named");
  }
  return read_credentials(endpoint.credentials_file);
}

}  // namespace

std::expected<void, std::string> check_endpoint(const NatsEndpoint& endpoint) {
  if (auto credentials = checked_credentials(endpoint); !credentials) {
    return std::unexpected(credentials.error());
  }
  return {};
}

std::expected<std::unique_ptr<NatsLink>, std::string> NatsLink::connect(
    const NatsEndpoint& endpoint, const std::string& client_name, const jsOptions* js_options) {
  const auto credentials = checked_credentials(endpoint);
  if (!credentials) return std::unexpected(credentials.error());
  natsOptions* raw_options = nullptr;
  if (const natsStatus s = natsOptions_Create(&raw_options); s != NATS_OK) {
    return std::unexpected(nats_error("NATS options", s));
  }
  const std::unique_ptr<natsOptions, OptionsDeleter> options(raw_options);
  std::vector<const char*> servers;
  for (const std::string& server : endpoint.servers) servers.push_back(server.c_str());
  natsStatus s = natsOptions_SetServers(options.get(), servers.data(), int(servers.size()));
  if (s == NATS_OK) s = natsOptions_SetName(options.get(), client_name.c_str());
  // Never give up on the servers: a shipper outlives their restarts.
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(options.get(), -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(options.get(), 250);
  if (s == NATS_OK) s = natsOptions_SetTimeout(options.get(), 2000);
  if (s != NATS_OK) return std::unexpected(nats_error("NATS options", s));
  if (*credentials) {
    const std::string path = endpoint.credentials_file.string();
    s = (*credentials)->creds_file
            ? natsOptions_SetUserCredentialsFromFiles(options.get(), path.c_str(), nullptr)
            : natsOptions_SetUserInfo(options.get(), (*credentials)->user.c_str(),
                                      (*credentials)->password.c_str());
    if (s != NATS_OK) return std::unexpected(nats_error("credentials file " + path, s));
  }
  std::unique_ptr<NatsLink> link(new NatsLink);
  if (s = natsConnection_Connect(&link->connection_, options.get()); s != NATS_OK) {
    return std::unexpected(nats_error(fmt::format("connect to NATS at {}",
                                                  fmt::join(endpoint.servers, ",")), s));
  }
  jsOptions defaults;
  jsOptions_Init(&defaults);
  if (s = natsConnection_JetStream(&link->jetstream_, link->connection_,
                                   js_options != nullptr ? const_cast<jsOptions*>(js_options)
                                                         : &defaults);
      s != NATS_OK) {
    return std::unexpected(nats_error("JetStream context", s));
  }
  return link;
}

NatsLink::~NatsLink() {
  jsCtx_Destroy(jetstream_);
  if (connection_ != nullptr) {
    natsConnection_Close(connection_);
    natsConnection_Destroy(connection_);
  }
}

bool NatsLink::connected() const noexcept {
  return natsConnection_Status(connection_) == NATS_CONN_STATUS_CONNECTED;
}

std::expected<StreamPosition, std::string> stream_position(NatsLink& link,
                                                           const NatsEndpoint& endpoint,
                                                           std::optional<int> create_replicas) {
  jsStreamInfo* info = nullptr;
  jsErrCode code{};
  natsStatus s = js_GetStreamInfo(&info, link.jetstream(), endpoint.stream.c_str(), nullptr,
                                  &code);
  if (s == NATS_NOT_FOUND && create_replicas) {
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    config.Name = endpoint.stream.c_str();
    const char* subjects[] = {endpoint.subject.c_str()};
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Storage = js_FileStorage;
    config.Replicas = *create_replicas;
    s = js_AddStream(&info, link.jetstream(), &config, nullptr, &code);
    if (s != NATS_OK) {
      return std::unexpected(nats_error(fmt::format("create stream {}", endpoint.stream), s,
                                        code));
    }
  } else if (s == NATS_NOT_FOUND) {
    return std::unexpected(fmt::format("stream {} does not exist: create it, or let the shipper "
                                       "create it (replicas)", endpoint.stream));
  } else if (s != NATS_OK) {
    return std::unexpected(nats_error(fmt::format("stream {}", endpoint.stream), s, code));
  }
  StreamPosition position;
  position.last_stream_sequence = info->State.LastSeq;
  jsStreamInfo_Destroy(info);

  natsMsg* raw = nullptr;
  s = js_GetLastMsg(&raw, link.jetstream(), endpoint.stream.c_str(), endpoint.subject.c_str(),
                    nullptr, &code);
  const NatsMessage last(raw);
  if (s == NATS_NOT_FOUND) return position;
  if (s != NATS_OK) {
    return std::unexpected(nats_error(
        fmt::format("last message on {} in stream {}", endpoint.subject, endpoint.stream), s,
        code));
  }
  const std::optional<ShippedRange> last_range = shipped_range(last.get());
  if (!last_range || last_range->count == 0) {
    return std::unexpected(fmt::format("stream {}: the last message on {} carries no ringlog "
                                       "sequence numbers (the Nats-Msg-Id of an event, the "
                                       "Ringlog-* headers of a block); the subject is not a "
                                       "ringlog journal's", endpoint.stream, endpoint.subject));
  }
  position.last_event = last_range->end() - 1;
  return position;
}

StreamCursor StreamCursor::open(NatsLink& link, const NatsEndpoint& endpoint) {
  StreamCursor cursor(link, endpoint);
  // A batch is bounded in bytes too: 1024 blocks would be hundreds of megabytes, more than a
  // slow reader takes in within its wait. Never below two of the largest message the server
  // takes, which would then never come.
  cursor.batch_bytes_ =
      std::max<std::int64_t>(std::int64_t{8} << 20, 2 * natsConnection_GetMaxPayload(link.connection()));
  return cursor;  // its first consumer comes with the first next()
}

std::optional<std::string> StreamCursor::subscribe(std::uint64_t from) {
  unsubscribe();
  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = endpoint_.stream.c_str();
  options.Config.DeliverPolicy = from == 0 ? js_DeliverAll : js_DeliverByStartSequence;
  options.Config.OptStartSeq = from;
  options.Config.AckPolicy = js_AckNone;
  jsErrCode code{};
  if (const natsStatus s = js_PullSubscribe(&subscription_, link_->jetstream(),
                                            endpoint_.subject.c_str(), nullptr, nullptr, &options,
                                            &code);
      s != NATS_OK) {
    return nats_error(fmt::format("read {} from stream {}", endpoint_.subject, endpoint_.stream),
                      s, code);
  }
  return std::nullopt;
}

void StreamCursor::unsubscribe() noexcept {
  if (subscription_ == nullptr) return;
  natsSubscription_Unsubscribe(subscription_);  // the server drops the ephemeral consumer
  natsSubscription_Destroy(subscription_);
  subscription_ = nullptr;
}

StreamCursor::StreamCursor(StreamCursor&& other) noexcept
    : link_(other.link_),
      endpoint_(std::move(other.endpoint_)),
      next_stream_sequence_(other.next_stream_sequence_),
      previous_next_stream_sequence_(other.previous_next_stream_sequence_),
      subscription_(std::exchange(other.subscription_, nullptr)),
      batch_(std::exchange(other.batch_, {})),
      taken_(other.taken_),
      batch_bytes_(other.batch_bytes_) {}

StreamCursor::~StreamCursor() {
  natsMsgList_Destroy(&batch_);  // the messages not taken too
  unsubscribe();
}

natsStatus StreamCursor::fetch(std::int64_t wait_ms) {
  natsMsgList_Destroy(&batch_);
  batch_ = {};
  taken_ = 0;
  // What the stream holds now, at once; only when that is nothing, a wait for more (the server
  // would otherwise hold a request until the batch is full or it expires).
  jsFetchRequest request;
  jsFetchRequest_Init(&request);
  request.Batch = 1024;
  request.MaxBytes = batch_bytes_;
  request.Expires = wait_ms * 1'000'000;  // nanoseconds
  request.NoWait = true;
  natsStatus s = natsSubscription_FetchRequest(&batch_, subscription_, &request);
  if (s == NATS_NOT_FOUND || s == NATS_TIMEOUT) {
    request.NoWait = false;
    s = natsSubscription_FetchRequest(&batch_, subscription_, &request);
  }
  return s;
}

std::expected<NatsMessage, std::string> StreamCursor::next(std::int64_t wait_ms) {
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  auto deadline = started + std::chrono::milliseconds(wait_ms);
  const auto placement_deadline = started + std::chrono::milliseconds(placement_patience_ms);
  while (taken_ == batch_.Count) {
    if (subscription_ == nullptr) {
      const auto asked = Clock::now();
      if (auto failed = subscribe(next_stream_sequence_)) {
        if (Clock::now() >= placement_deadline) return std::unexpected(*failed);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // before asking again
        deadline += Clock::now() - asked;  // time without a consumer is not the message's wait
        continue;
      }
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    const natsStatus s = fetch(std::clamp<std::int64_t>(left, 1, replica_patience_ms));
    if (s == NATS_OK) break;
    const bool nothing_came = s == NATS_TIMEOUT || s == NATS_NOT_FOUND;
    if (!nothing_came || Clock::now() >= deadline) return std::unexpected(nats_error("fetch", s));
    unsubscribe();  // its replica may lag: the next consumer, from the next message on, is
                    // placed anew
  }
  NatsMessage message(std::exchange(batch_.Msgs[taken_++], nullptr));
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, message.get()) == NATS_OK) {
    previous_next_stream_sequence_ = next_stream_sequence_;
    next_stream_sequence_ = meta->Sequence.Stream + 1;
    jsMsgMetaData_Destroy(meta);
  }
  return message;
}

std::expected<std::uint64_t, std::string> StreamCursor::oldest_at_leader() {
  jsStreamInfo* info = nullptr;
  jsErrCode code{};
  const natsStatus s =
      js_GetStreamInfo(&info, link_->jetstream(), endpoint_.stream.c_str(), nullptr, &code);
  if (s != NATS_OK) {
    return std::unexpected(nats_error(fmt::format("stream {}", endpoint_.stream), s, code));
  }
  const std::uint64_t oldest = info->State.FirstSeq;
  jsStreamInfo_Destroy(info);
  return oldest;
}

std::expected<std::optional<NatsMessage>, std::string> StreamCursor::read_at_leader(
    std::uint64_t sequence) {
  natsMsg* raw = nullptr;
  jsErrCode code{};
  const natsStatus s =
      js_GetMsg(&raw, link_->jetstream(), endpoint_.stream.c_str(), sequence, nullptr, &code);
  NatsMessage message(raw);
  if (s == NATS_NOT_FOUND) return std::nullopt;
  if (s != NATS_OK) {
    return std::unexpected(nats_error(
        fmt::format("message {} of stream {} from its leader", sequence, endpoint_.stream), s,
        code));
  }
  if (endpoint_.subject != natsMsg_GetSubject(message.get())) return std::nullopt;
  return message;
}

}  // namespace ringlog::ship
