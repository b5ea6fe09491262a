#include "programs/ringlog/serve_command.hpp"

#include "programs/ringlog/exit_status.hpp"
#include "service/service.hpp"
#include "support/stop_signals.hpp"
#include "support/timing.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <utility>

namespace ringlog::app {

namespace {

// Where `ringlog serve` writes: stdout, or a file reopened on SIGHUP for log rotation.
class ServiceLog {
 public:
  explicit ServiceLog(std::filesystem::path path) : path_(std::move(path)) { reopen(); }
  ~ServiceLog() { close_file(); }
  ServiceLog(const ServiceLog&) = delete;
  ServiceLog& operator=(const ServiceLog&) = delete;

  // False when the file cannot be opened; the log then goes to stderr and says why.
  bool reopen() {
    if (path_.empty()) return true;
    close_file();
    out_ = std::fopen(path_.c_str(), "a");
    if (out_ != nullptr) return true;
    out_ = stderr;
    fmt::print(stderr, "ringlog serve: cannot open log {}: {}\n", path_.string(),
               std::strerror(errno));
    return false;
  }
  template <class... Args>
  void print(fmt::format_string<Args...> format, Args&&... args) {
    fmt::print(out_, format, std::forward<Args>(args)...);
    std::fflush(out_);
  }

 private:
  // The file this log opened, never the standard streams it falls back to.
  void close_file() {
    if (out_ != stdout && out_ != stderr) std::fclose(out_);
  }

  std::filesystem::path path_;
  std::FILE* out_ = stdout;
};

// The first lines of the service's log: where it serves, what it recovered, and why the run
// before it failed, when it did.
void log_start(ServiceLog& log, const ServiceConfig& config,
               const ServiceStatus& started) {
  log.print("ringlog serve: \"{}\" on {}, journal {} (next sequence {})\nplacement  {}\n"
            "journal    {}\n", config.name,
            (config.runtime_dir / (config.name + ".sock")).string(),
            config.journal_dir.string(), started.journal_next_sequence, started.placement,
            started.flush_backend);
  if (started.previous_failure) {
    log.print("previously FAILED (an earlier run): {} (recorded in {}; a clean stop clears "
              "it)\n",
              *started.previous_failure, failure_record_path(config).string());
  }
}

// Logs a status line every second until `seconds` have passed (0: forever) or SIGINT/SIGTERM;
// SIGHUP reopens the log. Should the journal fail, says so once and goes on answering `ringlog
// status` with the failure until stopped.
void watch_service(ServiceLog& log, const Service& service,
                   StopSignals& signals, double seconds) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = seconds > 0 ? Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                         std::chrono::duration<double>(seconds))
                                    : Clock::time_point::max();
  std::uint64_t last = service.status().journal_next_sequence;
  bool failure_logged = false;
  auto next_status = Clock::now() + std::chrono::seconds(1);
  while (Clock::now() < deadline) {
    const int signal = signals.wait(std::min(next_status, deadline) - Clock::now());
    if (signal == SIGHUP) {
      if (log.reopen()) log.print("log reopened (SIGHUP)\n");
      continue;
    }
    if (signal != 0) return;
    if (Clock::now() < next_status) continue;
    next_status += std::chrono::seconds(1);
    const ServiceStatus now = service.status();
    if (now.failure) {
      if (!std::exchange(failure_logged, true)) {
        log.print("FAILED: {}; taking no more events (publishers are told), `ringlog status` "
                  "reports this until the service is stopped\n", *now.failure);
      }
      continue;
    }
    log.print("[status] {} publisher(s), {} events/s, journal at {}, durable lag {}\n",
              now.publishers.size(), now.journal_next_sequence - last,
              now.journal_next_sequence,
              now.journal_next_sequence - now.journal_durable_sequence);
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
  return fmt::format("stopped: {}; {} attachment(s), {} refused\n", journal, status.attaches,
                     status.refusals);
}
// `ringlog serve`: 0 after a clean stop, 1 when the journal failed, 2 when it could not start.
int run_service(const std::filesystem::path& config_path, double seconds,
                const std::filesystem::path& log_path) {
  const auto config = checked_config(config_path, "serve");
  if (!config) return exit_could_not_start;
  ServiceLog log(log_path);
  StopSignals signals(/*with_hangup=*/true);  // before the service's threads
  auto service = Service::start(*config);
  if (!service) {
    fmt::print(stderr, "ringlog serve: {}\n", service.error().message());
    return exit_status_for(service.error());
  }
  log_start(log, *config, (*service)->status());
  watch_service(log, **service, signals, seconds);
  const auto stopped = (*service)->stop();
  log.print("{}", stop_line((*service)->status()));
  if (!stopped) {
    fmt::print(stderr, "ringlog serve: {}\n", stopped.error().message());
    return exit_status_for(stopped.error());
  }
  return exit_done;
}

}  // namespace

// The configuration at `path` (without one, the defaults), checked as `ringlog serve` checks it
// before it starts: check-config and serve run this one function, so that what one passes the
// other starts with. Nothing, after saying why on stderr, when it will not do.
std::optional<ServiceConfig> checked_config(const std::filesystem::path& path,
                                                          std::string_view command) {
  const auto config =
      path.empty() ? ServiceConfig{} : load_service_config(path);
  if (!config) {
    fmt::print(stderr, "ringlog {}: {}\n", command, config.error());
    return std::nullopt;
  }
  if (const auto problems = check_before_serving(*config)) {
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
  serve_->add_option("--duration", seconds_, "seconds to serve; 0 until SIGINT/SIGTERM")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  serve_->add_option("--log", log_path_, "append the service's log to this file, reopened "
                     "on SIGHUP (log rotation); default: stdout");
}

std::optional<int> ServeCommand::run() const {
  if (!serve_->parsed()) return std::nullopt;
  return run_service(config_path_, seconds_, log_path_);
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

}  // namespace ringlog::app
