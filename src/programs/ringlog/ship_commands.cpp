#include "programs/ringlog/ship_commands.hpp"

#include "programs/ringlog/event_printer.hpp"
#include "ship/fetcher.hpp"
#include "placement/plan.hpp"
#include "service/service_config.hpp"
#include "ship/shipper.hpp"
#include "support/stop_signals.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <fstream>

namespace ringlog::programs {

using ship::ShipConfig;
using ship::Shipper;
using ship::ShipStatus;

struct ShipCommands::Options {
  std::filesystem::path config_file;
  std::filesystem::path journal_dir;
  std::vector<std::string> servers;
  std::string stream;
  std::string subject;
  std::filesystem::path credentials_file;
  std::size_t max_in_flight = 0;
  std::string format;
  std::string compress;
  std::size_t block_bytes = 0;
  std::int64_t linger_us = -1;
  int replicas = -1;
  std::vector<int> cpus;
  bool until_caught_up = false;
  std::filesystem::path metrics_file;
  double report_every_s = 1;
  std::filesystem::path schema_file;  // fetch: decodes its report, goes into the journal
  bool json = false;                  // fetch: its report's events as JSON lines

  // The [ship] section of the configuration file (or its defaults), then the command line.
  std::expected<ship::ShipConfig, std::string> ship_config() const {
    ship::ShipConfig config;
    if (!config_file.empty()) {
      auto loaded = service::load_service_config(config_file);
      if (!loaded) return std::unexpected(loaded.error().message());
      config = loaded->ship;
    }
    config.journal_dir = journal_dir;
    if (!servers.empty()) config.nats.servers = servers;
    if (config.nats.servers.empty()) config.nats.servers = {"nats://127.0.0.1:4222"};
    if (!stream.empty()) config.nats.stream = stream;
    if (!subject.empty()) config.nats.subject = subject;
    if (!credentials_file.empty()) config.nats.credentials_file = credentials_file;
    if (max_in_flight > 0) config.max_in_flight = max_in_flight;
    if (!format.empty()) config.format = *ship::ship_format_named(format);
    if (!compress.empty()) config.compression = *ship::compression_named(compress);
    if (block_bytes > 0) config.block_bytes = block_bytes;
    if (linger_us >= 0) config.linger = std::chrono::microseconds(linger_us);
    if (replicas >= 0) {
      config.create_replicas = replicas > 0 ? std::optional(replicas) : std::nullopt;
    }
    return config;
  }
};

namespace {

// Writes `text` to `path` whole or not at all (a scraper never reads half a file).
void replace_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path partial = path;
  partial += ".partial";
  {
    std::ofstream out(partial, std::ios::trunc);
    out << text;
    if (!out) return;
  }
  std::error_code ignored;
  std::filesystem::rename(partial, path, ignored);
}

// User and system CPU time of this process, all its threads (the NATS client's among them).
double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

ShipCommands::ShipCommands(CLI::App& app) : options_(std::make_unique<Options>()) {
  Options& o = *options_;
  const auto add_endpoint = [&o](CLI::App& command) {
    command.add_option("journal", o.journal_dir, "journal directory")->required();
    command.add_option("--config", o.config_file, "service configuration (TOML): its [ship] "
                       "section gives the defaults of the options below");
    command.add_option("--nats", o.servers, "NATS server URL(s), without credentials "
                       "(default nats://127.0.0.1:4222)")->delimiter(',');
    command.add_option("--stream", o.stream, "JetStream stream (default RINGLOG)");
    command.add_option("--subject", o.subject, "subject of the events (default ringlog.events)");
    command.add_option("--credentials", o.credentials_file, "a NATS .creds file, or a file "
                       "whose first line is user:password; mode 600");
  };
  ship_ = app.add_subcommand(
      "ship", "follow a journal and publish every durable event to a NATS JetStream stream, "
              "exactly once and in order across restarts; SIGINT/SIGTERM stop it");
  add_endpoint(*ship_);
  ship_->add_option("--format", o.format, "blocks: a message carries a run of events (the "
                    "default); events: a message per event")
      ->check(CLI::IsMember(std::vector<std::string>(ship::ship_format_names.begin(),
                                                     ship::ship_format_names.end())));
  ship_->add_option("--compress", o.compress, "compress blocks: none (the default), lz4, zstd")
      ->check(CLI::IsMember(std::vector<std::string>(ship::compression_names.begin(),
                                                     ship::compression_names.end())));
  ship_->add_option("--block-bytes", o.block_bytes, "a block's body at most (default 262144; "
                    "kept under the server's max_payload)")
      ->check(CLI::Range(ship::min_block_bytes, ship::max_block_bytes));
  ship_->add_option("--linger-us", o.linger_us, "how long a block waits for more events, from "
                    "its first, once the journal has nothing new (default 1000)")
      ->check(CLI::Range(0, 10'000'000));
  ship_->add_option("--max-in-flight", o.max_in_flight, "messages awaiting acknowledgement "
                    "(default 4096 events, or 64 blocks)");
  ship_->add_option("--replicas", o.replicas, "create a missing stream with this many replicas "
                    "(default 1); 0: the stream must exist")->check(CLI::Range(0, 5));
  ship_->add_option("--cpus", o.cpus, "CPUs for the shipper and the NATS client (default: every "
                    "CPU but the producer's and consumer's)")->delimiter(',');
  ship_->add_flag("--until-caught-up", o.until_caught_up, "exit once the stream holds every "
                  "event of the journal");
  ship_->add_option("--metrics-file", o.metrics_file, "rewrite this file with Prometheus text "
                    "(the node exporter's textfile collector) at every report");
  ship_->add_option("--report-every", o.report_every_s, "seconds between status lines")
      ->check(CLI::PositiveNumber)->capture_default_str();
  fetch_ = app.add_subcommand(
      "fetch", "rebuild a journal from the NATS JetStream stream a shipper fills: every event "
               "it holds that the journal lacks, byte-exact, then durable");
  add_endpoint(*fetch_);
  fetch_->add_option("--schema", o.schema_file, "payload schema (TOML): put into the journal "
                     "as schema.toml; the report's events are decoded by it (or by the "
                     "journal's own schema.toml)");
  fetch_->add_flag("--json", o.json, "the report's events as JSON lines");
}

ShipCommands::~ShipCommands() = default;

std::optional<int> ShipCommands::run() const {
  if (!ship_->parsed() && !fetch_->parsed()) return std::nullopt;
  auto config = options_->ship_config();
  if (!config) {
    fmt::print(stderr, "{}: {}\n", ship_->parsed() ? "ringlog ship" : "ringlog fetch",
               config.error());
    return 2;
  }
  return fetch_->parsed() ? run_fetch(*config) : run_ship(std::move(*config));
}

int ShipCommands::run_fetch(const ShipConfig& config) const {
  const Options& o = *options_;
  // The schema is checked before anything is fetched: a bad one refuses at once.
  auto printer = EventPrinter::make(o.journal_dir, {o.json, false}, {o.schema_file, {}, {}, false});
  if (!printer) {
    fmt::print(stderr, "ringlog fetch: {}\n", printer.error());
    return 2;
  }
  auto fetched = ship::fetch_journal({config.nats, options_->journal_dir, {}});
  if (!fetched) {
    fmt::print(stderr, "ringlog fetch: {}\n", fetched.error().message());
    return 1;
  }
  fmt::print("ringlog fetch: {} event(s) from stream {} into {}; it holds events up to {}, "
             "all durable\n", fetched->fetched, config.nats.stream,
             options_->journal_dir.string(), fetched->next_sequence);
  if (fetched->read_at_leader > 0) {
    fmt::print("ringlog fetch: {} message(s) read from the stream's leader: the replica read "
               "from was still catching up\n", fetched->read_at_leader);
  }
  return report_fetched(*printer, fetched->next_sequence - fetched->fetched,
                        fetched->next_sequence);
}

// What a fetch brought, by type, and its first and last event, decoded by the schema given
// (which goes into the journal) or the journal's own.
int ShipCommands::report_fetched(EventPrinter& printer, std::uint64_t first,
                                 std::uint64_t end) const {
  const Options& o = *options_;
  if (!o.schema_file.empty()) {
    if (auto installed = schema::install_schema(*printer.schema(), o.journal_dir); !installed) {
      fmt::print(stderr, "ringlog fetch: {}\n", installed.error().message());
      return 1;
    }
  }
  auto reader = journal::JournalReader::open(o.journal_dir);
  if (!reader || first == end) return reader ? 0 : 1;
  std::array<std::uint64_t, 256> by_type{};
  std::uint64_t drop_markers = 0;
  reader->seek(first);
  while (const auto event = reader->next()) {
    if (event->sequence >= end) break;
    ++(event::is_drop_marker(event->view.header) ? drop_markers
                                                 : by_type[event->view.header.event_type]);
    if (event->sequence == first || event->sequence + 1 == end) {
      if (!o.json) fmt::print("ringlog fetch: {} event: ", event->sequence == first ? "first" : "last");
      printer.print(event->sequence, event->view, stdout);
    }
  }
  nlohmann::ordered_json counts;
  if (drop_markers > 0) counts["drop markers"] = drop_markers;
  for (unsigned type = 0; type < by_type.size(); ++type) {
    if (by_type[type] > 0) counts[printer.type_name(static_cast<std::uint8_t>(type))] = by_type[type];
  }
  if (o.json) {
    fmt::print("{}\n", nlohmann::ordered_json{{"fetched_by_type", counts}}.dump());
    return 0;
  }
  std::vector<std::string> listed;
  for (const auto& [name, count] : counts.items()) listed.push_back(fmt::format("{} {}", count.get<std::uint64_t>(), name));
  fmt::print("ringlog fetch: by type: {}\n", fmt::join(listed, ", "));
  return 0;
}

int ShipCommands::run_ship(ship::ShipConfig config) const {
  const Options& o = *options_;
  config.cpus = o.cpus;
  if (config.cpus.empty()) {  // off the pair a producer and consumer on this host would use
    auto placement = placement::plan({{}, o.journal_dir});
    if (!placement) {
      fmt::print(stderr, "ringlog ship: {}\n", placement.error().message());
      return 2;
    }
    config.cpus = placement->housekeeping_cpus;
  }
  support::StopSignals signals;  // before the shipper's threads, which inherit the blocked signals
  auto shipper = Shipper::start(config);
  if (!shipper) {
    fmt::print(stderr, "ringlog ship: {}\n", shipper.error().message());
    return 2;
  }
  fmt::print("ringlog ship: {} → stream {} ({}) at {}\n", o.journal_dir.string(),
             config.nats.stream, config.nats.subject, fmt::join(config.nats.servers, ","));
  std::fflush(stdout);
  using Clock = std::chrono::steady_clock;
  const auto report_every = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(o.report_every_s));
  auto next_report = Clock::now() + report_every;
  const Clock::time_point started = Clock::now();
  const double cpu_at_start = cpu_seconds();
  for (;;) {
    const auto poll = o.until_caught_up ? std::chrono::milliseconds(20) : report_every;
    if (signals.wait(std::min<Clock::duration>(poll, next_report - Clock::now())) != 0) break;
    const ShipStatus status = (*shipper)->status();
    const bool caught_up = o.until_caught_up && status.in_step && status.lag_events == 0;
    if (Clock::now() >= next_report || caught_up) {
      next_report += report_every;
      fmt::print("{}", ship::to_text(status));
      std::fflush(stdout);
      if (!o.metrics_file.empty()) replace_file(o.metrics_file, ship::to_prometheus(status));
    }
    if (caught_up) break;
  }
  (*shipper)->stop();
  const ShipStatus final_status = (*shipper)->status();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const double events = double(std::max<std::uint64_t>(final_status.acknowledged, 1));
  fmt::print("stopped: the stream holds events up to {}; this run shipped {} events in {} "
             "messages in {:.2f} s: {:.0f} events/s, {:.1f} MB/s ({:.1f} MB/s travelled, "
             "compression {:.2f}); CPU {:.3f} µs an event\n",
             final_status.shipped, final_status.acknowledged, final_status.acknowledged_messages,
             seconds, double(final_status.acknowledged) / seconds,
             double(final_status.acknowledged_bytes) / seconds / 1e6,
             double(final_status.acknowledged_wire_bytes) / seconds / 1e6,
             final_status.compression_ratio(), (cpu_seconds() - cpu_at_start) * 1e6 / events);
  if (!o.metrics_file.empty()) replace_file(o.metrics_file, ship::to_prometheus(final_status));
  return 0;
}

}  // namespace ringlog::programs
