#include "service/service.hpp"

#include "placement/plan.hpp"
#include "service/service_protocol.hpp"
#include "support/timing.hpp"

#include <ringlog/detail/cpu_relax.hpp>
#include <ringlog/dispatcher.hpp>
#include <ringlog/journal.hpp>
#include <ringlog/journal_consumer.hpp>
#include <ringlog/shared_ring.hpp>
#include <ringlog/topology.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace ringlog::app {

namespace {

using timing::drain_batch_events;

// One attached publisher. The control thread creates it and clears `attached` when the
// connection closes; the consumer thread drains it and drops it once detached and empty.
struct Attachment {
  std::uint64_t id;
  std::string channel;
  int pid;
  ring::SharedRing ring;
  ring::Consumer consumer;                   // consumer thread only
  std::atomic<bool> attached{true};
  std::atomic<std::uint64_t> journaled{0};   // written by the consumer thread
  std::atomic<std::uint64_t> durable{0};     // written by the consumer thread
  // Consumer thread only: (journal sequence after a drain, events journaled by then), waiting
  // for the journal's durable sequence to pass them.
  std::deque<std::pair<std::uint64_t, std::uint64_t>> awaiting_durability{};
};

std::string errno_text(int error) { return std::strerror(error); }

int peer_pid(int socket) {
  ucred credentials{};
  socklen_t size = sizeof credentials;
  return ::getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &credentials, &size) == 0
             ? credentials.pid
             : 0;
}

// The listening control socket at `path`, with the mode and group the configuration asks for.
// A socket left by a service that is gone is replaced; one that answers is not.
std::expected<int, std::string> listen_at(const std::filesystem::path& path,
                                          const std::string& group) {
  auto probe = service::detail::connect_to(path);
  if (!probe) return std::unexpected(probe.error());
  ::close(probe->fd);
  if (probe->connect_error == 0) {
    return std::unexpected(fmt::format("a ringlog service already listens on {}", path.string()));
  }
  ::unlink(path.c_str());
  const auto address = service::detail::unix_address(path);
  const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected("socket: " + errno_text(errno));
  const auto* raw = reinterpret_cast<const sockaddr*>(&*address);
  gid_t gid = static_cast<gid_t>(-1);
  if (!group.empty()) {
    const ::group* entry = ::getgrnam(group.c_str());
    if (entry == nullptr) {
      ::close(fd);
      return std::unexpected(fmt::format("service.group \"{}\" is no group on this host", group));
    }
    gid = entry->gr_gid;
  }
  const auto fail = [&](std::string what) {
    const int error = errno;
    ::close(fd);
    return std::unexpected(fmt::format("{} {}: {}", what, path.string(), errno_text(error)));
  };
  if (::bind(fd, raw, sizeof *address) != 0) return fail("bind");
  // Owner only, or owner and group: connecting is what lets a process publish.
  if (::chmod(path.c_str(), group.empty() ? 0600 : 0660) != 0) return fail("chmod");
  if (!group.empty() && ::chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0) {
    return fail("chown");
  }
  if (::listen(fd, 64) != 0) return fail("listen");
  return fd;
}

}  // namespace

struct Service::State {
  ServiceConfig config;
  storage::Journal journal;
  consumer::EventDispatcher dispatcher;
  std::filesystem::path socket_path;
  int listener = -1;
  int wake = -1;  // eventfd: stop() wakes the control thread's poll
  int consumer_cpu = -1;
  int ring_node = -1;  // the consumer's NUMA node, where the rings go
  std::string placement;

  mutable std::mutex mutex;                                // guards the two lists
  std::vector<std::shared_ptr<Attachment>> attachments;    // for status()
  std::vector<std::shared_ptr<Attachment>> incoming;       // for the consumer thread
  std::atomic<bool> has_incoming{false};
  std::atomic<bool> stopping{false};
  std::atomic<bool> control_done{false};  // no attachment can come any more
  std::atomic<std::uint64_t> next_sequence{0};
  std::atomic<std::uint64_t> durable_sequence{0};
  std::atomic<std::size_t> segments{0};
  std::atomic<double> events_per_second{0};
  // Consumer thread only: where the rate was last measured from.
  std::chrono::steady_clock::time_point rate_since = std::chrono::steady_clock::now();
  std::uint64_t rate_from = 0;
  std::atomic<std::uint64_t> attaches{0};
  std::atomic<std::uint64_t> refusals{0};
  std::uint64_t next_id = 1;                               // control thread only
  std::optional<std::string> failure;                      // guarded by mutex
  std::optional<std::string> previous_failure;             // set before the threads start
  std::thread control;
  std::thread consuming;
  std::unique_ptr<Shipper> shipper;  // when [ship] names NATS servers

  State(ServiceConfig c, storage::Journal j) : config(std::move(c)), journal(std::move(j)) {}
  ~State() {
    if (listener >= 0) ::close(listener);
    if (wake >= 0) ::close(wake);
  }

  ServiceStatus snapshot() const {
    ServiceStatus status;
    {
      const std::lock_guard lock(mutex);
      status.failure = failure;
      status.previous_failure = previous_failure;
      for (const auto& a : attachments) {
        status.publishers.push_back({a->id, a->channel, a->pid,
                                     a->journaled.load(std::memory_order_relaxed),
                                     a->durable.load(std::memory_order_relaxed),
                                     a->attached.load(std::memory_order_relaxed),
                                     a->ring.used(), a->ring.capacity()});
      }
    }
    status.journal_next_sequence = next_sequence.load(std::memory_order_relaxed);
    status.journal_durable_sequence = durable_sequence.load(std::memory_order_relaxed);
    status.journal_segments = segments.load(std::memory_order_relaxed);
    status.events_per_second = events_per_second.load(std::memory_order_relaxed);
    status.attaches = attaches.load(std::memory_order_relaxed);
    status.refusals = refusals.load(std::memory_order_relaxed);
    status.placement = placement;
    status.flush_backend = journal.flush_backend_note();
    if (shipper) status.ship = shipper->status();
    return status;
  }

  void refuse(int socket, const std::string& why) {
    refusals.fetch_add(1, std::memory_order_relaxed);
    service::detail::send_message(socket, "refused " + why);  // one that left: poll sees it
  }
  // The journal failed: recorded for the next start, and the control thread is woken to close
  // every publisher's connection, so that they learn at once that nothing more is taken.
  void fail(std::string why) {
    {
      const std::lock_guard lock(mutex);
      if (failure) return;
      failure = why;
    }
    record_failure(why);
    const std::uint64_t one = 1;
    if (::write(wake, &one, sizeof one) < 0) {
      // An eventfd write fails only on overflow: the control thread is awake already.
    }
  }

  // Written whole or not at all (a temporary file, then a rename), so that the next start never
  // reads half a reason; on a full disk shared with the runtime directory it may not be written.
  void record_failure(const std::string& why) const {
    const std::filesystem::path record = failure_record_path(config);
    std::filesystem::path written = record;
    written += ".new";
    std::ofstream(written) << why << "\n";
    std::error_code ignored;
    std::filesystem::rename(written, record, ignored);
  }

  std::optional<std::string> failed() const {
    const std::lock_guard lock(mutex);
    return failure;
  }

  // An "attach <channel>" request on `socket`: a new ring for it, or a refusal.
  std::shared_ptr<Attachment> attach(int socket, std::string_view channel_name) {
    if (const auto failure_now = failed()) {
      refuse(socket, fmt::format("it has failed ({}); it takes no more events until it is "
                                 "restarted", *failure_now));
      return nullptr;
    }
    const auto channel =
        std::find_if(config.channels.begin(), config.channels.end(),
                     [&](const ChannelConfig& c) { return c.name == channel_name; });
    if (channel == config.channels.end()) {
      std::vector<std::string> names;
      for (const ChannelConfig& c : config.channels) names.push_back(c.name);
      refuse(socket, fmt::format("no channel \"{}\" (channels: {})", channel_name,
                                 fmt::join(names, ", ")));
      return nullptr;
    }
    ring::MemoryOptions memory = config.ring_memory;
    if (memory.numa_node < 0) memory.numa_node = ring_node;
    auto ring = ring::SharedRing::create({}, channel->ring_bytes != 0 ? channel->ring_bytes
                                                                      : config.ring_bytes,
                                         memory);
    if (!ring) {
      refuse(socket, ring::to_string(ring.error()));
      return nullptr;
    }
    auto consumer = ring->consumer();
    if (!consumer) {
      refuse(socket, ring::to_string(consumer.error()));
      return nullptr;
    }
    const int ring_fd = ring->fd();
    auto attachment = std::shared_ptr<Attachment>(new Attachment{
        next_id++, std::string(channel_name), peer_pid(socket), std::move(*ring),
        std::move(*consumer)});
    if (service::detail::send_message(socket, fmt::format("attached {}", attachment->id),
                                      ring_fd) != 0) {
      return nullptr;  // gone already
    }
    const std::lock_guard lock(mutex);
    attachments.push_back(attachment);
    incoming.push_back(attachment);
    has_incoming.store(true, std::memory_order_release);
    attaches.fetch_add(1, std::memory_order_relaxed);
    return attachment;
  }

  void run_control() {
    pthread_setname_np(pthread_self(), "ringlog-control");
    std::vector<pollfd> watched = {{listener, POLLIN, 0}, {wake, POLLIN, 0}};
    std::map<int, std::shared_ptr<Attachment>> by_socket;  // null until attached
    const auto drop = [&](int socket) {
      if (auto& attachment = by_socket[socket]) attachment->attached.store(false);
      by_socket.erase(socket);
      ::close(socket);
    };
    while (!stopping.load(std::memory_order_acquire)) {
      if (::poll(watched.data(), watched.size(), -1) < 0 && errno != EINTR) break;
      if (watched[1].revents != 0) {
        if (stopping.load(std::memory_order_acquire)) break;  // stop()
        std::uint64_t wakes = 0;
        if (::read(wake, &wakes, sizeof wakes) < 0) continue;
        // fail(): the consumer thread has stopped, so no publisher is drained any more, nor
        // listed; then every one is told, by its connection closing, that nothing more is taken.
        {
          const std::lock_guard lock(mutex);
          attachments.clear();
          incoming.clear();
        }
        while (by_socket.size() > 0) drop(by_socket.begin()->first);
        watched.resize(2);
        continue;
      }
      if (watched[0].revents & POLLIN) {
        const int socket = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (socket >= 0) by_socket[socket] = nullptr;
      }
      for (std::size_t i = 2; i < watched.size(); ++i) {
        if (watched[i].revents == 0) continue;
        const int socket = watched[i].fd;
        auto message = service::detail::receive_message(socket);
        if (!message || !*message) {  // closed: the publisher exited or died
          drop(socket);
          continue;
        }
        if ((*message)->fd >= 0) ::close((*message)->fd);
        const std::string& text = (*message)->text;
        if (text.starts_with("attach ") && by_socket[socket] == nullptr) {
          by_socket[socket] = attach(socket, std::string_view(text).substr(7));
        } else if (text == "status text" || text == "status json" ||
                   text == "status prometheus") {
          const ServiceStatus now = snapshot();
          service::detail::send_message(socket, text == "status json"   ? to_json(now)
                                                : text == "status text" ? to_text(now)
                                                                        : to_prometheus(now));
        } else {
          refuse(socket, "unexpected message \"" + text + "\"");
        }
      }
      watched.resize(2);
      for (const auto& [socket, attachment] : by_socket) watched.push_back({socket, POLLIN, 0});
    }
    for (const auto& [socket, attachment] : by_socket) {
      if (attachment) attachment->attached.store(false);
      ::close(socket);
    }
    ::unlink(socket_path.c_str());
    control_done.store(true, std::memory_order_release);
  }

  // Tells each publisher how many of its events the journal has made durable.
  void report_durability(std::vector<std::shared_ptr<Attachment>>& active) {
    const std::uint64_t durable = journal.durable_sequence();
    durable_sequence.store(durable, std::memory_order_relaxed);
    const std::uint64_t next = journal.next_sequence();
    next_sequence.store(next, std::memory_order_relaxed);
    segments.store(journal.segment_count(), std::memory_order_relaxed);
    const auto now = std::chrono::steady_clock::now();
    if (now - rate_since >= timing::rate_window) {
      events_per_second.store(double(next - rate_from) /
                                  std::chrono::duration<double>(now - rate_since).count(),
                              std::memory_order_relaxed);
      rate_since = now;
      rate_from = next;
    }
    for (const auto& attachment : active) {
      auto& waiting = attachment->awaiting_durability;
      std::optional<std::uint64_t> events;
      while (!waiting.empty() && waiting.front().first <= durable) {
        events = waiting.front().second;
        waiting.pop_front();
      }
      if (events) {
        attachment->ring.publish_durable_events(*events);
        attachment->durable.store(*events, std::memory_order_relaxed);
      }
    }
  }

  void run_consumer() {
    pthread_setname_np(pthread_self(), "ringlog-consume");
    if (consumer_cpu >= 0) {
      if (auto pinned = topology::pin_this_thread(consumer_cpu); !pinned) {
        fail(pinned.error());
        return;
      }
    }
    std::vector<std::shared_ptr<Attachment>> active;
    std::optional<std::chrono::steady_clock::time_point> drain_until;
    for (;;) {
      // Loaded first: an exchange on every pass would write the flag's line each time.
      if (has_incoming.load(std::memory_order_acquire) &&
          has_incoming.exchange(false, std::memory_order_acq_rel)) {
        const std::lock_guard lock(mutex);
        active.insert(active.end(), incoming.begin(), incoming.end());
        incoming.clear();
      }
      // Read before draining: once the control thread is done, every ring is in `active`, and a
      // pass that reads nothing has drained them all.
      const bool stop_seen = control_done.load(std::memory_order_acquire);
      if (stop_seen && !drain_until) {
        drain_until = std::chrono::steady_clock::now() + timing::service_last_drain;
      }
      std::uint64_t read = 0;
      for (const auto& attachment : active) {
        const consumer::DrainStats drained =
            dispatcher.drain_batch(attachment->consumer, drain_batch_events);
        if (drained.events_read == 0) continue;
        if (drained.events_failed != 0) {
          report_durability(active);  // the status, and the stop line, say where it stopped
          fail(journal.failure() ? journal.failure()->message()
                                 : std::string("the journal refused events"));
          return;
        }
        read += drained.events_read;
        const std::uint64_t journaled =
            attachment->journaled.load(std::memory_order_relaxed) + drained.events_read;
        attachment->journaled.store(journaled, std::memory_order_relaxed);
        attachment->awaiting_durability.emplace_back(journal.next_sequence(), journaled);
      }
      if (read == 0) journal.flush_if_due();
      report_durability(active);
      if (journal.failure()) {  // a flush failed while there was nothing to append
        fail(journal.failure()->message());
        return;
      }
      // Drained and detached: nothing more can come.
      const auto gone = [](const std::shared_ptr<Attachment>& a) {
        return !a->attached.load(std::memory_order_acquire) && a->consumer.is_empty();
      };
      if (std::any_of(active.begin(), active.end(), gone)) {
        std::erase_if(active, gone);
        const std::lock_guard lock(mutex);
        std::erase_if(attachments, gone);
      }
      if (stop_seen && (read == 0 || std::chrono::steady_clock::now() > *drain_until)) break;
      if (read == 0) ringlog::detail::cpu_relax();
    }
    if (auto synced = journal.sync(); !synced) fail(synced.error().message());
    report_durability(active);
  }
};

Service::Service(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}

Service::~Service() { stop(); }

std::expected<std::unique_ptr<Service>, std::string> Service::start(const ServiceConfig& config) {
  // The consumer's CPU: as configured, or the consumer side of the pair ringlog would choose.
  std::vector<int> asked;
  if (config.consumer_cpu >= 0) asked.push_back(config.consumer_cpu);
  auto placement =
      placement::plan({asked, config.journal_dir, placement::Spinners::consumer_only});
  if (!placement) return std::unexpected(placement.error());
  storage::JournalOptions journal_options = config.journal;
  if (journal_options.housekeeping_cpus.empty()) {
    journal_options.housekeeping_cpus = config.housekeeping_cpus.empty()
                                            ? placement->housekeeping_cpus
                                            : config.housekeeping_cpus;
  }
  auto journal = storage::Journal::open(config.journal_dir, journal_options);
  if (!journal) return std::unexpected(journal.error().message());

  std::error_code ignored;
  std::filesystem::create_directories(config.runtime_dir, ignored);
  auto state = std::make_unique<State>(config, std::move(*journal));
  if (placement->pair) {
    state->consumer_cpu = placement->pair->consumer_cpu;
    state->ring_node = placement->pair->numa_node;
  }
  state->placement = placement->describe();
  state->socket_path = service::detail::socket_path(config.runtime_dir, config.name);
  auto listener = listen_at(state->socket_path, config.group);
  if (!listener) return std::unexpected(listener.error());
  state->listener = *listener;
  state->wake = ::eventfd(0, EFD_CLOEXEC);
  if (state->wake < 0) return std::unexpected("eventfd: " + errno_text(errno));
  state->dispatcher.add_consumer(std::make_unique<consumer::JournalConsumer>(state->journal));
  state->next_sequence.store(state->journal.next_sequence());
  state->rate_from = state->journal.next_sequence();  // what recovery found is no rate
  if (std::ifstream record(failure_record_path(config)); record) {
    std::string why;
    std::getline(record, why);
    state->previous_failure = why.empty() ? "(the reason was not recorded)" : why;
  }
  state->durable_sequence.store(state->journal.durable_sequence());
  if (!config.ship.nats.servers.empty()) {
    ShipConfig ship = config.ship;
    ship.journal_dir = config.journal_dir;
    ship.cpus = journal_options.housekeeping_cpus;
    auto shipper = Shipper::start(std::move(ship));
    if (!shipper) return std::unexpected("[ship]: " + shipper.error());
    state->shipper = std::move(*shipper);
  }
  State& running = *state;
  running.consuming = std::thread([&running] { running.run_consumer(); });
  running.control = std::thread([&running] { running.run_control(); });
  return std::unique_ptr<Service>(new Service(std::move(state)));
}

std::expected<void, std::string> Service::stop() {
  State& s = *state_;
  if (!s.stopping.exchange(true)) {
    const std::uint64_t one = 1;
    if (::write(s.wake, &one, sizeof one) < 0) {
      // The control thread also checks `stopping` after every wake-up.
    }
  }
  if (s.control.joinable()) s.control.join();
  if (s.consuming.joinable()) s.consuming.join();
  // What it has not shipped yet, it ships after the next start.
  if (s.shipper) s.shipper->stop();
  if (const auto failure = s.failed()) return std::unexpected(*failure);
  std::error_code ignored;
  std::filesystem::remove(failure_record_path(s.config), ignored);
  return {};
}

std::filesystem::path failure_record_path(const ServiceConfig& config) {
  return config.runtime_dir / (config.name + ".failed");
}

ServiceStatus Service::status() const { return state_->snapshot(); }

std::string to_text(const ServiceStatus& status) {
  std::string text = fmt::format(
      "journal    next sequence {}, durable {} (lag {}), {} segment(s), {:.0f} events/s; {}\n"
      "placement  {}\npublishers {} attached now, {} attachments and {} refusals since the "
      "start\n",
      status.journal_next_sequence, status.journal_durable_sequence,
      status.journal_next_sequence - status.journal_durable_sequence, status.journal_segments,
      status.events_per_second, status.flush_backend, status.placement,
      status.publishers.size(), status.attaches, status.refusals);
  for (const PublisherStatus& p : status.publishers) {
    text += fmt::format("  #{:<4} pid {:<8} channel {:<12} {:>12} journaled {:>12} durable  "
                        "ring {:.1f}% used{}\n",
                        p.id, p.pid, p.channel, p.journaled, p.durable,
                        100.0 * double(p.ring_used) /
                            double(std::max<std::size_t>(p.ring_bytes, 1)),
                        p.attached ? "" : "  (detached, draining)");
  }
  if (status.ship) text += to_text(*status.ship);
  if (status.failure) text += "FAILED     " + *status.failure + "\n";
  if (status.previous_failure) {
    text += "previously FAILED (an earlier run): " + *status.previous_failure + "\n";
  }
  return text;
}

std::string to_json(const ServiceStatus& status) {
  using Json = nlohmann::ordered_json;
  const auto text_or_null = [](const std::optional<std::string>& text) {
    return text ? Json(*text) : Json(nullptr);
  };
  Json publishers = Json::array();
  for (const PublisherStatus& p : status.publishers) {
    publishers.push_back({{"id", p.id},
                          {"pid", p.pid},
                          {"channel", p.channel},
                          {"journaled", p.journaled},
                          {"durable", p.durable},
                          {"attached", p.attached},
                          {"ring_used", p.ring_used},
                          {"ring_bytes", p.ring_bytes}});
  }
  const Json json = {{"journal_next_sequence", status.journal_next_sequence},
                     {"journal_durable_sequence", status.journal_durable_sequence},
                     {"journal_segments", status.journal_segments},
                     {"events_per_second", status.events_per_second},
                     {"attaches", status.attaches},
                     {"refusals", status.refusals},
                     {"failure", text_or_null(status.failure)},
                     {"previous_failure", text_or_null(status.previous_failure)},
                     {"publishers", std::move(publishers)},
                     {"ship", status.ship ? to_json(*status.ship) : Json(nullptr)}};
  return json.dump() + "\n";
}

std::string to_prometheus(const ServiceStatus& status) {
  std::string text;
  const auto metric = [&](std::string_view name, std::string_view type, std::string_view help) {
    text += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  metric("ringlog_journal_events", "counter", "Events appended to the journal (next sequence).");
  text += fmt::format("ringlog_journal_events {}\n", status.journal_next_sequence);
  metric("ringlog_journal_durable_events", "counter", "Events the journal has made durable.");
  text += fmt::format("ringlog_journal_durable_events {}\n", status.journal_durable_sequence);
  metric("ringlog_journal_segments", "gauge", "Segment files in the journal's directory.");
  text += fmt::format("ringlog_journal_segments {}\n", status.journal_segments);
  metric("ringlog_attaches", "counter", "Publisher attachments since the start.");
  text += fmt::format("ringlog_attaches {}\n", status.attaches);
  metric("ringlog_refusals", "counter", "Attachments refused since the start.");
  text += fmt::format("ringlog_refusals {}\n", status.refusals);
  metric("ringlog_failed", "gauge", "1 when the journal stopped taking events.");
  text += fmt::format("ringlog_failed {}\n", status.failure ? 1 : 0);
  const auto per_publisher = [&](std::string_view name, std::string_view type,
                                 std::string_view help, auto value) {
    metric(name, type, help);
    for (const PublisherStatus& p : status.publishers) {
      text += fmt::format("{}{{id=\"{}\",channel=\"{}\",pid=\"{}\"}} {}\n", name, p.id,
                          p.channel, p.pid, value(p));
    }
  };
  per_publisher("ringlog_publisher_journaled_events", "counter",
                "Events of this publisher in the journal.",
                [](const PublisherStatus& p) { return p.journaled; });
  per_publisher("ringlog_publisher_durable_events", "counter",
                "Events of this publisher made durable.",
                [](const PublisherStatus& p) { return p.durable; });
  per_publisher("ringlog_publisher_ring_used_bytes", "gauge",
                "Bytes written into this publisher's ring and not yet drained.",
                [](const PublisherStatus& p) { return p.ring_used; });
  if (status.ship) text += to_prometheus(*status.ship);
  return text;
}

std::expected<std::string, std::string> query_status(const std::filesystem::path& runtime_dir,
                                                     const std::string& name,
                                                     const std::string& format) {
  const std::filesystem::path path = service::detail::socket_path(runtime_dir, name);
  auto connection = service::detail::connect_to(path);
  if (!connection) return std::unexpected(connection.error());
  const int socket = connection->fd;
  const auto fail = [&](std::string why) {
    ::close(socket);
    return std::unexpected(std::move(why));
  };
  if (connection->connect_error != 0) {
    return fail(fmt::format("cannot reach the ringlog service at {}: {}", path.string(),
                            errno_text(connection->connect_error)));
  }
  if (const int error = service::detail::send_message(socket, "status " + format); error != 0) {
    return fail(fmt::format("status request to {}: {}", path.string(), errno_text(error)));
  }
  auto reply = service::detail::receive_message(socket);
  if (!reply || !*reply) return fail(fmt::format("no status from {}", path.string()));
  ::close(socket);
  if ((*reply)->text.starts_with("refused ")) return std::unexpected((*reply)->text.substr(8));
  return std::move((*reply)->text);
}

}  // namespace ringlog::app
