#include "programs/ringlog/publish_command.hpp"

#include "programs/ringlog/exit_status.hpp"
#include "programs/ringlog/market_data.hpp"
#include "service/service.hpp"
#include "support/latency_histogram.hpp"
#include "support/wall_clock.hpp"

#include <ringlog/detail/cpu_relax.hpp>
#include <ringlog/event.hpp>
#include <ringlog/topology.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <thread>

namespace ringlog::programs {

namespace {

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
      // Nanoseconds since the epoch, as the service's publishers write them (--since, --utc).
      const ringlog::event::EventHeader header(support::wall_clock_ns(),
                                               market_event_type(sequence_), sizeof(Tick));
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
      why = again.error().message();
      if (again.error().code == SetupErrc::service_refused) return why;  // it is up, and says no
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

// The CPU to pin the writing thread to, as asked or as the service's status suggests; -1:
// none. A service that does not say (none of its CPUs is free of spinning, or an older
// release) leaves the publisher unpinned.
int chosen_cpu(const PublishOptions& options) {
  if (options.cpu != PublishOptions::service_cpu) return options.cpu;
  const auto status =
      service::query_status(options.attach.runtime_dir, options.attach.service, "json");
  if (!status) return -1;  // attach() says what is wrong with the service
  const auto json = nlohmann::json::parse(*status, nullptr, /*allow_exceptions=*/false);
  const auto cpu = json.is_object() ? json.find("publisher_cpu") : json.end();
  return cpu != json.end() && cpu->is_number_integer() ? cpu->get<int>() : -1;
}

// Pins the writing thread where chosen_cpu() says: false when --cpu named a CPU it cannot
// use. One the service suggested but this process may not use (a cpuset, say) is only a
// warning: the publisher then runs unpinned.
bool pin_writer(const PublishOptions& options) {
  const int cpu = chosen_cpu(options);
  if (cpu < 0) return true;
  const bool suggested = options.cpu == PublishOptions::service_cpu;
  if (auto pinned = topology::pin_this_thread(cpu); !pinned) {
    fmt::print(stderr, "ringlog publish: {}{}\n", pinned.error().message(),
               suggested ? " (the service's publisher_cpu); writing unpinned" : "");
    return suggested;
  }
  fmt::print("publisher  on CPU {}{}\n", cpu, suggested ? " (the service's publisher_cpu)" : "");
  std::fflush(stdout);  // before the run, however long, for whoever reads its output
  return true;
}

// `ringlog publish`: 0 when all events are durable, 1 when the service went away for good, 2
// when it could not attach or be pinned where --cpu said.
int run_publisher(const PublishOptions& options) {
  if (!pin_writer(options)) return 2;
  auto publisher = ringlog::service::Publisher::attach(options.attach);
  if (!publisher) {
    fmt::print(stderr, "ringlog publish: {}\n", publisher.error().message());
    return exit_status_for(publisher.error());
  }
  return PublishRun(options, std::move(*publisher)).run();
}

}  // namespace

PublishCommand::PublishCommand(CLI::App& app)
    : publish_(app.add_subcommand("publish", "attach to a running `ringlog serve` and write "
                                             "synthetic market data into its journal; waits "
                                             "until every event is durable")) {
  PublishOptions& o = options_;
  publish_->add_option("--count", o.count, "events to write")->capture_default_str();
  publish_->add_option("--rate", o.rate, "events/s; 0 as fast as possible")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  publish_->add_option("--channel", o.attach.channel)->capture_default_str();
  publish_->add_option("--service", o.attach.service, "the service's name")
      ->capture_default_str();
  publish_->add_option("--runtime-dir", o.attach.runtime_dir, "the service's runtime_dir")
      ->capture_default_str();
  publish_->add_option("--cpu", o.cpu,
                       "the CPU to write from (default: the service's publisher_cpu, the one "
                       "its threads leave free; -1: unpinned)")
      ->check(CLI::Range(-1, CPU_SETSIZE - 1));
}

std::optional<int> PublishCommand::run() const {
  if (!publish_->parsed()) return std::nullopt;
  return run_publisher(options_);
}

}  // namespace ringlog::programs
