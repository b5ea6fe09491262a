#include <ringlog/publisher.hpp>

#include "service_client/service_protocol.hpp"

#include <ringlog/detail/assert.hpp>
#include <ringlog/detail/cpu_relax.hpp>
#include <ringlog/detail/tsc.hpp>

#include <fmt/format.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <sstream>
#include <utility>

namespace ringlog::service {

struct Publisher::State {
  int socket = -1;
  std::uint64_t id = 0;
  ring::SharedRing ring;
  ring::Producer producer;
  OverflowPolicy policy = OverflowPolicy::block;
  std::chrono::nanoseconds block_deadline{0};
  event::DropMarker unmarked{};  // events dropped since the last drop marker went in
  // One event in sample_every is stamped for the service's stage timings; 0: none.
  std::uint64_t sample_every = 0;
  std::uint64_t until_sample = sample_every == 0 ? UINT64_MAX : sample_every;
  std::optional<std::string> detach_reason{};  // the service's "detached" message, once read

  // The service times this event's stages from here (ring::CommitSample).
  void sample_commit() noexcept {
    ring.record_commit_sample({producer.position(), ringlog::detail::read_tsc()});
    until_sample = sample_every;
  }

  ~State() {
    // The last drop marker, given block's time to find room. When it finds none, the service
    // journals one for the drops that no marker it drained counts.
    if (unmarked.dropped_events != 0) (void)wait_for_room([&] { return write_marker(); });
    if (socket >= 0) ::close(socket);  // the detach
  }

  bool write_marker() noexcept {
    if (!producer.write_drop_marker(unmarked)) return false;
    ring.add_overflow({.marked = unmarked.dropped_events});
    unmarked = {};
    return true;
  }

  // Retries `attempt` while the ring is full: spinning first (the consumer usually frees room
  // within microseconds), then yielding the CPU, until block_deadline has passed.
  template <class Attempt>
  bool wait_for_room(Attempt attempt) noexcept {
    constexpr int spins = 1024;
    for (int i = 0; i < spins; ++i) {
      if (attempt()) return true;
      ringlog::detail::cpu_relax();
    }
    const auto deadline = std::chrono::steady_clock::now() + block_deadline;
    while (std::chrono::steady_clock::now() < deadline) {
      ::sched_yield();
      if (attempt()) return true;
    }
    return false;
  }

  // The slow path of write_event: the ring had no room for the event (or for the drop marker
  // that must go in before it).
  bool overflowed(const event::EventHeader& header, std::span<const std::byte> payload) noexcept {
    if (header.payload_len != payload.size() ||
        ring::detail::check_event(header, ring.capacity())) {
      return false;  // never writable: no overflow
    }
    switch (policy) {
      case OverflowPolicy::fail:
        ring.add_overflow({.failed = 1});
        return false;
      case OverflowPolicy::drop:
        if (unmarked.dropped_events++ == 0) unmarked.first_timestamp = header.timestamp;
        unmarked.last_timestamp = header.timestamp;
        ring.add_overflow({.dropped = 1});
        return false;
      case OverflowPolicy::block:
        break;
    }
    ring.add_overflow({.waits = 1});
    if (wait_for_room([&] { return producer.write_event(header, payload); })) return true;
    ring.add_overflow({.timeouts = 1});
    return false;
  }
};

namespace {

// A connected socket to the service, or why not.
std::expected<int, Error> connect_to(const std::filesystem::path& path) {
  auto connection = detail::connect_to(path);
  if (!connection) return std::unexpected(connection.error());
  if (const int error = connection->connect_error; error != 0) {
    ::close(connection->fd);
    const std::string context =
        fmt::format("cannot reach the ringlog service at {}", path.string());
    if (error != ENOENT && error != ECONNREFUSED) {
      return std::unexpected(Error::from_os(error, context));
    }
    return std::unexpected(Error::because(
        SetupErrc::service_unreachable,
        fmt::format("{}: {} (is `ringlog serve` running?)", context, std::strerror(error))));
  }
  return connection->fd;
}

Error unusable(const ring::RingError& error) {
  return Error::because(SetupErrc::ring_unusable, ring::to_string(error));
}

// "attached <id> <policy> <block deadline in ns> <sample every>": the attachment's terms, or
// nothing.
struct Terms {
  std::uint64_t id = 0;
  OverflowPolicy policy = OverflowPolicy::block;
  std::chrono::nanoseconds block_deadline{0};
  std::uint64_t sample_every = 0;
};
std::optional<Terms> parse_attached(const std::string& text) {
  std::istringstream words(text);
  std::string attached, policy;
  std::int64_t deadline_ns = -1;
  Terms terms;
  if (!(words >> attached >> terms.id >> policy >> deadline_ns >> terms.sample_every) ||
      attached != "attached" || deadline_ns < 0 || !(words >> std::ws).eof()) {
    return std::nullopt;
  }
  const auto named = std::ranges::find(overflow_policy_names, policy);
  if (named == overflow_policy_names.end()) return std::nullopt;
  terms.policy = static_cast<OverflowPolicy>(named - overflow_policy_names.begin());
  terms.block_deadline = std::chrono::nanoseconds(deadline_ns);
  return terms;
}

}  // namespace

std::expected<Publisher, Error> Publisher::attach(const AttachOptions& options) {
  const std::filesystem::path path = detail::socket_path(options.runtime_dir, options.service);
  auto connected = connect_to(path);
  if (!connected) return std::unexpected(connected.error());
  const int socket = *connected;
  const auto fail = [&](Error why) {
    ::close(socket);
    return std::unexpected(std::move(why));
  };
  const std::string attaching = fmt::format("attach to {}", path.string());
  if (const int error = detail::send_message(socket, "attach " + options.channel); error != 0) {
    return fail(Error::from_os(error, attaching));
  }
  auto reply = detail::receive_message(socket);
  if (!reply) return fail(Error::from_os(reply.error(), attaching));
  if (!*reply) {
    return fail(Error::because(
        SetupErrc::service_unreachable,
        fmt::format("the service at {} closed the connection", path.string())));
  }
  const detail::Message& message = **reply;
  if (message.text.starts_with("refused ")) {
    if (message.fd >= 0) ::close(message.fd);
    return fail(Error::because(SetupErrc::service_refused,
                               fmt::format("the service refused channel \"{}\": {}",
                                           options.channel, message.text.substr(8))));
  }
  const std::optional<Terms> terms = parse_attached(message.text);
  if (!terms || message.fd < 0) {
    if (message.fd >= 0) ::close(message.fd);
    return fail(Error::because(
        SetupErrc::service_refused,
        fmt::format("unexpected reply from {}: \"{}\"", path.string(), message.text)));
  }
  // The memfd is opened again through /proc, as any process that holds it could.
  auto ring = ring::SharedRing::open(fmt::format("/proc/self/fd/{}", message.fd));
  ::close(message.fd);
  if (!ring) return fail(unusable(ring.error()));
  auto producer = ring->producer();
  if (!producer) return fail(unusable(producer.error()));
  return Publisher(std::unique_ptr<State>(new State{socket, terms->id, std::move(*ring),
                                                    std::move(*producer), terms->policy,
                                                    terms->block_deadline, {},
                                                    terms->sample_every}));
}

std::string_view to_string(OverflowPolicy policy) noexcept {
  // A policy is only ever made from its name (configuration, the service's terms): an index
  // past the names would read outside them.
  RINGLOG_CHECK(static_cast<std::size_t>(policy) < overflow_policy_names.size(),
                "an overflow policy is one of the named ones");
  return overflow_policy_names[static_cast<std::size_t>(policy)];
}

Publisher::Publisher(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}
Publisher::Publisher(Publisher&&) noexcept = default;
Publisher& Publisher::operator=(Publisher&&) noexcept = default;
Publisher::~Publisher() = default;

bool Publisher::write_event(const event::EventHeader& header,
                            std::span<const std::byte> payload) noexcept {
  State& s = *state_;
  // A detached ring is drained no more: an event written there would be lost without a word.
  if (s.ring.detached()) [[unlikely]] return false;
  // Events dropped before this one are counted in order, ahead of it.
  if (s.unmarked.dropped_events == 0 || s.write_marker()) [[likely]] {
    if (s.producer.write_event(header, payload)) [[likely]] {
      if (--s.until_sample == 0) [[unlikely]] s.sample_commit();
      return true;
    }
  }
  return s.overflowed(header, payload);
}

OverflowPolicy Publisher::overflow_policy() const noexcept { return state_->policy; }
std::chrono::nanoseconds Publisher::block_deadline() const noexcept {
  return state_->block_deadline;
}
ring::OverflowCounts Publisher::overflow_counts() const noexcept {
  return state_->ring.overflow_counts();
}

ring::Producer& Publisher::producer() noexcept { return state_->producer; }
std::uint64_t Publisher::durable_events() const noexcept { return state_->ring.durable_events(); }

bool Publisher::wait_durable(std::uint64_t count, std::chrono::nanoseconds timeout) const noexcept {
  return state_->ring.wait_durable_events(count, timeout);
}
std::uint64_t Publisher::id() const noexcept { return state_->id; }

std::optional<std::string> Publisher::detach_reason() const {
  State& s = *state_;
  if (s.detach_reason) return s.detach_reason;
  // The service marks the ring first and sends its reason right after: a moment's wait then.
  constexpr int reason_wait_ms = 1000;
  pollfd watched{s.socket, POLLIN, 0};
  if (::poll(&watched, 1, s.ring.detached() ? reason_wait_ms : 0) <= 0 ||
      (watched.revents & POLLIN) == 0) {
    return std::nullopt;
  }
  auto message = detail::receive_message(s.socket);
  if (message && *message) {
    if ((*message)->fd >= 0) ::close((*message)->fd);
    constexpr std::string_view prefix = "detached ";
    if ((*message)->text.starts_with(prefix)) {
      s.detach_reason = (*message)->text.substr(prefix.size());
    }
  }
  return s.detach_reason;
}

bool Publisher::connected() const noexcept {
  pollfd watched{state_->socket, POLLIN | POLLRDHUP, 0};
  if (::poll(&watched, 1, 0) <= 0) return true;  // nothing happened on the connection
  if (watched.revents & (POLLHUP | POLLRDHUP | POLLERR)) return false;
  char byte;
  return ::recv(state_->socket, &byte, 1, MSG_PEEK | MSG_DONTWAIT) != 0;  // 0: closed
}

}  // namespace ringlog::service
