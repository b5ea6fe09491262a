#include <ringlog/publisher.hpp>

#include "service/service_protocol.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

namespace ringlog::service {

struct Publisher::State {
  int socket = -1;
  std::uint64_t id = 0;
  ring::SharedRing ring;
  ring::Producer producer;
  ~State() {
    if (socket >= 0) ::close(socket);  // the detach
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
  std::uint64_t id = 0;
  const std::string_view number = std::string_view(message.text).substr(9);
  if (!message.text.starts_with("attached ") || message.fd < 0 ||
      std::from_chars(number.data(), number.data() + number.size(), id).ec != std::errc()) {
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
  return Publisher(std::unique_ptr<State>(
      new State{socket, id, std::move(*ring), std::move(*producer)}));
}

Publisher::Publisher(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}
Publisher::Publisher(Publisher&&) noexcept = default;
Publisher& Publisher::operator=(Publisher&&) noexcept = default;
Publisher::~Publisher() = default;

ring::Producer& Publisher::producer() noexcept { return state_->producer; }
std::uint64_t Publisher::durable_events() const noexcept { return state_->ring.durable_events(); }

bool Publisher::wait_durable(std::uint64_t count, std::chrono::nanoseconds timeout) const noexcept {
  return state_->ring.wait_durable_events(count, timeout);
}
std::uint64_t Publisher::id() const noexcept { return state_->id; }

bool Publisher::connected() const noexcept {
  pollfd watched{state_->socket, POLLIN | POLLRDHUP, 0};
  if (::poll(&watched, 1, 0) <= 0) return true;  // nothing happened on the connection
  if (watched.revents & (POLLHUP | POLLRDHUP | POLLERR)) return false;
  char byte;
  return ::recv(state_->socket, &byte, 1, MSG_PEEK | MSG_DONTWAIT) != 0;  // 0: closed
}

}  // namespace ringlog::service
