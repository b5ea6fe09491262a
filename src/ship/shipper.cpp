#include "ship/shipper.hpp"

#include "placement/binding.hpp"
#include "support/timing.hpp"
#include "ship/nats_link.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace ringlog::app {
namespace {

using Clock = std::chrono::steady_clock;

using timing::ship_ack_wait;
using timing::ship_idle_wait;
using timing::ship_lag_sample_every;
using timing::ship_retry_every;

}  // namespace

struct Shipper::State {
  State(ShipConfig config_, storage::JournalReader durable_, storage::JournalReader appended_)
      : config(std::move(config_)), durable(std::move(durable_)),
        appended(std::move(appended_)) {}

  ShipConfig config;
  storage::JournalReader durable;   // what is shipped
  storage::JournalReader appended;  // how far the journal reaches, for the lag
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::mutex wake_mutex;
  std::condition_variable wake;     // stop() ends a wait at once

  // Written by the client's thread that delivers acknowledgements.
  std::atomic<std::uint64_t> shipped{0};
  std::atomic<std::uint64_t> acknowledged{0};
  std::atomic<std::uint64_t> acknowledged_bytes{0};
  std::atomic<bool> publish_failed{false};

  mutable std::mutex status_mutex;  // guards what only status() reads besides the thread
  std::optional<std::string> problem;
  std::optional<std::string> failed_publish;  // the first refusal since the last resume
  std::uint64_t journal_end = 0;
  double lag_seconds = 0;
  double events_per_second = 0;
  std::uint64_t resumes = 0;
  std::atomic<bool> connected{false};
  std::atomic<bool> in_step{false};  // see ShipStatus

  // Shipping thread only.
  std::unique_ptr<NatsLink> link;
  bool resumed_before = false;      // since the start
  bool stream_ahead = false;        // the stream reached past the journal's end when asked
  std::uint64_t progress_mark = 0;  // acknowledged through this, since progress_since
  Clock::time_point progress_since{};
  std::uint64_t next_to_publish = 0;
  std::uint64_t expected_last_stream_sequence = 0;  // the stream's, before the next publish
  std::deque<std::pair<std::uint64_t, Clock::time_point>> end_samples;  // journal end, when seen
  Clock::time_point next_sample{};
  Clock::time_point rate_since = Clock::now();
  std::uint64_t rate_from = 0;

  void set_problem(std::optional<std::string> text) {
    const std::lock_guard lock(status_mutex);
    problem = std::move(text);
  }

  // Waits `period`, or less when stop() is called.
  void pause(Clock::duration period) {
    std::unique_lock lock(wake_mutex);
    wake.wait_for(lock, period, [&] { return stopping.load(); });
  }

  static void on_acknowledgement(jsCtx*, natsMsg* message, jsPubAck* ack, jsPubAckErr* error,
                                 void* closure) {
    auto& self = *static_cast<State*>(closure);
    const std::optional<std::uint64_t> sequence = shipped_sequence(message);
    if (ack != nullptr && sequence) {
      // In order: the expected-last-sequence chain stores no message after a refused one.
      self.shipped.store(*sequence + 1, std::memory_order_release);
      self.acknowledged.fetch_add(1, std::memory_order_relaxed);
      self.acknowledged_bytes.fetch_add(event::EventHeader::SIZE +
                                            std::uint64_t(natsMsg_GetDataLength(message)),
                                        std::memory_order_relaxed);
    } else if (error != nullptr) {
      if (!self.publish_failed.exchange(true)) {
        const std::lock_guard lock(self.status_mutex);
        self.failed_publish = fmt::format(
            "publish of event {} refused: {}", sequence.value_or(0),
            error->ErrText != nullptr ? error->ErrText : natsStatus_GetText(error->Err));
      }
    }
    natsMsg_Destroy(message);
  }

  bool connect() {
    jsOptions options;
    jsOptions_Init(&options);
    options.PublishAsync.MaxPending = std::int64_t(config.max_in_flight);
    options.PublishAsync.AckHandler = &State::on_acknowledgement;
    options.PublishAsync.AckHandlerClosure = this;
    options.PublishAsync.StallWait = 50;  // then the loop looks at stop() and tries again
    auto made = NatsLink::connect(config.nats, "ringlog-ship", &options);
    if (!made) {
      set_problem(made.error());
      return false;
    }
    link = std::move(*made);
    return true;
  }

  // Waits for the acknowledgements still due; what does not come in time is given up (a late
  // one is ignored, and the stream refuses the message if it follows a gap).
  void settle_in_flight() {
    jsPubOptions options;
    jsPubOptions_Init(&options);
    options.MaxWait = ship_ack_wait.count();
    if (js_PublishAsyncComplete(link->jetstream(), &options) != NATS_OK) {
      natsMsgList pending{};
      if (js_PublishAsyncGetPendingList(&pending, link->jetstream()) == NATS_OK) {
        natsMsgList_Destroy(&pending);
      }
    }
  }

  // Asks the stream where shipping goes on; false (with the problem said) when it cannot.
  bool resume() {
    settle_in_flight();
    auto position = stream_position(*link, config.nats, config.create_replicas);
    if (!position) {
      set_problem(position.error());
      return false;
    }
    expected_last_stream_sequence = position->last_stream_sequence;
    if (position->last_event) {
      next_to_publish = *position->last_event + 1;
    } else {
      durable.seek(0);  // an empty stream takes the journal from its oldest event
      const std::optional<storage::JournalEvent> oldest = durable.next();
      next_to_publish = oldest ? oldest->sequence : 0;
    }
    durable.seek(next_to_publish);
    shipped.store(next_to_publish, std::memory_order_release);
    progress_mark = next_to_publish;
    progress_since = Clock::now();
    appended.poll([](const storage::JournalEvent&) {});
    {
      const std::lock_guard lock(status_mutex);
      journal_end = appended.position();
      if (resumed_before) ++resumes;
      failed_publish.reset();
      problem.reset();
      // It may be a journal started afresh beside an old stream: say so, and ship only once the
      // journal reaches past the stream.
      stream_ahead = next_to_publish > journal_end;
      if (stream_ahead) {
        problem = fmt::format("stream {} holds events up to {}, past the end of the journal in "
                              "{} ({}): is it another journal's stream?", config.nats.stream,
                              next_to_publish - 1, config.journal_dir.string(), journal_end);
      }
    }
    resumed_before = true;
    publish_failed.store(false);
    in_step.store(true);
    return true;
  }

  // Publishes what the journal holds now, up to a batch; false when it held nothing new.
  bool publish_some() {
    for (int i = 0; i < 1024; ++i) {
      if (publish_failed.load(std::memory_order_acquire)) {
        const std::lock_guard lock(status_mutex);
        problem = failed_publish;
        in_step.store(false);
        return true;
      }
      const std::optional<storage::JournalEvent> event = durable.next();
      if (!event) {
        // A segment of another journal: nothing past it is this journal's to ship.
        if (durable.failure()) set_problem("refusing to ship: " + durable.failure()->message());
        return i > 0;
      }
      if (event->sequence != next_to_publish) {
        set_problem(fmt::format("the journal in {} no longer holds events {} to {}: shipping "
                                "them is impossible; the stream would have a gap",
                                config.journal_dir.string(), next_to_publish,
                                event->sequence - 1));
        durable.seek(next_to_publish);
        return false;
      }
      auto encoded = encode_event(config.nats.subject, *event);
      if (!encoded) {
        set_problem(encoded.error());
        return false;
      }
      NatsMessage message = std::move(*encoded);
      jsPubOptions options;
      jsPubOptions_Init(&options);
      // 0 means "no expectation": only the first message into an empty stream goes without
      // one, and the duplicate window guards it.
      options.ExpectLastSeq = expected_last_stream_sequence;
      natsMsg* raw = message.release();
      natsStatus s = js_PublishMsgAsync(link->jetstream(), &raw, &options);
      message.reset(raw);  // null when the client took it
      // The stream's back-pressure: wait, unless an earlier publish failed meanwhile, or the
      // stream stopped acknowledging.
      while (s == NATS_TIMEOUT && !stopping.load() && !publish_failed.load() && !stalled()) {
        raw = message.release();
        s = js_PublishMsgAsync(link->jetstream(), &raw, &options);
        message.reset(raw);
      }
      if (s != NATS_OK) {
        if (!stopping.load() && s != NATS_TIMEOUT) {
          set_problem(nats_error(fmt::format("publish of event {}", event->sequence), s));
        }
        in_step.store(false);
        return true;
      }
      ++expected_last_stream_sequence;
      ++next_to_publish;
    }
    return true;
  }

  // Whether publishes are in flight and none was acknowledged for ship_ack_wait; then it says so
  // and takes the shipper out of step, to ask the stream again.
  bool stalled() {
    const Clock::time_point now = Clock::now();
    const std::uint64_t acknowledged_through = shipped.load(std::memory_order_acquire);
    if (acknowledged_through != progress_mark || acknowledged_through == next_to_publish) {
      progress_mark = acknowledged_through;
      progress_since = now;
      return false;
    }
    if (now - progress_since < ship_ack_wait) return false;
    set_problem(fmt::format("no acknowledgement from stream {} for {} ms, events from {} on in "
                            "flight; asking it where to go on",
                            config.nats.stream, ship_ack_wait.count(), acknowledged_through));
    in_step.store(false);
    progress_since = now;
    return true;
  }

  void sample_lag() {
    const Clock::time_point now = Clock::now();
    if (now < next_sample) return;
    next_sample = now + ship_lag_sample_every;
    appended.poll([](const storage::JournalEvent&) {});
    const std::uint64_t end = appended.position();
    if (end_samples.empty() || end > end_samples.back().first) end_samples.emplace_back(end, now);
    const std::uint64_t shipped_now = shipped.load(std::memory_order_acquire);
    while (!end_samples.empty() && end_samples.front().first <= shipped_now) {
      end_samples.pop_front();
    }
    const std::lock_guard lock(status_mutex);
    if (stream_ahead && end >= shipped_now) {
      stream_ahead = false;
      problem.reset();
    }
    journal_end = end;
    lag_seconds = end_samples.empty()
                      ? 0
                      : std::chrono::duration<double>(now - end_samples.front().second).count();
    if (now - rate_since >= timing::rate_window) {
      const std::uint64_t acked = acknowledged.load(std::memory_order_relaxed);
      events_per_second = double(acked - rate_from) /
                          std::chrono::duration<double>(now - rate_since).count();
      rate_since = now;
      rate_from = acked;
    }
  }

  void run() {
    pthread_setname_np(pthread_self(), "ringlog-ship");
    // Before connecting: the client's threads inherit this affinity.
    if (auto bound = placement::bind_this_thread(config.cpus); !bound) {
      set_problem(fmt::format("the shipper's thread: {}", bound.error()));
      return;
    }
    while (!stopping.load()) {
      sample_lag();
      if (!link && !connect()) {
        pause(ship_retry_every);
        continue;
      }
      connected.store(link->connected(), std::memory_order_relaxed);
      if (in_step.load()) stalled();
      if (!in_step.load() && !resume()) {
        pause(ship_retry_every);
        continue;
      }
      if (!publish_some()) pause(ship_idle_wait);
    }
    if (link) settle_in_flight();
    sample_lag();
  }
};

Shipper::Shipper(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}

Shipper::~Shipper() { stop(); }

std::expected<std::unique_ptr<Shipper>, std::string> Shipper::start(ShipConfig config) {
  if (auto checked = check_endpoint(config.nats); !checked) {
    return std::unexpected(checked.error());
  }
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  (void)::sched_getaffinity(0, sizeof allowed, &allowed);
  for (const int cpu : config.cpus) {
    if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed)) {
      return std::unexpected(fmt::format("shipper CPU {} is not one this process may use", cpu));
    }
  }
  auto durable = storage::JournalReader::open(config.journal_dir, storage::ReadLimit::durable);
  if (!durable) return std::unexpected(durable.error().message());
  auto appended = storage::JournalReader::open(config.journal_dir);
  if (!appended) return std::unexpected(appended.error().message());
  auto state = std::make_unique<State>(std::move(config), std::move(*durable),
                                       std::move(*appended));
  State& s = *state;
  s.thread = std::thread([&s] { s.run(); });
  return std::unique_ptr<Shipper>(new Shipper(std::move(state)));
}

void Shipper::stop() {
  State& s = *state_;
  {
    const std::lock_guard lock(s.wake_mutex);
    s.stopping.store(true);
  }
  s.wake.notify_all();
  if (s.thread.joinable()) s.thread.join();
  s.link.reset();
}

ShipStatus Shipper::status() const {
  const State& s = *state_;
  ShipStatus status;
  status.stream = s.config.nats.stream;
  status.subject = s.config.nats.subject;
  status.connected = s.connected.load(std::memory_order_relaxed);
  status.in_step = s.in_step.load();
  status.shipped = s.shipped.load(std::memory_order_acquire);
  status.acknowledged = s.acknowledged.load(std::memory_order_relaxed);
  status.acknowledged_bytes = s.acknowledged_bytes.load(std::memory_order_relaxed);
  const std::lock_guard lock(s.status_mutex);
  status.journal_end = std::max(s.journal_end, status.shipped);
  status.lag_events = status.journal_end - status.shipped;
  status.lag_seconds = status.lag_events == 0 ? 0 : s.lag_seconds;
  status.events_per_second = s.events_per_second;
  status.resumes = s.resumes;
  status.problem = s.problem;
  return status;
}

std::string to_text(const ShipStatus& status) {
  std::string text = fmt::format(
      "ship       stream {} ({}): shipped {} of {}, lag {} events / {:.1f} s, {:.0f} events/s, "
      "{} resume(s){}\n",
      status.stream, status.subject, status.shipped, status.journal_end, status.lag_events,
      status.lag_seconds, status.events_per_second, status.resumes,
      status.connected ? "" : ", not connected");
  if (status.problem) text += "           " + *status.problem + "\n";
  return text;
}

nlohmann::ordered_json to_json(const ShipStatus& status) {
  return {{"stream", status.stream},
          {"subject", status.subject},
          {"connected", status.connected},
          {"shipped", status.shipped},
          {"journal_end", status.journal_end},
          {"lag_events", status.lag_events},
          {"lag_seconds", status.lag_seconds},
          {"events_per_second", status.events_per_second},
          {"acknowledged", status.acknowledged},
          {"resumes", status.resumes},
          {"problem", status.problem ? nlohmann::ordered_json(*status.problem) : nullptr}};
}

std::string to_prometheus(const ShipStatus& status) {
  std::string text;
  const auto metric = [&](std::string_view name, std::string_view type, std::string_view help,
                          auto value) {
    text += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0}{{stream=\"{3}\"}} {4}\n", name,
                        help, type, status.stream, value);
  };
  metric("ringlog_ship_shipped_events", "counter",
         "Journal events the stream holds (the sequence number after the newest).",
         status.shipped);
  metric("ringlog_ship_lag_events", "gauge", "Journal events not yet in the stream.",
         status.lag_events);
  metric("ringlog_ship_lag_seconds", "gauge",
         "How long the oldest event not yet in the stream has been in the journal.",
         status.lag_seconds);
  metric("ringlog_ship_resumes", "counter",
         "Times the shipper asked the stream where to go on after a failed publish.",
         status.resumes);
  metric("ringlog_ship_connected", "gauge", "1 while connected to a NATS server.",
         status.connected ? 1 : 0);
  return text;
}

}  // namespace ringlog::app
