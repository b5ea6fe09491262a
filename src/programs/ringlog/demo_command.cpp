#include "programs/ringlog/demo_command.hpp"

#include "programs/ringlog/market_data.hpp"
#include "programs/stress/pipeline_options.hpp"

#include "schema/payload_schema.hpp"

#include <ringlog/event.hpp>
#include <ringlog/journal.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstdio>

namespace ringlog::programs {

DemoCommand::DemoCommand(CLI::App& app) {
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
  add_pipeline_options(app, options_);
}

namespace {

// The demo's journal carries the schema of its events, for the tools and the Python reader:
// put into a new directory, or one that is a journal already, never into another's directory
// (the pipeline then refuses it, saying why).
std::optional<std::string> install_market_data_schema(const std::filesystem::path& directory) {
  std::error_code error;
  if (!std::filesystem::exists(directory, error)) std::filesystem::create_directories(directory, error);
  if (error) return fmt::format("create {}: {}", directory.string(), error.message());
  if (!journal::preview_open(directory)) return std::nullopt;
  const auto schema = schema::Schema::parse(market_data_schema, "market_data.toml");
  auto installed = schema ? schema::install_schema(*schema, directory)
                          : std::expected<void, Error>(std::unexpected(schema.error()));
  if (!installed) return installed.error().message();
  return std::nullopt;
}

}  // namespace

int DemoCommand::run() {
  options_.duration = std::chrono::duration<double>(duration_s_ > 0 ? duration_s_ : 1e9);
  const EventSource ticks{sizeof(Tick), market_event_type, fill_tick, true};
  fmt::print("ringlog demo: synthetic market data at {} → {}/ ({}; Ctrl-C stops)\n",
             options_.events_per_second > 0
                 ? fmt::format("{:.0f} events/s", options_.events_per_second)
                 : std::string("full speed"),
             options_.journal_dir.string(),
             options_.event_count != 0 ? fmt::format("{} events", options_.event_count)
             : duration_s_ > 0         ? fmt::format("{:g} s", duration_s_)
                                       : std::string("until stopped"));
  std::fflush(stdout);
  if (const auto failed = install_market_data_schema(options_.journal_dir)) {
    fmt::print(stderr, "ringlog: {}\n", *failed);
    return 2;
  }
  const auto ran = run_pipeline(options_, ticks);
  if (!ran) {
    fmt::print(stderr, "ringlog: {}\n", ran.error());
    return 2;
  }
  const PipelineReport& report = *ran;
  fmt::print("\nstopped{}: {:.2f} s\n", report.interrupted ? " by signal" : "",
             report.seconds);
  print_report(report, ringlog::event::EventHeader::SIZE + sizeof(Tick));
  return succeeded(report) ? 0 : 1;
}

}  // namespace ringlog::programs
