#include "service/service.hpp"

#include "placement/plan.hpp"
#include "service/control_loop.hpp"
#include "service/drain_loop.hpp"
#include "service/metrics_endpoint.hpp"
#include "service_client/service_protocol.hpp"
#include "service/service_shared.hpp"

#include <ringlog/journal.hpp>

#include <fmt/format.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>
#include <utility>

namespace ringlog::service {

struct Service::State {
  State(ServiceConfig config, journal::Journal opened)
      : shared(std::move(config)), journal(std::move(opened)) {}

  ServiceStatus snapshot() const {
    ServiceStatus status;
    status.failure = shared.failure();
    status.previous_failure = shared.previous_failure;
    status.publishers = shared.attachments.publishers();
    status.channels = channel_figures(status.publishers);
    const StatusBoard& board = shared.board;
    status.journal_next_sequence = board.next_sequence.load(std::memory_order_relaxed);
    status.journal_durable_sequence = board.durable_sequence.load(std::memory_order_relaxed);
    status.journal_segments = board.segments.load(std::memory_order_relaxed);
    status.events_per_second = board.events_per_second.load(std::memory_order_relaxed);
    status.attaches = board.attaches.load(std::memory_order_relaxed);
    status.refusals = board.refusals.load(std::memory_order_relaxed);
    status.violations = shared.violations.count();
    status.latest_violations = shared.violations.latest();
    status.placement = placement;
    status.publisher_cpu = publisher_cpu;
    status.latency_sample_every = shared.config.latency_sample_every;
    status.flush_backend = journal.flush_backend_note();
    if (shipper) status.ship = shipper->status();
    return status;
  }

  std::vector<ChannelStatus> channel_figures(const std::vector<PublisherStatus>& publishers) const {
    std::vector<ChannelStatus> figures;
    for (const ChannelMetrics& counted : shared.channels) {
      ChannelStatus channel{.name = counted.name,
                            .journaled = counted.journaled.load(std::memory_order_relaxed),
                            .durable = counted.durable.load(std::memory_order_relaxed),
                            .journaled_to_durable = counted.journaled_to_durable.counts(),
                            .overflow_policy = counted.overflow_policy,
                            .overflow = counted.overflow(),
                            .stages = {},
                            .violations = counted.violations.load(std::memory_order_relaxed)};
      for (std::size_t stage = 0; stage < stage_count; ++stage) {
        channel.stages[stage] = counted.stages[stage].counts();
      }
      for (const PublisherStatus& p : publishers) {
        if (p.channel != counted.name) continue;
        channel.publishers += p.attached ? 1 : 0;
        channel.ring_used += p.ring_used;
        channel.ring_bytes += p.ring_bytes;
      }
      figures.push_back(std::move(channel));
    }
    return figures;
  }

  ServiceShared shared;
  journal::Journal journal;  // the drain thread's, once it runs
  std::string placement;
  int publisher_cpu = -1;
  std::unique_ptr<ControlLoop> control_loop;
  std::unique_ptr<DrainLoop> drain_loop;
  std::unique_ptr<ship::Shipper> shipper;  // when [ship] names NATS servers
  std::unique_ptr<MetricsEndpoint> metrics;  // when [metrics] listen is given
  std::thread control;
  std::thread draining;
  // What responsive() saw last.
  std::uint64_t drain_passes_seen = 0;
  std::uint64_t drained_events_seen = 0;
  std::uint64_t control_passes_seen = 0;
};

Service::Service(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}

Service::~Service() { stop(); }

namespace {

// Why the previous run failed, from its record; nothing when it stopped cleanly.
std::optional<std::string> previous_failure(const ServiceConfig& config) {
  std::ifstream record(failure_record_path(config));
  if (!record) return std::nullopt;
  std::string why;
  std::getline(record, why);
  return why.empty() ? "(the reason was not recorded)" : why;
}

}  // namespace

std::expected<std::unique_ptr<Service>, Error> Service::start(const ServiceConfig& config) {
  // The consumer's CPU: as configured, or the consumer side of the pair ringlog would choose.
  std::vector<int> asked;
  if (config.consumer_cpu >= 0) asked.push_back(config.consumer_cpu);
  auto placement =
      placement::plan({asked, config.journal_dir, placement::Spinners::consumer_only});
  if (!placement) return std::unexpected(placement.error());
  journal::JournalOptions journal_options = config.journal;
  if (journal_options.housekeeping_cpus.empty()) {
    journal_options.housekeeping_cpus = config.housekeeping_cpus.empty()
                                            ? placement->housekeeping_cpus
                                            : config.housekeeping_cpus;
  }
  auto journal = journal::Journal::open(config.journal_dir, journal_options);
  if (!journal) return std::unexpected(journal.error());

  std::error_code ignored;
  std::filesystem::create_directories(config.runtime_dir, ignored);
  auto state = std::make_unique<State>(config, std::move(*journal));
  State& s = *state;
  s.placement = placement->describe();
  if (placement->pair) s.publisher_cpu = placement->pair->producer_cpu;
  s.shared.previous_failure = previous_failure(config);
  s.shared.board.next_sequence.store(s.journal.next_sequence());
  s.shared.board.durable_sequence.store(s.journal.durable_sequence());
  // 20 ms asleep: the TSC's rate to a few parts in ten thousand, enough for latencies.
  s.shared.tsc_rate = ringlog::detail::TscRate::measure(std::chrono::milliseconds(20));
  s.shared.wake = ::eventfd(0, EFD_CLOEXEC);
  if (s.shared.wake < 0) return std::unexpected(Error::from_os(errno, "eventfd"));
  // Before the control socket: a start that fails leaves no socket behind.
  if (!config.ship.nats.servers.empty()) {
    ship::ShipConfig ship = config.ship;
    ship.journal_dir = config.journal_dir;
    ship.cpus = journal_options.housekeeping_cpus;
    auto shipper = ship::Shipper::start(std::move(ship));
    if (!shipper) {
      return std::unexpected(Error{shipper.error().code, "[ship]: " + shipper.error().context});
    }
    s.shipper = std::move(*shipper);
  }
  if (!config.metrics_listen.empty()) {
    auto metrics = MetricsEndpoint::start(config.metrics_listen, journal_options.housekeeping_cpus,
                                          [&s] { return to_prometheus(s.snapshot()); });
    if (!metrics) return std::unexpected(metrics.error());
    s.metrics = std::move(*metrics);
  }
  const std::filesystem::path socket =
      service::detail::socket_path(config.runtime_dir, config.name);
  auto listener = listen_at(socket, config.group);
  if (!listener) return std::unexpected(listener.error());
  const int ring_node = placement->pair ? placement->pair->numa_node : -1;
  s.control_loop = std::make_unique<ControlLoop>(s.shared, *listener, socket, ring_node,
                                                 [&s] { return s.snapshot(); });
  std::function<std::uint64_t()> shipped_through;
  if (s.shipper) shipped_through = [&s] { return s.shipper->shipped_through(); };
  DrainLoop::Place drain_place;
  if (placement->pair) drain_place.cpu = placement->pair->consumer_cpu;
  const std::vector<int>& flush_cpus = journal_options.housekeeping_cpus;
  drain_place.shares_with_flushes =
      drain_place.cpu < 0 || flush_cpus.empty() ||
      std::ranges::find(flush_cpus, drain_place.cpu) != flush_cpus.end();
  s.drain_loop = std::make_unique<DrainLoop>(s.shared, s.journal, drain_place,
                                             std::move(shipped_through));
  s.draining = std::thread([&s] { s.drain_loop->run(); });
  s.control = std::thread([&s] { s.control_loop->run(); });
  return std::unique_ptr<Service>(new Service(std::move(state)));
}

std::expected<void, Error> Service::stop() {
  State& s = *state_;
  s.metrics.reset();  // no scrape of a service half stopped
  // The control thread also checks `stopping` after every wake-up.
  if (!s.shared.stopping.exchange(true)) s.shared.wake_control();
  if (s.control.joinable()) s.control.join();
  if (s.draining.joinable()) s.draining.join();
  // What it has not shipped yet, it ships after the next start.
  if (s.shipper) s.shipper->stop();
  if (const auto failure = s.shared.failure()) {
    return std::unexpected(Error::because(SetupErrc::journal_failed, *failure));
  }
  std::error_code ignored;
  std::filesystem::remove(failure_record_path(s.shared.config), ignored);
  return {};
}

std::filesystem::path failure_record_path(const ServiceConfig& config) {
  return config.runtime_dir / (config.name + ".failed");
}

ServiceStatus Service::status() const { return state_->snapshot(); }

namespace {

// Whether a publisher's ring holds events the drain thread should be reading: one it has not
// quarantined, with bytes written and not yet drained.
bool events_waiting(const std::vector<PublisherStatus>& publishers) {
  return std::ranges::any_of(publishers, [](const PublisherStatus& p) {
    return !p.violation && p.ring_used > 0;
  });
}

}  // namespace

bool Service::responsive() {
  State& s = *state_;
  const StatusBoard& board = s.shared.board;
  const std::uint64_t passes = board.drain_passes.load(std::memory_order_relaxed);
  const std::uint64_t drained = board.drained_events.load(std::memory_order_relaxed);
  const std::uint64_t control = board.control_passes.load(std::memory_order_relaxed);
  const bool went_round = passes != std::exchange(s.drain_passes_seen, passes);
  const bool read_some = drained != std::exchange(s.drained_events_seen, drained);
  // A drain thread that goes round without reading while events wait is wedged as surely as
  // one that stopped going round; one stopped by a journal failure reports, and is not.
  const bool draining = (went_round && (read_some || !events_waiting(
                                                          s.shared.attachments.publishers()))) ||
                        s.shared.failure().has_value();
  const bool controlled = control != std::exchange(s.control_passes_seen, control);
  return draining && controlled;
}

}  // namespace ringlog::service
