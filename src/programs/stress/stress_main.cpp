// stress: one producer and one consumer persisting into the journal as fast as they can, then a
// replay that counts what was really persisted.
#include "programs/stress/pipeline.hpp"
#include "programs/stress/pipeline_options.hpp"

#include <ringlog/event.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace {

std::uint8_t stress_event_type(std::uint64_t sequence) noexcept {
  return static_cast<std::uint8_t>(1 + sequence % 4);
}

// Word k of event `sequence`: the sequence itself first, then words that differ per event.
void fill_pattern(std::uint64_t sequence, std::span<std::byte> payload) noexcept {
  std::size_t at = 0;
  for (std::uint64_t k = 0; at + 8 <= payload.size(); ++k, at += 8) {
    const std::uint64_t word = k == 0 ? sequence : sequence * 0x9E3779B97F4A7C15 + k;
    std::memcpy(payload.data() + at, &word, sizeof word);
  }
  for (; at < payload.size(); ++at) payload[at] = static_cast<std::byte>(sequence + at);
}

std::filesystem::path fresh_directory() {
  std::string pattern = (std::filesystem::temp_directory_path() / "ringlog-stress-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::filesystem::filesystem_error(
      "mkdtemp", pattern, std::error_code(errno, std::system_category()));
  return pattern;
}

// The report as one JSON line, for scripts/bench-run.
void print_json(const ringlog::programs::PipelineReport& report, std::uint16_t payload_bytes,
                int lap) {
  const std::size_t record_bytes = ringlog::event::EventHeader::SIZE + payload_bytes;
  const double seconds = std::max(report.seconds, 1e-9);
  const nlohmann::ordered_json json = {
      {"lap", lap},
      {"seconds", report.seconds},
      {"payload_bytes", payload_bytes},
      {"written", report.written},
      {"persisted", report.persisted},
      {"lost", report.lost()},
      {"mismatched", report.mismatched},
      {"events_per_second", double(report.written) / seconds},
      {"mb_per_second", double(report.written * record_bytes) / seconds / 1e6},
      {"durable", report.durable},
      {"segments", report.segments},
      {"ring_full_waits", report.ring_full_waits},
      {"producer_faults", report.producer.page_faults},
      {"consumer_faults", report.consumer.page_faults},
      {"producer_user_s", report.producer.user_seconds},
      {"producer_system_s", report.producer.system_seconds},
      {"consumer_user_s", report.consumer.user_seconds},
      {"consumer_system_s", report.consumer.system_seconds},
      {"written_back_mb", report.writeback.written_back_mb},
      {"peak_dirty_mb", report.writeback.peak_dirty_mb},
      {"dirty_limit_mb", report.writeback.dirty_limit_mb}};
  fmt::print("{}\n", json.dump());
}

// The pipeline `laps` times over one journal, each reopening it, a report after each; stops at
// the first lap that fails. The exit status: 0, 1 for a lap that lost or mismatched events, 2
// for one that could not run.
int run_laps(const ringlog::programs::PipelineOptions& options,
             const ringlog::programs::EventSource& pattern, int laps, bool json) {
  const std::size_t record_bytes = ringlog::event::EventHeader::SIZE + pattern.payload_len;
  for (int lap = 1; lap <= laps; ++lap) {
    if (laps > 1) fmt::print("lap {} of {}\n", lap, laps);
    const auto ran = ringlog::programs::run_pipeline(options, pattern);
    if (!ran) {
      fmt::print(stderr, "stress: {}\n", ran.error());
      return 2;
    }
    ringlog::programs::print_report(*ran, record_bytes);
    if (json) print_json(*ran, pattern.payload_len, lap);
    if (!ringlog::programs::succeeded(*ran)) return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ringlog::programs::PipelineOptions options;
  options.events_per_second = 0;
  options.show_status = false;
  options.split_background_across_pair = true;
  double duration_s = 5;
  std::uint16_t payload_bytes = 64;
  std::string directory;
  bool keep = false;
  bool json = false;

  CLI::App app{"stress: producer → ring → dispatcher → journal at full speed, then a replay"};
  CLI::Option* duration = app.add_option("--duration", duration_s, "seconds to write")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--count", options.event_count, "events to write instead of writing for a "
                 "time: what a test relies on, whatever the host's speed")
      ->check(CLI::PositiveNumber)->excludes(duration);
  app.add_option("--payload", payload_bytes, "payload bytes per event (at least 8)")
      ->check(CLI::Range(8, 4096))->capture_default_str();
  ringlog::programs::add_pipeline_options(app, options);
  std::int64_t flush_us = options.journal.flush.every.count();
  app.add_option("--flush-bytes", options.journal.flush.every_bytes,
                 "flush once this many bytes were appended (0: no byte trigger)")
      ->capture_default_str();
  app.add_option("--flush-us", flush_us, "flush once this many microseconds passed (0: no timer)")
      ->capture_default_str();
  app.add_option("--writeback-bytes", options.journal.writeback_every_bytes,
                 "start writeback every this many bytes (sync_file_range; 0: none)")
      ->capture_default_str();
  app.add_option("--keep-segments", options.journal.keep_segments,
                 "retention: the newest this many segments stay, older ones are recycled "
                 "(0: every segment stays)")->capture_default_str();
  int laps = 1;
  app.add_option("--laps", laps, "runs over the same journal, each reopening it: with "
                 "--keep-segments, the later laps write into recycled segments")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--dir", directory, "journal directory (default: a fresh temporary one)");
  app.add_flag("--keep", keep, "keep the journal files afterwards");
  app.add_flag("--json", json, "also print the results as one JSON line");
  app.add_flag("--status", options.show_status, "print a status line every second");
  if (const auto stop = ringlog::programs::parse_command_line(app, argc, argv)) return *stop;

  options.journal.flush.every = std::chrono::microseconds(flush_us);
  const bool temporary = directory.empty();
  options.journal_dir = temporary ? fresh_directory() : std::filesystem::path(directory);
  options.duration = std::chrono::duration<double>(duration_s);
  const ringlog::programs::EventSource pattern{payload_bytes, stress_event_type, fill_pattern,
                                               false};

  fmt::print("stress: {}, {}-byte payloads, ring of {} bytes, segments of {} bytes in {}\n",
             options.event_count != 0 ? fmt::format("{} events", options.event_count)
                                      : fmt::format("{:g} s", duration_s),
             payload_bytes, options.ring_bytes, options.journal.segment_bytes,
             options.journal_dir.string());
  std::fflush(stdout);
  const int status = run_laps(options, pattern, laps, json);
  if (temporary && !keep) std::filesystem::remove_all(options.journal_dir);
  return status;
}
