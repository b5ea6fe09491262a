// The journal service's control protocol, shared by the service and its publishers: one
// SOCK_SEQPACKET Unix socket per service, one connection per publisher, held open for as long
// as the publisher is attached (its closing, by exit or by death, is the detach). Messages are
// one line of text each; a ring travels as a descriptor beside its message (SCM_RIGHTS).
//   publisher → service   "attach <channel>"
//   service → publisher   "attached <publisher id>" with the ring's memfd
//                         "refused <why>"
//   anyone → service      "status text" | "status json" | "status prometheus"
//   service → anyone      the status in that format
#pragma once

#include <ringlog/error.hpp>

#include <sys/un.h>

#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace ringlog::service::detail {

// The control socket of the service `name` under `runtime_dir`.
std::filesystem::path socket_path(const std::filesystem::path& runtime_dir,
                                  std::string_view name);

// A new SOCK_SEQPACKET socket connected to `path`: its descriptor, or, when the connect fails,
// the descriptor of the unconnected socket (to close) and the errno. An error only when no
// socket could be made for that path.
struct Connection {
  int fd = -1;
  int connect_error = 0;
};
std::expected<Connection, Error> connect_to(const std::filesystem::path& path);
// The address of `path` for bind() or connect(); an error when the path is too long.
std::expected<sockaddr_un, Error> unix_address(const std::filesystem::path& path);

// Sends `text`, and `fd` beside it unless -1: 0, or an errno.
int send_message(int socket, std::string_view text, int fd = -1) noexcept;

struct Message {
  std::string text;
  int fd = -1;  // a descriptor that came with it, now the receiver's to close; -1: none
};
// The next message; nullopt when the peer has closed the connection; an errno on failure.
std::expected<std::optional<Message>, int> receive_message(int socket);

}  // namespace ringlog::service::detail
