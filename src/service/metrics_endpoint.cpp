#include "service/metrics_endpoint.hpp"

#include "placement/binding.hpp"

#include <civetweb.h>
#include <fmt/format.h>

#include <array>
#include <cstring>
#include <thread>

namespace ringlog::service {

namespace {

// civetweb's process-wide set-up, once, before the first server starts.
void init_civetweb_once() {
  static const bool initialised = [] {
    mg_init_library(0);
    return true;
  }();
  (void)initialised;
}

}  // namespace

std::expected<std::unique_ptr<MetricsEndpoint>, Error> MetricsEndpoint::start(
    const std::string& address, std::span<const int> cpus,
    std::function<std::string()> exposition) {
  init_civetweb_once();
  std::unique_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint(std::move(exposition)));
  // Two workers: a Prometheus server or two scraping, never a crowd. No document root: any
  // path but /metrics is a 404, and no file is ever served.
  const std::array<const char*, 9> options = {"listening_ports", address.c_str(),
                                              "num_threads",     "2",
                                              "request_timeout_ms", "10000",
                                              "enable_keep_alive",  "yes",
                                              nullptr};
  std::array<char, 256> why{};
  unsigned code = 0;
  mg_error_data error{&code, why.data(), why.size()};
  mg_callbacks callbacks{};
  mg_init_data init{&callbacks, endpoint.get(), const_cast<const char**>(options.data())};
  // civetweb's threads inherit the CPUs of the thread that starts them: one bound to `cpus`.
  std::expected<void, Error> bound;
  std::thread starter([&] {
    bound = placement::bind_this_thread(cpus);
    if (bound) endpoint->context_ = mg_start2(&init, &error);
  });
  starter.join();
  if (!bound) return std::unexpected(bound.error());
  if (endpoint->context_ == nullptr) {
    return std::unexpected(Error::because(
        SetupErrc::invalid_setting,
        fmt::format("[metrics] listen = \"{}\": cannot serve there: {}", address, why.data())));
  }
  mg_set_request_handler(endpoint->context_, "/metrics$", &MetricsEndpoint::serve,
                         endpoint.get());
  return endpoint;
}

MetricsEndpoint::~MetricsEndpoint() {
  if (context_ != nullptr) mg_stop(context_);
}

int MetricsEndpoint::serve(mg_connection* connection, void* endpoint) {
  const mg_request_info* request = mg_get_request_info(connection);
  const bool head = std::strcmp(request->request_method, "HEAD") == 0;
  if (!head && std::strcmp(request->request_method, "GET") != 0) {
    mg_send_http_error(connection, 405, "only GET and HEAD are served here\n");
    return 405;
  }
  const std::string body = static_cast<MetricsEndpoint*>(endpoint)->exposition_();
  // The text exposition format's content type, version 0.0.4.
  mg_send_http_ok(connection, "text/plain; version=0.0.4; charset=utf-8",
                  static_cast<long long>(body.size()));
  if (!head) mg_write(connection, body.data(), body.size());
  return 200;
}

}  // namespace ringlog::service
