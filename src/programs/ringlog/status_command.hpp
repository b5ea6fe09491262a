// `ringlog status`: asks a running service for its publishers, journal and durable lag, as
// text, JSON or Prometheus text exposition.
#pragma once

#include <ringlog/publisher.hpp>

#include <string>

#include <CLI/CLI.hpp>

#include <optional>

namespace ringlog::programs {

class StatusCommand {
 public:
  explicit StatusCommand(CLI::App& app);
  StatusCommand(const StatusCommand&) = delete;  // the command line points into it

  // 0 when the service answered, 2 when it could not be asked.
  std::optional<int> run() const;

 private:
  CLI::App* status_;
  service::AttachOptions service_;
  std::string format_ = "text";
};

}  // namespace ringlog::programs
