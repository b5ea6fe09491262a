// The service's control thread: accepts publishers on the control socket and gives each a ring
// of its own, notices detaches (a closed connection, whether the publisher exited or died), and
// answers status requests. A publisher that broke its ring's protocol is told why and detached.
// Once the journal failed, it closes every connection and refuses new ones.
#pragma once

#include "service/service_shared.hpp"

#include <expected>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace ringlog::service {

// The listening control socket at `path`, with the mode and group the configuration asks for.
// A socket left by a service that is gone is replaced; one that answers is not.
std::expected<int, Error> listen_at(const std::filesystem::path& path,
                                    const std::string& group);

class ControlLoop {
 public:
  // `listener` is the socket listen_at() gave, closed with the loop; `ring_node` is where new
  // rings go (-1: anywhere); `status` makes the snapshot a status request answers with.
  ControlLoop(ServiceShared& shared, int listener, std::filesystem::path socket_path,
              int ring_node, std::function<ServiceStatus()> status);
  ~ControlLoop();
  ControlLoop(const ControlLoop&) = delete;
  ControlLoop& operator=(const ControlLoop&) = delete;

  // Until `shared.stopping`; then every connection is closed, the socket removed, and
  // `shared.control_done` set.
  void run();

 private:
  // An "attach <channel>" request on `socket`: a new ring for it, or a refusal.
  std::shared_ptr<Attachment> attach(int socket, std::string_view channel_name);
  void refuse(int socket, const std::string& why);
  void answer(int socket, const std::string& text);
  void drop(int socket);
  void drop_everyone();  // the journal failed: nothing more is taken
  // Tells each publisher the drain thread quarantined why, and closes its connection.
  void detach_quarantined();

  ServiceShared& shared_;
  int listener_;
  std::filesystem::path socket_path_;
  int ring_node_;
  std::function<ServiceStatus()> status_;
  std::map<int, std::shared_ptr<Attachment>> by_socket_;  // null until attached
  std::uint64_t next_id_ = 1;
};

}  // namespace ringlog::service
