// What the service's threads share: the attached publishers, the figures its status shows, and
// whether the journal failed. The control thread (control_loop.hpp) attaches publishers and
// answers status requests; the drain thread (drain_loop.hpp) drains their rings into the journal.
#pragma once

#include "service/channel_metrics.hpp"
#include "service/service.hpp"

#include <ringlog/detail/tsc.hpp>
#include <ringlog/shared_ring.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ringlog::service {

// One attached publisher. The control thread creates it and clears `attached` when the
// connection closes; the drain thread drains it and drops it once detached and empty.
struct Attachment {
  // A drained batch of this publisher's events, waiting for the journal's durable sequence to
  // pass it.
  struct AwaitingDurability {
    std::uint64_t journal_sequence_after;  // the journal's next sequence after the drain
    std::uint64_t journaled;               // this publisher's events journaled by then
    std::chrono::steady_clock::time_point drained_at;
  };

  std::uint64_t id;
  std::string channel;
  PeerCredentials peer;                      // the attached process, from SO_PEERCRED
  ChannelMetrics& metrics;                   // its channel's, shared with every publisher on it
  ring::SharedRing ring;
  ring::CheckedConsumer consumer;            // drain thread only
  std::atomic<bool> attached{true};
  // Set once, by the drain thread, when the publisher broke its ring's protocol: `violation`
  // is written before `quarantined` is stored (release) and never after. The control thread
  // then tells the publisher why and closes its connection; nothing more is read of its ring.
  std::atomic<bool> quarantined{false};
  std::string violation{};
  std::atomic<std::uint64_t> journaled{0};   // written by the drain thread
  std::atomic<std::uint64_t> durable{0};     // written by the drain thread
  std::deque<AwaitingDurability> awaiting_durability{};  // drain thread only
  ring::OverflowCounts overflow_seen{};  // drain thread only: added to the channel's so far
  // The events the drop markers drained from its ring count (drain thread only): what the
  // publisher dropped less these is what no marker in the journal tells of.
  std::uint64_t marked_drained = 0;

  // A sampled event on its way through the stages (drain thread only): where its record ends
  // in the ring, the TSC when its last stage ended, and the journal's next sequence once it was
  // journaled (the event lies below it).
  struct TimedSample {
    std::uint64_t ring_end;
    std::uint64_t stamp;
    std::uint64_t journal_sequence_after = 0;
  };
  std::uint64_t next_commit_sample = 0;
  std::array<std::deque<TimedSample>, stage_count> timed{};  // each awaiting the end of a Stage
};

// The violations since the start: how many, and the latest few for status. The drain thread
// adds (rarely: once per misbehaving publisher); status reads.
class ViolationLog {
 public:
  static constexpr std::size_t kept = 16;
  void add(ViolationStatus);
  std::uint64_t count() const;
  std::vector<ViolationStatus> latest() const;

 private:
  mutable std::mutex mutex_;  // guards both
  std::uint64_t count_ = 0;
  std::deque<ViolationStatus> latest_;
};

// The publishers attached now, or detached and not yet drained. The control thread adds them;
// the drain thread takes the new ones and forgets the drained ones; status lists them all.
class AttachmentRegistry {
 public:
  void add(std::shared_ptr<Attachment>);                  // control thread
  // The attachments added since the last call; takes no lock while there are none.
  std::vector<std::shared_ptr<Attachment>> take_new();    // drain thread
  void forget(const std::vector<std::shared_ptr<Attachment>>& gone);  // drain thread
  void clear();                                           // control thread, once failed
  std::vector<PublisherStatus> publishers() const;        // any thread

 private:
  mutable std::mutex mutex_;                           // guards the two lists
  std::vector<std::shared_ptr<Attachment>> listed_;    // for status
  std::vector<std::shared_ptr<Attachment>> incoming_;  // for the drain thread
  std::atomic<bool> has_incoming_{false};
};

// The figures the drain thread keeps up to date for status, and the control thread's counts.
struct StatusBoard {
  std::atomic<std::uint64_t> next_sequence{0};
  std::atomic<std::uint64_t> durable_sequence{0};
  std::atomic<std::size_t> segments{0};
  std::atomic<double> events_per_second{0};
  std::atomic<std::uint64_t> attaches{0};
  std::atomic<std::uint64_t> refusals{0};
  // Passes of each thread's loop: that they keep rising is what the systemd watchdog is told
  // (Service::responsive).
  std::atomic<std::uint64_t> drain_passes{0};
  std::atomic<std::uint64_t> control_passes{0};
  // Events the drain thread has read from the rings: that it rises while events wait is what
  // tells a working drain from a wedged one.
  std::atomic<std::uint64_t> drained_events{0};
};

struct ServiceShared {
  explicit ServiceShared(ServiceConfig c);
  ~ServiceShared();
  ServiceShared(const ServiceShared&) = delete;
  ServiceShared& operator=(const ServiceShared&) = delete;

  // The journal failed: recorded for the next start, and the control thread is woken to close
  // every publisher's connection, so that they learn at once that nothing more is taken.
  void fail(std::string why);
  std::optional<std::string> failure() const;
  // Wakes the control thread from its poll: to stop, or to act on a failure.
  void wake_control() const;

  // The metrics of the configured channel `name` (attach() refuses any other).
  ChannelMetrics& channel_metrics(std::string_view name);

  const ServiceConfig config;
  AttachmentRegistry attachments;
  ViolationLog violations;
  std::deque<ChannelMetrics> channels;  // one per configured channel, in the configuration's order
  StatusBoard board;
  ringlog::detail::TscRate tsc_rate;  // measured at the start, for the stage timings
  std::optional<std::string> previous_failure;  // set before the threads start
  int wake = -1;                                 // eventfd the control thread polls
  std::atomic<bool> stopping{false};
  std::atomic<bool> control_done{false};         // no attachment can come any more

 private:
  // Written whole or not at all (a temporary file, then a rename), so that the next start never
  // reads half a reason; on a full disk shared with the runtime directory it may not be written.
  void record_failure(const std::string& why) const;

  mutable std::mutex failure_mutex_;
  std::optional<std::string> failure_;  // guarded by failure_mutex_
};

}  // namespace ringlog::service
