#include "service/control_loop.hpp"

#include "service_client/service_protocol.hpp"
#include "support/timing.hpp"

#include <ringlog/detail/assert.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace ringlog::service {

namespace {

// The connecting process as the kernel saw it at connect(); zeros if it cannot say.
PeerCredentials peer_of(int socket) {
  ucred credentials{};
  socklen_t size = sizeof credentials;
  if (::getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &credentials, &size) != 0) return {};
  return {credentials.pid, credentials.uid, credentials.gid};
}

}  // namespace

std::expected<int, Error> listen_at(const std::filesystem::path& path,
                                    const std::string& group) {
  auto probe = service::detail::connect_to(path);
  if (!probe) return std::unexpected(probe.error());
  ::close(probe->fd);
  if (probe->connect_error == 0) {
    return std::unexpected(Error::from_os(
        EADDRINUSE, fmt::format("a ringlog service already listens on {}", path.string())));
  }
  ::unlink(path.c_str());
  const auto address = service::detail::unix_address(path);
  // connect_to() above made the same address of the same path, or returned its error.
  RINGLOG_CHECK(address.has_value(), "a path the probe connected to has an address");
  const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected(Error::from_os(errno, "socket"));
  const auto* raw = reinterpret_cast<const sockaddr*>(&*address);
  gid_t gid = static_cast<gid_t>(-1);
  if (!group.empty()) {
    const ::group* entry = ::getgrnam(group.c_str());
    if (entry == nullptr) {
      ::close(fd);
      return std::unexpected(Error::because(
          SetupErrc::invalid_setting,
          fmt::format("service.group \"{}\" is no group on this host", group)));
    }
    gid = entry->gr_gid;
  }
  const auto fail = [&](std::string_view what) {
    const int error = errno;
    ::close(fd);
    return std::unexpected(Error::from_os(error, fmt::format("{} {}", what, path.string())));
  };
  if (::bind(fd, raw, sizeof *address) != 0) return fail("bind");
  // Owner only, or owner and group: connecting is what lets a process publish.
  if (::chmod(path.c_str(), group.empty() ? 0600 : 0660) != 0) return fail("chmod");
  if (!group.empty() && ::chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0) {
    return fail("chown");
  }
  if (::listen(fd, 64) != 0) return fail("listen");
  return fd;
}

ControlLoop::ControlLoop(ServiceShared& shared, int listener, std::filesystem::path socket_path,
                         int ring_node, std::function<ServiceStatus()> status)
    : shared_(shared),
      listener_(listener),
      socket_path_(std::move(socket_path)),
      ring_node_(ring_node),
      status_(std::move(status)) {}

ControlLoop::~ControlLoop() {
  if (listener_ >= 0) ::close(listener_);
}

void ControlLoop::run() {
  pthread_setname_np(pthread_self(), "ringlog-control");
  std::vector<pollfd> watched = {{listener_, POLLIN, 0}, {shared_.wake, POLLIN, 0}};
  while (!shared_.stopping.load(std::memory_order_acquire)) {
    // Woken at least this often, idle or not, so that the passes show it is alive.
    const int wait_ms = static_cast<int>(timing::control_heartbeat.count());
    const int ready = ::poll(watched.data(), watched.size(), wait_ms);
    shared_.board.control_passes.fetch_add(1, std::memory_order_relaxed);
    if (ready < 0 && errno != EINTR) break;
    if (watched[1].revents != 0) {
      if (shared_.stopping.load(std::memory_order_acquire)) break;  // stop()
      std::uint64_t wakes = 0;
      if (::read(shared_.wake, &wakes, sizeof wakes) < 0) continue;
      // Woken by fail(), or by the drain thread quarantining a publisher.
      if (shared_.failure()) {
        drop_everyone();
      } else {
        detach_quarantined();
      }
    } else {
      if (watched[0].revents & POLLIN) {
        const int socket = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (socket >= 0) by_socket_[socket] = nullptr;
      }
      for (std::size_t i = 2; i < watched.size(); ++i) {
        if (watched[i].revents == 0) continue;
        auto message = service::detail::receive_message(watched[i].fd);
        if (!message || !*message) {  // closed: the publisher exited or died
          drop(watched[i].fd);
          continue;
        }
        if ((*message)->fd >= 0) ::close((*message)->fd);
        answer(watched[i].fd, (*message)->text);
      }
    }
    watched.resize(2);
    for (const auto& [socket, attachment] : by_socket_) watched.push_back({socket, POLLIN, 0});
  }
  for (const auto& [socket, attachment] : by_socket_) {
    if (attachment) attachment->attached.store(false);
    ::close(socket);
  }
  by_socket_.clear();
  ::unlink(socket_path_.c_str());
  shared_.control_done.store(true, std::memory_order_release);
}

void ControlLoop::answer(int socket, const std::string& text) {
  if (text.starts_with("attach ") && by_socket_[socket] == nullptr) {
    by_socket_[socket] = attach(socket, std::string_view(text).substr(7));
  } else if (text == "status text" || text == "status json" || text == "status prometheus") {
    const ServiceStatus now = status_();
    service::detail::send_message(socket, text == "status json"   ? to_json(now)
                                          : text == "status text" ? to_text(now)
                                                                  : to_prometheus(now));
  } else {
    refuse(socket, "unexpected message \"" + text + "\"");
  }
}

void ControlLoop::drop(int socket) {
  if (auto& attachment = by_socket_[socket]) attachment->attached.store(false);
  by_socket_.erase(socket);
  ::close(socket);
}

void ControlLoop::drop_everyone() {
  // The drain thread has stopped, so no publisher is drained any more, nor listed; then every
  // one is told, by its connection closing, that nothing more is taken.
  shared_.attachments.clear();
  while (!by_socket_.empty()) drop(by_socket_.begin()->first);
}

void ControlLoop::detach_quarantined() {
  std::vector<int> quarantined;
  for (const auto& [socket, attachment] : by_socket_) {
    if (attachment && attachment->quarantined.load(std::memory_order_acquire)) {
      quarantined.push_back(socket);
    }
  }
  for (const int socket : quarantined) {
    // Read by Publisher::detach_reason(); one that is gone already misses nothing.
    service::detail::send_message(socket, "detached " + by_socket_[socket]->violation);
    drop(socket);
  }
}

void ControlLoop::refuse(int socket, const std::string& why) {
  shared_.board.refusals.fetch_add(1, std::memory_order_relaxed);
  service::detail::send_message(socket, "refused " + why);  // one that left: poll sees it
}

std::shared_ptr<Attachment> ControlLoop::attach(int socket, std::string_view channel_name) {
  const ServiceConfig& config = shared_.config;
  if (const auto failure = shared_.failure()) {
    refuse(socket, fmt::format("it has failed ({}); it takes no more events until it is "
                               "restarted", *failure));
    return nullptr;
  }
  const auto channel =
      std::find_if(config.channels.begin(), config.channels.end(),
                   [&](const ChannelConfig& c) { return c.name == channel_name; });
  if (channel == config.channels.end()) {
    std::vector<std::string> names;
    for (const ChannelConfig& c : config.channels) names.push_back(c.name);
    refuse(socket, fmt::format("no channel \"{}\" (channels: {})", channel_name,
                               fmt::join(names, ", ")));
    return nullptr;
  }
  ring::MemoryOptions memory = config.ring_memory;
  if (memory.numa_node < 0) memory.numa_node = ring_node_;
  auto ring = ring::SharedRing::create(
      {}, channel->ring_bytes != 0 ? channel->ring_bytes : config.ring_bytes, memory);
  if (!ring) {
    refuse(socket, ring::to_string(ring.error()));
    return nullptr;
  }
  // The publisher is another process: its ring is read as untrusted input.
  auto consumer = ring->checked_consumer();
  if (!consumer) {
    refuse(socket, ring::to_string(consumer.error()));
    return nullptr;
  }
  const int ring_fd = ring->fd();
  auto attachment = std::shared_ptr<Attachment>(new Attachment{
      next_id_++, std::string(channel_name), peer_of(socket),
      shared_.channel_metrics(channel_name), std::move(*ring),
      std::move(*consumer)});
  // The channel's overflow terms and the sampling travel with the ring: the publisher applies
  // them.
  const std::string terms = fmt::format(
      "attached {} {} {} {}", attachment->id, service::to_string(channel->overflow),
      std::chrono::nanoseconds(channel->block_timeout).count(), config.latency_sample_every);
  if (service::detail::send_message(socket, terms, ring_fd) != 0) {
    return nullptr;  // gone already
  }
  shared_.attachments.add(attachment);
  shared_.board.attaches.fetch_add(1, std::memory_order_relaxed);
  return attachment;
}

}  // namespace ringlog::service
