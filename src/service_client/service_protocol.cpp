#include "service_client/service_protocol.hpp"

#include <ringlog/detail/assert.hpp>

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

namespace ringlog::service::detail {

namespace {

constexpr std::size_t max_message = 1 << 20;  // a status with many publishers

}  // namespace

std::filesystem::path socket_path(const std::filesystem::path& runtime_dir,
                                  std::string_view name) {
  return runtime_dir / (std::string(name) + ".sock");
}

std::expected<sockaddr_un, Error> unix_address(const std::filesystem::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.native().size() >= sizeof address.sun_path) {
    return std::unexpected(Error::because(
        SetupErrc::invalid_setting,
        fmt::format("socket path {} is too long: the kernel takes {} characters at most",
                    path.string(), sizeof address.sun_path - 1)));
  }
  std::memcpy(address.sun_path, path.c_str(), path.native().size());
  return address;
}

std::expected<Connection, Error> connect_to(const std::filesystem::path& path) {
  const auto address = unix_address(path);
  if (!address) return std::unexpected(address.error());
  const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected(Error::from_os(errno, "socket"));
  const bool connected =
      ::connect(fd, reinterpret_cast<const sockaddr*>(&*address), sizeof *address) == 0;
  return Connection{fd, connected ? 0 : errno};
}

int send_message(int socket, std::string_view text, int fd) noexcept {
  iovec part{const_cast<char*>(text.data()), text.size()};
  msghdr message{};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    cmsghdr* rights = CMSG_FIRSTHDR(&message);
    rights->cmsg_level = SOL_SOCKET;
    rights->cmsg_type = SCM_RIGHTS;
    rights->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(rights), &fd, sizeof fd);
  }
  while (::sendmsg(socket, &message, MSG_NOSIGNAL) < 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

std::expected<std::optional<Message>, int> receive_message(int socket) {
  std::string text(max_message, '\0');
  iovec part{text.data(), text.size()};
  msghdr message{};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t received;
  while ((received = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC)) < 0) {
    if (errno != EINTR) return std::unexpected(errno);
  }
  if (received == 0) return std::nullopt;  // SOCK_SEQPACKET: the peer closed
  // The kernel cuts a longer message to the buffer (MSG_TRUNC): the text is never longer.
  RINGLOG_CHECK(static_cast<std::size_t>(received) <= text.size(),
                "a message is no longer than the buffer it is received in");
  text.resize(static_cast<std::size_t>(received));
  Message result{std::move(text), -1};
  for (cmsghdr* part_header = CMSG_FIRSTHDR(&message); part_header != nullptr;
       part_header = CMSG_NXTHDR(&message, part_header)) {
    if (part_header->cmsg_level == SOL_SOCKET && part_header->cmsg_type == SCM_RIGHTS) {
      std::memcpy(&result.fd, CMSG_DATA(part_header), sizeof result.fd);
    }
  }
  return result;
}

}  // namespace ringlog::service::detail
