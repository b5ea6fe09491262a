// Where `ringlog ship` and `ringlog fetch` reach NATS JetStream, as the configuration gives it:
// plain data, so that the configuration and the service compile without the NATS client, whose
// header only src/ship/ sees.
#pragma once

#include <expected>
#include <filesystem>
#include <string>
#include <vector>

namespace ringlog::ship {

struct NatsEndpoint {
  std::vector<std::string> servers;  // nats://host:port, tried in turn
  std::string stream = "RINGLOG";
  std::string subject = "ringlog.events";
  // A NATS .creds file, or a file whose first line is "user:password"; empty: no credentials.
  // Refused when anyone but its owner may read it.
  std::filesystem::path credentials_file;
};

// Checks what can be checked without a server: URLs without credentials in them, a stream and
// a subject, a credentials file that is private and of a known form.
std::expected<void, std::string> check_endpoint(const NatsEndpoint&);

}  // namespace ringlog::ship
