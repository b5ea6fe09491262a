#include "programs/ringlog/status_command.hpp"

#include "programs/ringlog/exit_status.hpp"
#include "service/service.hpp"

#include <fmt/format.h>

namespace ringlog::programs {

StatusCommand::StatusCommand(CLI::App& app)
    : status_(app.add_subcommand("status", "the running service's publishers, journal and "
                                           "durable lag; --prometheus for a scrape")) {
  status_->add_option("--service", service_.service, "the service's name")->capture_default_str();
  status_->add_option("--runtime-dir", service_.runtime_dir, "the service's runtime_dir")
      ->capture_default_str();
  status_->add_flag("--json{json}", format_, "one JSON object");
  status_->add_flag("--prometheus{prometheus}", format_, "Prometheus text exposition");
}

std::optional<int> StatusCommand::run() const {
  if (!status_->parsed()) return std::nullopt;
  const auto reply = service::query_status(service_.runtime_dir, service_.service, format_);
  if (!reply) {
    fmt::print(stderr, "ringlog status: {}\n", reply.error().message());
    return exit_status_for(reply.error());
  }
  fmt::print("{}", *reply);
  return 0;
}

}  // namespace ringlog::programs
