// ringlog: the journal service and its tools. Without a subcommand it runs the built-in demo:
// synthetic market data through the ring and the dispatcher into a journal, with a live status
// line. `ringlog dump`, `ringlog verify` and `ringlog tail` read journals and log files;
// `ringlog doctor` audits the host.
#include "programs/ringlog/host_check.hpp"
#include "support/latency_histogram.hpp"
#include "programs/ringlog/log_tools.hpp"
#include "programs/stress/pipeline.hpp"
#include "programs/stress/pipeline_options.hpp"
#include "placement/plan.hpp"
#include "service/service.hpp"
#include "service/service_config.hpp"
#include "programs/ringlog/ship_commands.hpp"
#include "support/stop_signals.hpp"

#include <ringlog/detail/cpu_relax.hpp>
#include <ringlog/event.hpp>
#include <ringlog/publisher.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstring>
#include <thread>

namespace {

// splitmix64: a cheap, well-mixed hash, so every field is a pure function of the sequence.
std::uint64_t mix(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EB;
  return x ^ (x >> 31);
}

enum MarketEvent : std::uint8_t { quote = 1, trade = 2 };

// One market-data tick: which instrument, at what price (in ticks) and size, on which side.
struct Tick {
  std::uint64_t sequence;
  std::uint32_t instrument;
  std::uint32_t quantity;
  std::int64_t price_ticks;
  std::uint8_t side;  // 0 bid, 1 ask
  std::uint8_t padding[7];
};
static_assert(sizeof(Tick) == 32);

std::uint8_t market_event_type(std::uint64_t sequence) noexcept {
  return mix(sequence) % 10 == 0 ? trade : quote;  // about one trade per ten quotes
}

void fill_tick(std::uint64_t sequence, std::span<std::byte> payload) noexcept {
  const std::uint64_t random = mix(sequence);
  Tick tick{};
  tick.sequence = sequence;
  tick.instrument = static_cast<std::uint32_t>(random % 500);
  tick.quantity = static_cast<std::uint32_t>(100 * (1 + (random >> 12) % 50));
  tick.price_ticks = 1'000'000 + static_cast<std::int64_t>((random >> 24) % 20'000) - 10'000;
  tick.side = static_cast<std::uint8_t>((random >> 40) & 1);
  std::memcpy(payload.data(), &tick, sizeof tick);
}

struct PublishOptions {
  ringlog::service::AttachOptions attach;
  std::uint64_t count = 1'000'000;
  double rate = 1'000'000;  // events/s; 0: as fast as the ring takes them
};

// `ringlog publish`: attaches to the service and writes synthetic market data, each event paced
// from its intended send time, then waits until all of it is durable. Should the service go
// away, it attaches again and writes again every event that was not yet durable: the journal
// then holds each event at least once.
class PublishRun {
 public:
  PublishRun(const PublishOptions& options, ringlog::service::Publisher publisher)
      : options_(options), publisher_(std::move(publisher)) {}

  // 0 when every event is durable, 1 when the service went away for good.
  int run() {
    for (;;) {
      if (write_all() && wait_until_durable()) break;
      if (const auto gave_up = attach_again()) {
        fmt::print(stderr, "ringlog publish: {}; {} of {} events durable\n", *gave_up,
                   durable(), options_.count);
        return 1;
      }
    }
    print_results();
    return 0;
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Sample {
    std::uint64_t sequence;
    Clock::time_point committed;
  };
  // Commit → durable latency of one event in every `sample_every`, and the write cost of runs
  // of that many events.
  static constexpr std::uint64_t sample_every = 1024;
  // The connection is looked at once in this many waits, so waiting stays free of syscalls.
  static constexpr std::uint64_t look_every = 1 << 20;

  std::uint64_t durable() const { return first_ + publisher_.durable_events(); }
  bool service_gone() { return ++waits_ % look_every == 0 && !publisher_.connected(); }

  // Writes the events not yet written; false when the service went away first.
  bool write_all() {
    for (; sequence_ < options_.count; ++sequence_) {
      Clock::time_point write_start{};
      if (options_.rate > 0) {
        const auto due = start_ + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(double(sequence_) /
                                                                    options_.rate));
        while ((write_start = Clock::now()) < due) ringlog::detail::cpu_relax();
      }
      const ringlog::event::EventHeader header(sequence_, market_event_type(sequence_),
                                               sizeof(Tick));
      std::optional<std::span<std::byte>> payload;
      while (!(payload = publisher_.producer().try_claim(header))) {
        ++full_;  // never dropped: wait for room
        if (service_gone()) return false;
      }
      fill_tick(sequence_, *payload);
      publisher_.producer().commit();
      if (options_.rate > 0) {  // paced: each write timed from its due time's start
        paced_write_ns_.record(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - write_start)
                .count()));
      }
      if (sequence_ % sample_every == 0) take_sample();
      settle_samples();
    }
    return true;
  }

  // False when the service went away before every event was durable.
  bool wait_until_durable() {
    while (durable() < options_.count) {
      settle_samples();
      if (service_gone()) return false;
    }
    settle_samples();
    return true;
  }

  // Into a preallocated queue, so that measuring allocates nothing. The write cost counts runs
  // that never found the ring full, timed whole and divided, so the clock's cost is spread thin.
  void take_sample() {
    const auto now = Clock::now();
    if (options_.rate == 0 && full_ == full_at_run_start_ && sequence_ != 0) {
      write_ns_.record(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - run_start_).count() /
          std::int64_t{sample_every}));
    }
    run_start_ = now;
    full_at_run_start_ = full_;
    if (samples_taken_ - samples_done_ < samples_.size()) {
      samples_[samples_taken_++ % samples_.size()] = {sequence_, now};
    }
  }

  void settle_samples() {
    const std::uint64_t now_durable = durable();
    const auto oldest = [&]() -> const Sample& { return samples_[samples_done_ % samples_.size()]; };
    if (samples_done_ == samples_taken_ || oldest().sequence >= now_durable) return;
    const auto now = Clock::now();
    for (; samples_done_ < samples_taken_ && oldest().sequence < now_durable; ++samples_done_) {
      latency_ns_.record(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - oldest().committed)
              .count()));
    }
  }

  // After the service went away: it may be restarting (a minute for it to come back), or be up
  // and refusing (it has failed), when waiting is pointless. Why it gave up, or nothing.
  std::optional<std::string> attach_again() {
    fmt::print("ringlog publish: the service went away with {} events durable; attaching "
               "again\n", durable());
    std::fflush(stdout);
    std::string why;
    for (int attempt = 0; attempt < 600; ++attempt) {
      auto again = ringlog::service::Publisher::attach(options_.attach);
      if (again) {
        first_ = sequence_ = durable();
        publisher_ = std::move(*again);
        return std::nullopt;
      }
      why = again.error();
      if (why.starts_with("the service refused")) return why;  // it is up, and says no
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // it is restarting
    }
    return "the service did not come back within a minute: " + why;
  }

  void print_results() const {
    const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    fmt::print("published {} events in {:.2f} s ({:.2f} M events/s, {} waits on a full ring); "
               "all durable\n", options_.count, seconds,
               double(options_.count) / seconds / 1e6, full_);
    const auto us = [&](double percentile) {
      return double(latency_ns_.value_at_percentile(percentile)) / 1e3;
    };
    fmt::print("commit → durable, {} sampled events: p50 {:.0f} µs, p99 {:.0f} µs, p99.9 "
               "{:.0f} µs, max {:.0f} µs\n", latency_ns_.count(), us(50), us(99), us(99.9),
               double(latency_ns_.max()) / 1e3);
    if (paced_write_ns_.count() != 0) {
      const auto ns = [&](double percentile) {
        return paced_write_ns_.value_at_percentile(percentile);
      };
      fmt::print("write latency, paced, {} events: p50 {} ns, p99 {} ns, p99.9 {} ns, p99.99 "
                 "{} ns, max {} ns\n", paced_write_ns_.count(), ns(50), ns(99), ns(99.9),
                 ns(99.99), paced_write_ns_.max());
    }
    if (write_ns_.count() != 0) {
      fmt::print("write cost with room in the ring: {} ns per event (median of {} runs of {})\n",
                 write_ns_.value_at_percentile(50), write_ns_.count(), sample_every);
    }
  }

  const PublishOptions& options_;
  ringlog::service::Publisher publisher_;
  const Clock::time_point start_ = Clock::now();
  std::uint64_t first_ = 0;     // the sequence this attachment started at
  std::uint64_t sequence_ = 0;  // the next to write
  std::uint64_t full_ = 0;      // writes that found the ring full
  std::uint64_t waits_ = 0;
  std::vector<Sample> samples_ = std::vector<Sample>(1 << 16);
  std::uint64_t samples_taken_ = 0;
  std::uint64_t samples_done_ = 0;
  ringlog::detail::LatencyHistogram latency_ns_;
  ringlog::detail::LatencyHistogram write_ns_;
  // Paced runs time every write alone, claim to commit, clock reads included: what a producer
  // sees of each event, spikes and all.
  ringlog::detail::LatencyHistogram paced_write_ns_;
  Clock::time_point run_start_ = Clock::now();
  std::uint64_t full_at_run_start_ = 0;
};

// `ringlog publish`: 0 when all events are durable, 1 when the service went away for good, 2
// when it could not attach.
int run_publisher(const PublishOptions& options) {
  auto publisher = ringlog::service::Publisher::attach(options.attach);
  if (!publisher) {
    fmt::print(stderr, "ringlog publish: {}\n", publisher.error());
    return 2;
  }
  return PublishRun(options, std::move(*publisher)).run();
}

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
void log_start(ServiceLog& log, const ringlog::app::ServiceConfig& config,
               const ringlog::app::ServiceStatus& started) {
  log.print("ringlog serve: \"{}\" on {}, journal {} (next sequence {})\nplacement  {}\n"
            "journal    {}\n", config.name,
            (config.runtime_dir / (config.name + ".sock")).string(),
            config.journal_dir.string(), started.journal_next_sequence, started.placement,
            started.flush_backend);
  if (started.previous_failure) {
    log.print("previously FAILED (an earlier run): {} (recorded in {}; a clean stop clears "
              "it)\n",
              *started.previous_failure, ringlog::app::failure_record_path(config).string());
  }
}

// Logs a status line every second until `seconds` have passed (0: forever) or SIGINT/SIGTERM;
// SIGHUP reopens the log. Should the journal fail, says so once and goes on answering `ringlog
// status` with the failure until stopped.
void watch_service(ServiceLog& log, const ringlog::app::Service& service,
                   ringlog::app::StopSignals& signals, double seconds) {
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
    const ringlog::app::ServiceStatus now = service.status();
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
std::string stop_line(const ringlog::app::ServiceStatus& status) {
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

// The configuration at `path` (without one, the defaults), checked as `ringlog serve` checks it
// before it starts: check-config and serve run this one function, so that what one passes the
// other starts with. Nothing, after saying why on stderr, when it will not do.
std::optional<ringlog::app::ServiceConfig> checked_config(const std::filesystem::path& path,
                                                          std::string_view command) {
  const auto config =
      path.empty() ? ringlog::app::ServiceConfig{} : ringlog::app::load_service_config(path);
  if (!config) {
    fmt::print(stderr, "ringlog {}: {}\n", command, config.error());
    return std::nullopt;
  }
  if (const auto problems = ringlog::app::check_before_serving(*config)) {
    fmt::print(stderr, "ringlog {}: {}\n", command, *problems);
    return std::nullopt;
  }
  return *config;
}

// `ringlog serve`: 0 after a clean stop, 1 when the journal failed, 2 when it could not start.
int run_service(const std::filesystem::path& config_path, double seconds,
                const std::filesystem::path& log_path) {
  const auto config = checked_config(config_path, "serve");
  if (!config) return 2;
  ServiceLog log(log_path);
  ringlog::app::StopSignals signals(/*with_hangup=*/true);  // before the service's threads
  auto service = ringlog::app::Service::start(*config);
  if (!service) {
    fmt::print(stderr, "ringlog serve: {}\n", service.error());
    return 2;
  }
  log_start(log, *config, (*service)->status());
  watch_service(log, **service, signals, seconds);
  const auto stopped = (*service)->stop();
  log.print("{}", stop_line((*service)->status()));
  if (!stopped) {
    fmt::print(stderr, "ringlog serve: {}\n", stopped.error());
    return 1;
  }
  return 0;
}

// `ringlog doctor`: 0 fit for production, 1 not fit, 2 could not check.
int run_doctor(ringlog::app::HostCheckOptions options, const std::vector<int>& cpus, bool json) {
  if (cpus.empty() && options.root != "/") {
    fmt::print(stderr, "ringlog doctor: --root needs --cpus: this host's topology says nothing "
                       "about another's\n");
    return 2;
  }
  if (cpus.empty()) {
    const auto placement = ringlog::placement::plan({{}, options.journal_dir});
    if (!placement) {
      fmt::print(stderr, "ringlog doctor: {}\n", placement.error());
      return 2;
    }
    if (!placement->pair) {
      fmt::print(stderr, "ringlog doctor: this process may use only one CPU: a producer and a "
                         "consumer need two\n");
      return 2;
    }
    options.producer_cpu = placement->pair->producer_cpu;
    options.consumer_cpu = placement->pair->consumer_cpu;
  } else {
    options.producer_cpu = cpus[0];
    options.consumer_cpu = cpus[1];
  }
  const ringlog::app::HostReport report = ringlog::app::check_host(options);
  if (json) {
    ringlog::app::print_host_report_json(report, stdout);
  } else {
    ringlog::app::print_host_report(report, stdout);
  }
  return report.fit_for_production() ? 0 : 1;
}

// `ringlog dump`, `verify` and `tail`: the tools that read journals and log files.
class LogToolCommands {
 public:
  explicit LogToolCommands(CLI::App& app)
      : dump_(app.add_subcommand("dump", "print every intact event of a journal directory or a "
                                         "log file")),
        verify_(app.add_subcommand("verify", "check every record of a journal directory or a "
                                             "log file; exit status 0 intact, 1 damaged or "
                                             "foreign, 2 not a journal or log")),
        tail_(app.add_subcommand("tail", "print the newest events of a journal; -f follows new "
                                         "ones as they are appended")) {
    dump_->add_option("path", path_, "journal directory or log file")->required();
    dump_->add_flag("--json", json_, "one JSON object per line");
    verify_->add_option("path", path_, "journal directory or log file")->required();
    tail_->add_option("directory", path_, "journal directory")->required();
    tail_->add_flag("-f,--follow", tail_options_.follow, "keep printing new events until Ctrl-C");
    tail_->add_option("-n,--last", tail_options_.last, "how many of the newest events")
        ->capture_default_str();
    tail_->add_option("--from", tail_options_.from, "start at this sequence number instead");
    tail_->add_flag("--json", tail_options_.json, "one JSON object per line");
  }
  LogToolCommands(const LogToolCommands&) = delete;  // the command line points into it

  // The exit status of the subcommand given, or nothing when none of these was.
  std::optional<int> run() const {
    if (dump_->parsed()) return ringlog::app::dump_log(path_, json_, stdout);
    if (verify_->parsed()) return ringlog::app::verify_log(path_, stdout);
    if (tail_->parsed()) return ringlog::app::tail_journal(path_, tail_options_, stdout);
    return std::nullopt;
  }

 private:
  CLI::App* dump_;
  CLI::App* verify_;
  CLI::App* tail_;
  std::filesystem::path path_;
  bool json_ = false;
  ringlog::app::TailOptions tail_options_;
};

// `ringlog doctor`.
class DoctorCommand {
 public:
  explicit DoctorCommand(CLI::App& app)
      : doctor_(app.add_subcommand("doctor", "audit this host for a core pair and a journal "
                                             "path: PASS/WARN/FAIL per item with the fix; exit "
                                             "status 0 fit for production, 1 not fit, 2 could "
                                             "not check")) {
    options_.journal_dir = "ringlog-journal";
    doctor_->add_option("--cpus", cpus_, "the producer's and the consumer's CPU (default: the "
                        "pair ringlog would choose)")->delimiter(',')->expected(2);
    doctor_->add_option("--journal", options_.journal_dir, "journal directory (need not exist "
                        "yet)")->capture_default_str();
    doctor_->add_option("--ring-bytes", options_.ring_bytes, "ring capacity to plan hugepages "
                        "and locking for")->capture_default_str();
    doctor_->add_option("--root", options_.root, "read /proc and /sys under this directory: a "
                        "copy of another host's files (needs --cpus)");
    doctor_->add_flag("--json", json_, "one JSON object instead of text");
  }
  DoctorCommand(const DoctorCommand&) = delete;

  std::optional<int> run() const {
    if (!doctor_->parsed()) return std::nullopt;
    return run_doctor(options_, cpus_, json_);
  }

 private:
  CLI::App* doctor_;
  ringlog::app::HostCheckOptions options_;
  std::vector<int> cpus_;
  bool json_ = false;
};

// `ringlog check-config`, `serve`, `status` and `publish`: the journal service and its clients.
class ServiceCommands {
 public:
  explicit ServiceCommands(CLI::App& app)
      : check_config_(app.add_subcommand(
            "check-config", "check a service configuration file (tuning/ringlog.toml documents "
                            "every key) as `serve` checks it before it starts, and print what "
                            "the service would run with; without a file, the defaults. Exit "
                            "status 0 valid, 2 not")),
        serve_(app.add_subcommand(
            "serve", "run the journal service: publishing processes attach by name "
                     "(ringlog::service::Publisher) and each gets a shared ring, drained into "
                     "one journal; SIGINT/SIGTERM drain everything, make it durable and exit 0 "
                     "(1 when the journal failed)")),
        status_(app.add_subcommand("status", "the running service's publishers, journal and "
                                             "durable lag; --prometheus for a scrape")),
        publish_(app.add_subcommand("publish", "attach to a running `ringlog serve` and write "
                                               "synthetic market data into its journal; waits "
                                               "until every event is durable")) {
    check_config_->add_option("file", config_path_, "TOML file");
    serve_->add_option("--config", config_path_, "TOML file (tuning/ringlog.toml documents "
                       "every key; without one, the defaults)");
    serve_->add_option("--duration", serve_seconds_, "seconds to serve; 0 until SIGINT/SIGTERM")
        ->check(CLI::NonNegativeNumber)->capture_default_str();
    serve_->add_option("--log", serve_log_, "append the service's log to this file, reopened "
                       "on SIGHUP (log rotation); default: stdout");
    add_status_options();
    add_publish_options();
  }
  ServiceCommands(const ServiceCommands&) = delete;

  std::optional<int> run() const {
    if (serve_->parsed()) return run_service(config_path_, serve_seconds_, serve_log_);
    if (publish_->parsed()) return run_publisher(publish_options_);
    if (status_->parsed()) return print_status();
    if (check_config_->parsed()) {
      const auto config = checked_config(config_path_, "check-config");
      if (config) fmt::print("{}", config->to_toml());
      return config ? 0 : 2;
    }
    return std::nullopt;
  }

 private:
  void add_status_options() {
    status_->add_option("--service", status_of_.service, "the service's name")
        ->capture_default_str();
    status_->add_option("--runtime-dir", status_of_.runtime_dir, "the service's runtime_dir")
        ->capture_default_str();
    status_->add_flag("--json{json}", status_format_, "one JSON object");
    status_->add_flag("--prometheus{prometheus}", status_format_, "Prometheus text exposition");
  }
  void add_publish_options() {
    PublishOptions& o = publish_options_;
    publish_->add_option("--count", o.count, "events to write")->capture_default_str();
    publish_->add_option("--rate", o.rate, "events/s; 0 as fast as possible")
        ->check(CLI::NonNegativeNumber)->capture_default_str();
    publish_->add_option("--channel", o.attach.channel)->capture_default_str();
    publish_->add_option("--service", o.attach.service, "the service's name")
        ->capture_default_str();
    publish_->add_option("--runtime-dir", o.attach.runtime_dir, "the service's runtime_dir")
        ->capture_default_str();
  }
  int print_status() const {
    const auto reply =
        ringlog::app::query_status(status_of_.runtime_dir, status_of_.service, status_format_);
    if (!reply) {
      fmt::print(stderr, "ringlog status: {}\n", reply.error());
      return 2;
    }
    fmt::print("{}", *reply);
    return 0;
  }

  CLI::App* check_config_;
  CLI::App* serve_;
  CLI::App* status_;
  CLI::App* publish_;
  std::filesystem::path config_path_;
  double serve_seconds_ = 0;
  std::filesystem::path serve_log_;
  ringlog::service::AttachOptions status_of_;
  std::string status_format_ = "text";
  PublishOptions publish_options_;
};

// Without a subcommand: the single-process demo, synthetic market data through the pipeline.
class DemoCommand {
 public:
  explicit DemoCommand(CLI::App& app) {
    options_.journal_dir = "ringlog-journal";
    options_.events_per_second = 1'000'000;
    CLI::Option* duration = app.add_option("--duration", duration_s_, "seconds to run; 0 runs "
                                           "until SIGINT/SIGTERM")
        ->check(CLI::NonNegativeNumber)->capture_default_str();
    app.add_option("--count", options_.event_count, "events to write, then stop (instead of "
                   "--duration)")->check(CLI::PositiveNumber)->excludes(duration);
    app.add_option("--rate", options_.events_per_second, "events per second; 0 for as fast as "
                   "possible")->check(CLI::NonNegativeNumber)->capture_default_str();
    app.add_option("--dir", options_.journal_dir, "journal directory")->capture_default_str();
    ringlog::app::add_pipeline_options(app, options_);
  }
  DemoCommand(const DemoCommand&) = delete;

  // 0 when every event written was persisted and verified, 1 when not, 2 when it cannot start.
  int run() {
    options_.duration = std::chrono::duration<double>(duration_s_ > 0 ? duration_s_ : 1e9);
    const ringlog::app::EventSource ticks{sizeof(Tick), market_event_type, fill_tick, true};
    fmt::print("ringlog demo: synthetic market data at {} → {}/ ({}; Ctrl-C stops)\n",
               options_.events_per_second > 0
                   ? fmt::format("{:.0f} events/s", options_.events_per_second)
                   : std::string("full speed"),
               options_.journal_dir.string(),
               options_.event_count != 0 ? fmt::format("{} events", options_.event_count)
               : duration_s_ > 0         ? fmt::format("{:g} s", duration_s_)
                                         : std::string("until stopped"));
    std::fflush(stdout);
    const auto ran = ringlog::app::run_pipeline(options_, ticks);
    if (!ran) {
      fmt::print(stderr, "ringlog: {}\n", ran.error());
      return 2;
    }
    const ringlog::app::PipelineReport& report = *ran;
    fmt::print("\nstopped{}: {:.2f} s\n", report.interrupted ? " by signal" : "",
               report.seconds);
    ringlog::app::print_report(report, ringlog::event::EventHeader::SIZE + sizeof(Tick));
    return ringlog::app::succeeded(report) ? 0 : 1;
  }

 private:
  ringlog::app::PipelineOptions options_;
  double duration_s_ = 10;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ringlog: low-latency event journal. Without a subcommand: the built-in "
               "market-data demo."};
  // Not const: the command line writes into them as it is parsed.
  LogToolCommands tools(app);
  DoctorCommand doctor(app);
  ServiceCommands service(app);
  const ringlog::app::ShipCommands ship(app);  // its options live behind a pointer
  DemoCommand demo(app);
  if (const auto stop = ringlog::app::parse_command_line(app, argc, argv)) return *stop;
  if (const auto status = tools.run()) return *status;
  if (const auto status = doctor.run()) return *status;
  if (const auto status = service.run()) return *status;
  if (const auto status = ship.run()) return *status;
  return demo.run();
}
