// The service's drain thread, pinned to the consumer's CPU: drains every publisher's ring
// through the dispatcher into the journal, tells each publisher through its ring how many of its
// events are durable, and keeps the status board's journal figures up to date.
#pragma once

#include <functional>

#include "service/service_shared.hpp"

#include <ringlog/dispatcher.hpp>
#include <ringlog/journal.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ringlog::service {

class DrainLoop {
 public:
  // Where the drain thread runs: `cpu` < 0, unpinned. `shares_with_flushes`: the journal's
  // flushes may run on that CPU too (no housekeeping CPU apart from it).
  struct Place {
    int cpu = -1;
    bool shares_with_flushes = true;
  };
  // `shipped_through`: the shipper's Shipper::shipped_through, when the service ships.
  DrainLoop(ServiceShared& shared, journal::Journal& journal, Place place,
            std::function<std::uint64_t()> shipped_through);
  DrainLoop(const DrainLoop&) = delete;
  DrainLoop& operator=(const DrainLoop&) = delete;

  // Until the control thread is done and every ring is drained (or, once stopped, a publisher
  // kept writing for timing::service_last_drain); then the journal is made durable. Stops at
  // once, through ServiceShared::fail, when the journal fails.
  void run();

 private:
  void drain_until_stopped();
  // A pass found nothing: spins a moment, or, where the journal's flushes may run on this CPU,
  // sleeps until the flush in flight finishes (timing::drain_idle_rest at most).
  void rest() noexcept;
  // One pass over every ring: the events read, or nothing when the journal refused some.
  std::optional<std::uint64_t> drain_once();
  // Tells each publisher how many of its events the journal has made durable.
  void report_durability();
  void forget_drained_and_detached();
  // Fails the service with the journal's reason, or `otherwise` where it gave none.
  void fail_as_the_journal_says(const char* otherwise);
  // Moves the publisher's sampled events through the stages that have ended for them, timing
  // each into its channel's histograms.
  void time_stages(Attachment&);
  // Takes the commit samples the publisher recorded since the last call, each checked; false
  // when one was out of bounds (the publisher is quarantined).
  bool take_commit_samples(Attachment&);
  // Adds what the publisher's overflow counts rose by to its channel's, once checked.
  void count_overflow(Attachment&);
  // Detaches a publisher that broke its ring's protocol: nothing more of its ring is read, the
  // violation is counted and listed, and the control thread tells the publisher `why`.
  void quarantine(Attachment&, const std::string& why);
  // For a publisher gone with drops no marker in its ring counted: a marker in the journal.
  void mark_unmarked_drops(Attachment&);

  ServiceShared& shared_;
  journal::Journal& journal_;
  const Place place_;
  std::function<std::uint64_t()> shipped_through_;
  dispatch::EventDispatcher dispatcher_;
  std::vector<std::shared_ptr<Attachment>> active_;
  // Where the rate was last measured from.
  std::chrono::steady_clock::time_point rate_since_ = std::chrono::steady_clock::now();
  std::uint64_t rate_from_ = 0;
};

}  // namespace ringlog::service
