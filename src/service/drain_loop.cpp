#include "service/drain_loop.hpp"

#include "support/timing.hpp"

#include <ringlog/detail/assert.hpp>
#include <ringlog/detail/cpu_relax.hpp>
#include <ringlog/detail/tsc.hpp>
#include <ringlog/journal_consumer.hpp>
#include <ringlog/topology.hpp>

#include <fmt/format.h>
#include <pthread.h>

#include <algorithm>
#include <optional>
#include <string>

namespace ringlog::service {

namespace {

// A figure that only this thread writes: no read-modify-write needed.
void board_add(std::atomic<std::uint64_t>& figure, std::uint64_t more) {
  figure.store(figure.load(std::memory_order_relaxed) + more, std::memory_order_relaxed);
}

// Why the overflow counts `now` cannot follow `seen`, or nothing when they can: a publisher only
// adds to them, counts a timeout after its wait and a marked drop after the drop, and writes a
// drop marker only for events it counted dropped (`marked_drained` of them came through).
std::optional<std::string> overflow_fault(const ring::OverflowCounts& seen,
                                          const ring::OverflowCounts& now,
                                          std::uint64_t marked_drained) {
  if (now.waits < seen.waits || now.timeouts < seen.timeouts || now.failed < seen.failed ||
      now.dropped < seen.dropped || now.marked < seen.marked) {
    return fmt::format("its overflow counts went down (waits {} -> {}, timeouts {} -> {}, "
                       "failed {} -> {}, dropped {} -> {}, marked {} -> {})",
                       seen.waits, now.waits, seen.timeouts, now.timeouts, seen.failed,
                       now.failed, seen.dropped, now.dropped, seen.marked, now.marked);
  }
  if (now.timeouts > now.waits) {
    return fmt::format("its overflow counts have {} timeouts of {} waits", now.timeouts,
                       now.waits);
  }
  if (now.marked > now.dropped || marked_drained > now.dropped) {
    return fmt::format("its drop markers count {} events ({} in the ring), more than the {} it "
                       "counted dropped", now.marked, marked_drained, now.dropped);
  }
  return std::nullopt;
}

}  // namespace

DrainLoop::DrainLoop(ServiceShared& shared, journal::Journal& journal, Place place,
                     std::function<std::uint64_t()> shipped_through)
    : shared_(shared),
      journal_(journal),
      place_(place),
      shipped_through_(std::move(shipped_through)),
      rate_from_(journal.next_sequence()) {  // what recovery found is no rate
  dispatcher_.add_consumer(std::make_unique<dispatch::JournalConsumer>(journal_));
}

void DrainLoop::run() {
  pthread_setname_np(pthread_self(), "ringlog-consume");
  if (place_.cpu >= 0) {
    if (auto pinned = topology::pin_this_thread(place_.cpu); !pinned) {
      shared_.fail(pinned.error().message());
      return;
    }
  }
  drain_until_stopped();
  active_.clear();  // the rings' memory goes now, not when the service is destroyed
}

void DrainLoop::drain_until_stopped() {
  std::optional<std::chrono::steady_clock::time_point> drain_until;
  for (;;) {
    board_add(shared_.board.drain_passes, 1);
    // Read before taking the new attachments: once the control thread is done, every ring it
    // attached is taken below, and a pass that then reads nothing has drained them all.
    const bool stop_seen = shared_.control_done.load(std::memory_order_acquire);
    for (auto& attachment : shared_.attachments.take_new()) {
      active_.push_back(std::move(attachment));
    }
    if (stop_seen && !drain_until) {
      drain_until = std::chrono::steady_clock::now() + timing::service_last_drain;
    }
    const std::optional<std::uint64_t> read = drain_once();
    if (!read) return;
    // Every pass, busy or not: the timer's flushes and the pages prepared ahead come from here.
    // Called only on passes that read nothing, a busy service flushed by bytes alone (1 MiB:
    // 12 ms at 1 M events/s), and commit → durable was 6.5 ms at p50.
    journal_.flush_if_due();
    report_durability();
    if (journal_.failure()) {  // a flush failed while there was nothing to append
      shared_.fail(journal_.failure()->message());
      return;
    }
    forget_drained_and_detached();
    if (stop_seen && (*read == 0 || std::chrono::steady_clock::now() > *drain_until)) break;
    if (*read == 0) rest();
  }
  if (auto synced = journal_.sync(); !synced) shared_.fail(synced.error().message());
  report_durability();
}

void DrainLoop::rest() noexcept {
  if (!place_.shares_with_flushes) {
    ringlog::detail::cpu_relax();
    return;
  }
  // Spinning here would keep the CPU from the flush's worker: woken by the disk, it waited for
  // the scheduler's next tick, up to 4 ms. 1 M events/s through ringlog serve on 2 CPUs, four
  // runs each: commit -> durable p99 8.0-18.9 ms spinning, 4.9-11.0 ms resting.
  journal_.rest_while_flushing(timing::drain_idle_rest);
}

std::optional<std::uint64_t> DrainLoop::drain_once() {
  std::uint64_t read = 0;
  for (const auto& attachment : active_) {
    if (attachment->quarantined.load(std::memory_order_relaxed)) continue;
    const dispatch::DrainStats drained =
        dispatcher_.drain_batch(attachment->consumer, timing::drain_batch_events);
    // Its events up to the fault are journaled below; nothing after it is read.
    if (const auto& violation = attachment->consumer.violation()) {
      quarantine(*attachment, violation->describe());
    }
    if (drained.events_read == 0) continue;
    if (drained.events_failed != 0) {
      report_durability();  // the status, and the stop line, say where it stopped
      fail_as_the_journal_says("the journal refused events");
      return std::nullopt;
    }
    read += drained.events_read;
    board_add(shared_.board.drained_events, drained.events_read);
    // Saturating: markers that claim more than 2^64 drops are caught by count_overflow.
    if (__builtin_add_overflow(attachment->marked_drained, drained.marked_dropped,
                               &attachment->marked_drained)) {
      attachment->marked_drained = UINT64_MAX;
    }
    const std::uint64_t journaled =
        attachment->journaled.load(std::memory_order_relaxed) + drained.events_read;
    attachment->journaled.store(journaled, std::memory_order_relaxed);
    attachment->metrics.add_journaled(drained.events_read);
    // A vDSO clock read per drained batch, not per event: no system call.
    attachment->awaiting_durability.push_back(
        {journal_.next_sequence(), journaled, std::chrono::steady_clock::now()});
  }
  return read;
}

void DrainLoop::fail_as_the_journal_says(const char* otherwise) {
  shared_.fail(journal_.failure() ? journal_.failure()->message() : std::string(otherwise));
}

void DrainLoop::report_durability() {
  StatusBoard& board = shared_.board;
  const std::uint64_t durable = journal_.durable_sequence();
  board.durable_sequence.store(durable, std::memory_order_relaxed);
  const std::uint64_t next = journal_.next_sequence();
  board.next_sequence.store(next, std::memory_order_relaxed);
  board.segments.store(journal_.segment_count(), std::memory_order_relaxed);
  const auto now = std::chrono::steady_clock::now();
  if (now - rate_since_ >= timing::rate_window) {
    board.events_per_second.store(
        double(next - rate_from_) / std::chrono::duration<double>(now - rate_since_).count(),
        std::memory_order_relaxed);
    rate_since_ = now;
    rate_from_ = next;
  }
  for (const auto& attachment : active_) {
    count_overflow(*attachment);
    if (!attachment->quarantined.load(std::memory_order_relaxed)) time_stages(*attachment);
    auto& waiting = attachment->awaiting_durability;
    std::optional<std::uint64_t> events;
    while (!waiting.empty() && waiting.front().journal_sequence_after <= durable) {
      events = waiting.front().journaled;
      attachment->metrics.journaled_to_durable.observe(now - waiting.front().drained_at);
      waiting.pop_front();
    }
    if (events) {
      // Batches wait in the order drained, each counting more events than the one before: the
      // subtraction below never wraps.
      RINGLOG_CHECK(*events >= attachment->durable.load(std::memory_order_relaxed),
                    "a publisher's durable count only rises");
      // The figures first: a publisher that sees its events durable finds status agreeing.
      attachment->metrics.add_durable(
          *events - attachment->durable.load(std::memory_order_relaxed));
      attachment->durable.store(*events, std::memory_order_relaxed);
      attachment->ring.publish_durable_events(*events);
    }
  }
}

void DrainLoop::forget_drained_and_detached() {
  // Detached, and drained or quarantined: nothing more is read.
  const auto gone = [](const std::shared_ptr<Attachment>& a) {
    return !a->attached.load(std::memory_order_acquire) &&
           (a->quarantined.load(std::memory_order_relaxed) || a->consumer.is_empty());
  };
  std::vector<std::shared_ptr<Attachment>> drained;
  std::erase_if(active_, [&](const std::shared_ptr<Attachment>& a) {
    if (!gone(a)) return false;
    drained.push_back(a);  // judged once: status forgets exactly what the loop lets go
    return true;
  });
  for (const auto& attachment : drained) {
    count_overflow(*attachment);
    mark_unmarked_drops(*attachment);
  }
  if (!drained.empty()) shared_.attachments.forget(drained);
}

void DrainLoop::time_stages(Attachment& attachment) {
  if (!take_commit_samples(attachment)) return;
  auto& timed = attachment.timed;
  if (std::ranges::all_of(timed, [](const auto& waiting) { return waiting.empty(); })) return;
  const std::uint64_t now = ringlog::detail::read_tsc();
  // Moves the samples whose stage `stage` has ended (`ended`) on to the next, timing each.
  const auto move_on = [&](Stage stage, auto ended, bool last) {
    auto& waiting = timed[std::size_t(stage)];
    for (; !waiting.empty() && ended(waiting.front()); waiting.pop_front()) {
      Attachment::TimedSample sample = waiting.front();
      const std::uint64_t ticks = now > sample.stamp ? now - sample.stamp : 0;
      attachment.metrics.stages[std::size_t(stage)].observe(shared_.tsc_rate.to_duration(ticks));
      sample.stamp = now;
      if (stage == Stage::commit_to_journaled) {
        sample.journal_sequence_after = journal_.next_sequence();
      }
      if (!last) timed[std::size_t(stage) + 1].push_back(sample);
    }
  };
  const std::uint64_t read_through = attachment.consumer.position();
  const std::uint64_t durable = journal_.durable_sequence();
  move_on(Stage::commit_to_journaled, [&](const auto& s) { return s.ring_end <= read_through; },
          false);
  move_on(Stage::journaled_to_durable,
          [&](const auto& s) { return s.journal_sequence_after <= durable; }, !shipped_through_);
  if (!shipped_through_) return;
  const std::uint64_t shipped = shipped_through_();
  move_on(Stage::durable_to_shipped,
          [&](const auto& s) { return s.journal_sequence_after <= shipped; }, true);
  // A stream that takes nothing for long: the oldest samples go, not the memory.
  auto& unshipped = timed[std::size_t(Stage::durable_to_shipped)];
  while (unshipped.size() > 4 * ring::commit_sample_slots) unshipped.pop_front();
}

bool DrainLoop::take_commit_samples(Attachment& attachment) {
  std::array<ring::CommitSample, 16> fresh;
  const std::size_t got = attachment.ring.read_commit_samples(attachment.next_commit_sample, fresh);
  // Our count, not the publisher's: fresh[i] below stays within the array.
  RINGLOG_CHECK(got <= fresh.size(), "no more samples are read than there is room for");
  auto& waiting = attachment.timed[0];
  // A sample is the publisher's word for where a committed record ends: no further than a ring
  // beyond what was read, and after the sample before it. Each waits in this process's memory
  // until the drain passes it, so an unchecked one would hold memory for good.
  const std::uint64_t reach = attachment.consumer.position() + attachment.ring.capacity();
  for (std::size_t i = 0; i < got; ++i) {
    const std::uint64_t after = waiting.empty() ? 0 : waiting.back().ring_end;
    if (fresh[i].ring_end > reach || fresh[i].ring_end < after) {
      quarantine(attachment, fmt::format("commit sample {} says a record ends at ring position "
                                         "{}, outside [{}, {}]",
                                         attachment.next_commit_sample - got + i,
                                         fresh[i].ring_end, after, reach));
      return false;
    }
    waiting.push_back({fresh[i].ring_end, fresh[i].tsc});
  }
  return true;
}

void DrainLoop::count_overflow(Attachment& attachment) {
  if (attachment.quarantined.load(std::memory_order_relaxed)) return;  // its counts are void
  const ring::OverflowCounts now = attachment.ring.overflow_counts();
  ring::OverflowCounts& seen = attachment.overflow_seen;
  if (now.waits == seen.waits && now.timeouts == seen.timeouts && now.failed == seen.failed &&
      now.dropped == seen.dropped && now.marked == seen.marked) {
    return;  // the usual case: the channel's figures are left alone
  }
  if (const auto wrong = overflow_fault(seen, now, attachment.marked_drained)) {
    quarantine(attachment, *wrong);
    return;
  }
  attachment.metrics.add_overflow({now.waits - seen.waits, now.timeouts - seen.timeouts,
                                   now.failed - seen.failed, now.dropped - seen.dropped});
  seen = now;
}

void DrainLoop::quarantine(Attachment& attachment, const std::string& why) {
  if (attachment.quarantined.load(std::memory_order_relaxed)) return;
  const PeerCredentials& peer = attachment.peer;
  attachment.violation =
      fmt::format("publisher #{} (pid {}, uid {}, gid {}) on channel \"{}\" broke its ring's "
                  "protocol and was detached: {}",
                  attachment.id, peer.pid, peer.uid, peer.gid, attachment.channel, why);
  attachment.ring.mark_detached();  // its writes fail from now on
  attachment.metrics.add_violation();
  shared_.violations.add({attachment.id, attachment.channel, peer, why});
  attachment.quarantined.store(true, std::memory_order_release);
  shared_.wake_control();  // which tells the publisher, and closes its connection
}

void DrainLoop::mark_unmarked_drops(Attachment& attachment) {
  // Its publisher gone and its ring drained: the drops no marker that came through counts,
  // exactly, however the publisher died (a marker it was writing either came through or not).
  const std::uint64_t dropped = attachment.overflow_seen.dropped;
  if (dropped <= attachment.marked_drained) return;
  // Where the publisher's events end; their timestamps are unknown here (0).
  const event::DropMarker marker{.dropped_events = dropped - attachment.marked_drained};
  const auto bytes = std::as_bytes(std::span(&marker, 1));
  if (!journal_.append(event::drop_marker_header(marker), bytes)) {
    fail_as_the_journal_says("the journal refused a drop marker");
  }
}

}  // namespace ringlog::service
