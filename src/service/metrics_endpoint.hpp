// The service's Prometheus endpoint: `[metrics] listen` serves the status's text exposition
// over HTTP at /metrics. The HTTP side is civetweb's (Debian's libcivetweb), not ours: its
// threads parse requests, and each scrape asks the service for a fresh snapshot.
#pragma once

#include <ringlog/error.hpp>

#include <expected>
#include <functional>
#include <memory>
#include <span>
#include <string>

struct mg_connection;
struct mg_context;

namespace ringlog::service {

class MetricsEndpoint {
 public:
  // Listens on `address` ("127.0.0.1:9464", "[::1]:9464") with its threads bound to `cpus`
  // (the housekeeping CPUs: a scrape never takes the producer's or the consumer's CPU);
  // `exposition` makes each response's body. The error names the address and why (in use, no
  // permission, no such interface).
  static std::expected<std::unique_ptr<MetricsEndpoint>, Error> start(
      const std::string& address, std::span<const int> cpus,
      std::function<std::string()> exposition);
  ~MetricsEndpoint();  // stops listening and joins civetweb's threads
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

 private:
  explicit MetricsEndpoint(std::function<std::string()> exposition)
      : exposition_(std::move(exposition)) {}
  static int serve(mg_connection* connection, void* endpoint);

  std::function<std::string()> exposition_;
  mg_context* context_ = nullptr;
};

}  // namespace ringlog::service
