#include "programs/ringlog/serve_command.hpp"

#include "programs/ringlog/exit_status.hpp"
#include "programs/ringlog/service_log.hpp"
#include "programs/ringlog/systemd_notify.hpp"
#include "schema/payload_schema.hpp"
#include "service/service.hpp"
#include "support/stop_signals.hpp"
#include "support/timing.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <utility>

namespace ringlog::programs {

using service::Service;
using service::ServiceConfig;
using service::ServiceStatus;

namespace {

// The first lines of the service's log: where it serves, what it recovered, and why the run
// before it failed, when it did.
void log_start(ServiceLog& log, const ServiceConfig& config, const ServiceStatus& started) {
  const std::string socket = (config.runtime_dir / (config.name + ".sock")).string();
  log.write("info", "started",
            fmt::format("ringlog serve: \"{}\" on {}, journal {} (next sequence {})\n"
                        "placement  {}\njournal    {}",
                        config.name, socket, config.journal_dir.string(),
                        started.journal_next_sequence, started.placement, started.flush_backend),
            {{"name", config.name},
             {"socket", socket},
             {"journal", config.journal_dir.string()},
             {"next_sequence", started.journal_next_sequence},
             {"placement", started.placement},
             {"flush", started.flush_backend},
             {"metrics", config.metrics_listen}});
  if (started.previous_failure) {
    log.write("warning", "previously_failed",
              fmt::format("previously FAILED (an earlier run): {} (recorded in {}; a clean stop "
                          "clears it)",
                          *started.previous_failure, service::failure_record_path(config).string()),
              {{"reason", *started.previous_failure}});
  }
}

// Logs, once each, the violations counted since `logged` (status lists the latest few: more
// than that in one second are logged as a count). Returns the count now logged.
std::uint64_t log_violations(ServiceLog& log, const ServiceStatus& now, std::uint64_t logged) {
  const std::uint64_t fresh = now.violations - logged;
  const auto& latest = now.latest_violations;
  if (fresh > latest.size()) {
    log.write("warning", "violations_unlisted",
              fmt::format("{} more publishers broke their ring's protocol than are listed",
                          fresh - latest.size()),
              {{"count", fresh - latest.size()}});
  }
  for (auto v = latest.end() - std::min<std::uint64_t>(fresh, latest.size()); v != latest.end();
       ++v) {
    log.write("warning", "publisher_violation",
              fmt::format("publisher #{} (pid {}, uid {}, gid {}) on channel \"{}\" broke its "
                          "ring's protocol and was detached: {}",
                          v->id, v->peer.pid, v->peer.uid, v->peer.gid, v->channel, v->reason),
              {{"id", v->id},
               {"pid", v->peer.pid},
               {"uid", v->peer.uid},
               {"gid", v->peer.gid},
               {"channel", v->channel},
               {"reason", v->reason}});
  }
  return now.violations;
}

// The status line, logged every second and handed to systemd as STATUS=.
std::string status_line(const ServiceStatus& now, std::uint64_t events_in_the_second) {
  return fmt::format("[status] {} publisher(s), {} events/s, journal at {}, durable lag {}",
                     now.publishers.size(), events_in_the_second, now.journal_next_sequence,
                     now.journal_next_sequence - now.journal_durable_sequence);
}

void log_status(ServiceLog& log, const SystemdNotifier& systemd, const ServiceStatus& now,
                std::uint64_t events_in_the_second) {
  const std::string line = status_line(now, events_in_the_second);
  log.write("info", "status", line,
            {{"publishers", now.publishers.size()},
             {"events_per_second", events_in_the_second},
             {"journal_next_sequence", now.journal_next_sequence},
             {"journal_durable_sequence", now.journal_durable_sequence},
             {"durable_lag", now.journal_next_sequence - now.journal_durable_sequence}});
  systemd.status(line);
}

// Logs a status line every second until `seconds` have passed (0: forever) or SIGINT/SIGTERM;
// SIGHUP reopens the log; feeds systemd's watchdog while the service is responsive. Should the
// journal fail, says so once and goes on answering `ringlog status` with the failure until
// stopped.
void watch_service(ServiceLog& log, const SystemdNotifier& systemd, Service& service,
                   support::StopSignals& signals, double seconds) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = seconds > 0 ? Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                         std::chrono::duration<double>(seconds))
                                    : Clock::time_point::max();
  std::uint64_t last = service.status().journal_next_sequence;
  std::uint64_t violations_logged = 0;
  bool failure_logged = false;
  auto next_status = Clock::now() + std::chrono::seconds(1);
  auto next_watchdog = systemd.watchdog_every() ? Clock::now() : Clock::time_point::max();
  while (Clock::now() < deadline) {
    const int signal = signals.wait(std::min({next_status, next_watchdog, deadline}) -
                                    Clock::now());
    if (signal == SIGHUP) {
      if (log.reopen()) log.write("info", "log_reopened", "log reopened (SIGHUP)");
      continue;
    }
    if (signal != 0) return;
    if (Clock::now() >= next_watchdog) {
      // Not fed while a thread is wedged: systemd then restarts the service.
      if (service.responsive()) systemd.watchdog();
      next_watchdog += *systemd.watchdog_every();
    }
    if (Clock::now() < next_status) continue;
    next_status += std::chrono::seconds(1);
    const ServiceStatus now = service.status();
    violations_logged = log_violations(log, now, violations_logged);
    if (now.failure) {
      if (!std::exchange(failure_logged, true)) {
        log.write("error", "failed",
                  fmt::format("FAILED: {}; taking no more events (publishers are told), "
                              "`ringlog status` reports this until the service is stopped",
                              *now.failure),
                  {{"reason", *now.failure}});
        systemd.status("FAILED: " + *now.failure);
      }
      continue;
    }
    log_status(log, systemd, now, now.journal_next_sequence - last);
    last = now.journal_next_sequence;
  }
}

// The line the service stops with: exact about what is durable, whatever happened.
std::string stop_line(const ServiceStatus& status) {
  const std::uint64_t next = status.journal_next_sequence;
  const std::uint64_t durable = status.journal_durable_sequence;
  const std::string lost =
      durable == next ? std::string("none after them was appended")
                      : fmt::format("events {} to {} may be lost", durable, next - 1);
  const std::string journal =
      status.failure ? fmt::format("the journal FAILED ({}): sequences below {} are durable, {}",
                                   *status.failure, durable, lost)
      : durable == next ? fmt::format("journal holds sequences up to {}, all durable", next)
                        : fmt::format("journal holds sequences up to {}, durable up to {}",
                                      next, durable);
  return fmt::format("stopped: {}; {} attachment(s), {} refused", journal, status.attaches,
                     status.refusals);
}

void log_stop(ServiceLog& log, const ServiceStatus& status) {
  log.write(status.failure ? "error" : "info", "stopped", stop_line(status),
            {{"journal_next_sequence", status.journal_next_sequence},
             {"journal_durable_sequence", status.journal_durable_sequence},
             {"failure", status.failure ? nlohmann::ordered_json(*status.failure) : nullptr},
             {"attaches", status.attaches},
             {"refusals", status.refusals}});
}

// `ringlog serve`: 0 after a clean stop, 1 when the journal failed, 2 when it could not start.
// The configured payload schema into the journal (checked before the service started). Events
// do not depend on it: a failure is said, and the service goes on.
void install_journal_schema(ServiceLog& log, const service::ServiceConfig& config) {
  if (config.journal_schema.empty()) return;
  auto loaded = schema::Schema::load(config.journal_schema);
  auto installed = loaded ? schema::install_schema(*loaded, config.journal_dir)
                          : std::expected<void, Error>(std::unexpected(loaded.error()));
  if (!installed) {
    log.write("warning", "schema_not_installed", fmt::format(
        "the payload schema was not put into the journal: {}", installed.error().message()));
  }
}

int run_service(const std::filesystem::path& config_path, const std::filesystem::path& schema,
                double seconds, const std::filesystem::path& log_path, LogFormat log_format) {
  const auto config = checked_config(config_path, "serve", schema);
  if (!config) return exit_could_not_start;
  ServiceLog log(log_path, log_format);
  const SystemdNotifier systemd;
  support::StopSignals signals(/*with_hangup=*/true);  // before the service's threads
  auto service = Service::start(*config);
  if (!service) {
    log.complain("not_started", "ringlog serve: " + service.error().message());
    return exit_status_for(service.error());
  }
  install_journal_schema(log, *config);
  const ServiceStatus started = (*service)->status();
  log_start(log, *config, started);
  // Publishers can attach from here on: the socket listens and both threads run.
  systemd.ready(status_line(started, 0));
  watch_service(log, systemd, **service, signals, seconds);
  systemd.stopping("stopping: draining every ring, making the journal durable");
  const auto stopped = (*service)->stop();
  const ServiceStatus last = (*service)->status();
  log_stop(log, last);
  systemd.status(stop_line(last));
  if (!stopped) {
    log.complain("failed", "ringlog serve: " + stopped.error().message());
    return exit_status_for(stopped.error());
  }
  return exit_done;
}

}  // namespace

// The configuration at `path` (without one, the defaults), checked as `ringlog serve` checks it
// before it starts: check-config and serve run this one function, so that what one passes the
// other starts with. Nothing, after saying why on stderr, when it will not do.
std::optional<service::ServiceConfig> checked_config(const std::filesystem::path& path,
                                                     std::string_view command,
                                                     const std::filesystem::path& schema) {
  auto config = path.empty() ? service::ServiceConfig{} : service::load_service_config(path);
  if (!config) {
    fmt::print(stderr, "ringlog {}: {}\n", command, config.error().message());
    return std::nullopt;
  }
  if (!schema.empty()) config->journal_schema = schema;
  if (const auto problems = service::check_before_serving(*config)) {
    fmt::print(stderr, "ringlog {}: {}\n", command, *problems);
    return std::nullopt;
  }
  return *config;
}

ServeCommand::ServeCommand(CLI::App& app)
    : serve_(app.add_subcommand(
          "serve", "run the journal service: publishing processes attach by name "
                   "(ringlog::service::Publisher) and each gets a shared ring, drained into "
                   "one journal; SIGINT/SIGTERM drain everything, make it durable and exit 0 "
                   "(1 when the journal failed)")) {
  serve_->add_option("--config", config_path_, "TOML file (tuning/ringlog.toml documents "
                     "every key; without one, the defaults)");
  serve_->add_option("--schema", schema_path_, "payload schema (TOML) to put into the journal "
                     "as schema.toml, instead of [journal] schema");
  serve_->add_option("--duration", seconds_, "seconds to serve; 0 until SIGINT/SIGTERM")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  serve_->add_option("--log", log_path_, "append the service's log to this file, reopened "
                     "on SIGHUP (log rotation); default: stdout");
  serve_->add_option("--log-format", log_format_, "text for a person; json for a log shipper: "
                     "one object a line, with time, level, event, message and the figures")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
}

std::optional<int> ServeCommand::run() const {
  if (!serve_->parsed()) return std::nullopt;
  return run_service(config_path_, schema_path_, seconds_, log_path_,
                     log_format_ == "json" ? LogFormat::json : LogFormat::text);
}

CheckConfigCommand::CheckConfigCommand(CLI::App& app)
    : check_config_(app.add_subcommand(
          "check-config", "check a service configuration file (tuning/ringlog.toml documents "
                          "every key) as `serve` checks it before it starts, and print what "
                          "the service would run with; without a file, the defaults. Exit "
                          "status 0 valid, 2 not")) {
  check_config_->add_option("file", config_path_, "TOML file");
}

std::optional<int> CheckConfigCommand::run() const {
  if (!check_config_->parsed()) return std::nullopt;
  const auto config = checked_config(config_path_, "check-config");
  if (config) fmt::print("{}", config->to_toml());
  return config ? 0 : 2;
}

}  // namespace ringlog::programs
