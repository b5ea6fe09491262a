#include <ringlog/dispatcher.hpp>
#include <ringlog/detail/assert.hpp>

#include <algorithm>

namespace ringlog::dispatch {

namespace {

double ratio_delivered(std::uint64_t delivered, std::uint64_t failed) {
  const std::uint64_t attempts = delivered + failed;
  return attempts == 0 ? 1.0 : static_cast<double>(delivered) / static_cast<double>(attempts);
}

// The RingBuffer counterpart of ring::Consumer::poll().
template <class Deliver>
void read_up_to(ring::RingBuffer& ring, std::size_t limit, Deliver&& deliver) {
  for (std::size_t count = 0; count < limit; ++count) {
    const std::optional<event::EventView> view = ring.read_event();
    if (!view) return;
    deliver(*view);
  }
}

}  // namespace

std::size_t EventConsumer::consume_records(std::span<const std::byte> records,
                                           std::size_t event_count) {
  std::size_t taken = 0;
  const std::byte* at = records.data();
  for (std::size_t i = 0; i < event_count; ++i) {
    const event::EventView view = ringlog::detail::view_at(at);
    taken += consume(view.header, view.payload) ? 1 : 0;
    at += ringlog::detail::record_size(view.header.payload_len);
  }
  return taken;
}

double DrainStats::success_rate() const noexcept {
  return ratio_delivered(events_delivered, events_failed);
}

double ConsumerTotals::success_rate() const noexcept { return ratio_delivered(delivered, failed); }

EventConsumer& EventDispatcher::add_consumer(std::unique_ptr<EventConsumer> consumer) {
  consumers_.push_back(Registered{std::move(consumer)});
  return *consumers_.back().consumer;
}

void EventDispatcher::deliver(const event::EventView& view, DrainStats& stats) {
  ++stats.events_read;
  for (Registered& registered : consumers_) {
    if (registered.consumer->consume(view.header, view.payload)) {
      ++registered.delivered;
      ++stats.events_delivered;
    } else {
      ++registered.failed;
      ++stats.events_failed;
    }
  }
}

void EventDispatcher::deliver_records(std::span<const std::byte> records,
                                      std::size_t event_count, DrainStats& stats) {
  stats.events_read += event_count;
  for (Registered& registered : consumers_) {
    const std::size_t taken = registered.consumer->consume_records(records, event_count);
    registered.delivered += taken;
    registered.failed += event_count - taken;
    stats.events_delivered += taken;
    stats.events_failed += event_count - taken;
  }
}

void EventDispatcher::flush_all() {
  for (Registered& registered : consumers_) registered.consumer->flush();
}

DrainStats EventDispatcher::drain(ring::RingBuffer& ring) { return drain_batch(ring, SIZE_MAX); }

DrainStats EventDispatcher::drain(ring::Consumer& ring) { return drain_batch(ring, SIZE_MAX); }

DrainStats EventDispatcher::drain_batch(ring::RingBuffer& ring, std::size_t limit) {
  DrainStats stats;
  read_up_to(ring, limit, [&](const event::EventView& view) {
    if (const auto marker = event::as_drop_marker(view)) [[unlikely]] {
      stats.marked_dropped += marker->dropped_events;
    }
    deliver(view, stats);
  });
  flush_all();
  return stats;
}

// Runs of records rather than single events: a consumer that persists records as they are
// copies each run once. `peek(max_events)` gives the next run (ring::CheckedRecords), and
// `release(bytes)` hands its bytes back.
template <class Peek, class Release>
DrainStats EventDispatcher::drain_runs(std::size_t limit, Peek&& peek, Release&& release) {
  DrainStats stats;
  while (stats.events_read < limit) {
    const ring::CheckedRecords run = peek(limit - stats.events_read);
    if (run.events == 0) break;
    deliver_records(run.records, run.events, stats);
    // Saturating: an untrusted producer's markers may claim counts that add up past 2^64.
    if (__builtin_add_overflow(stats.marked_dropped, run.dropped, &stats.marked_dropped)) {
      stats.marked_dropped = UINT64_MAX;
    }
    release(run.records.size());
  }
  flush_all();
  return stats;
}

DrainStats EventDispatcher::drain_batch(ring::Consumer& ring, std::size_t limit) {
  const auto peek = [&](std::uint64_t max_events) {
    const std::span<const std::byte> records = ring.peek_records();
    const ringlog::detail::RecordRun run = ringlog::detail::measure_records(records, max_events);
    return ring::CheckedRecords{records.first(run.bytes), run.events, run.dropped};
  };
  return drain_runs(limit, peek, [&](std::size_t bytes) { ring.release_records(bytes); });
}

DrainStats EventDispatcher::drain_batch(ring::CheckedConsumer& ring, std::size_t limit) {
  return drain_runs(limit, [&](std::uint64_t max_events) { return ring.peek_records(max_events); },
                    [&](std::size_t bytes) { ring.release_records(bytes); });
}

std::size_t EventDispatcher::consumer_count() const noexcept { return consumers_.size(); }

std::vector<ConsumerTotals> EventDispatcher::totals() const {
  std::vector<ConsumerTotals> result;
  result.reserve(consumers_.size());
  for (const Registered& registered : consumers_) {
    result.push_back({registered.consumer->name(), registered.delivered, registered.failed});
  }
  return result;
}

ConsumerTotals EventDispatcher::totals_of(const EventConsumer& consumer) const {
  const auto found = std::find_if(consumers_.begin(), consumers_.end(), [&](const Registered& r) {
    return r.consumer.get() == &consumer;
  });
  // Zeros for a stranger would read as "delivered nothing": a wrong answer, not a missing one.
  RINGLOG_CHECK(found != consumers_.end(),
                "totals_of() is asked only about a consumer added to this dispatcher");
  return {consumer.name(), found->delivered, found->failed};
}

}  // namespace ringlog::dispatch
