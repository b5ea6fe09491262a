// The dispatcher: drains a ring and hands every event to each registered consumer in turn.
//
// Threads: an EventDispatcher is used by one thread, the one that owns the ring's consumer side.
// Consumers are called on that thread, in registration order, with views into ring memory that
// are valid for the duration of the call.
#pragma once

#include <ringlog/checked_consumer.hpp>
#include <ringlog/event.hpp>
#include <ringlog/ring.hpp>

#include <concepts>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace ringlog::dispatch {

class EventConsumer {
 public:
  virtual ~EventConsumer() = default;
  // True when the event was taken; false counts as a failed delivery for this consumer.
  virtual bool consume(const event::EventHeader&, std::span<const std::byte> payload) = 0;
  // A contiguous run of `event_count` whole records, framed as in the ring. The default hands
  // each event to consume(); a consumer that keeps records as they are (a journal) takes the run
  // in one piece. Returns how many of the events it took.
  virtual std::size_t consume_records(std::span<const std::byte> records,
                                      std::size_t event_count);
  virtual void flush() {}
  virtual std::string_view name() const = 0;
};

struct DrainStats {
  std::uint64_t events_read = 0;
  std::uint64_t events_delivered = 0;  // consume() returned true, counted per consumer
  std::uint64_t events_failed = 0;     // consume() returned false, counted per consumer
  // What the drop markers among the events read count as dropped by their producer (markers
  // are read, and delivered, as events).
  std::uint64_t marked_dropped = 0;
  double success_rate() const noexcept;  // delivered / (delivered + failed); 1.0 when both are 0
};

// One consumer's totals since it was added.
struct ConsumerTotals {
  std::string_view name;
  std::uint64_t delivered = 0;
  std::uint64_t failed = 0;
  double success_rate() const noexcept;
};

class EventDispatcher {
 public:
  EventConsumer& add_consumer(std::unique_ptr<EventConsumer>);
  template <std::derived_from<EventConsumer> C>
  C& add_consumer(C consumer) {
    return static_cast<C&>(add_consumer(std::make_unique<C>(std::move(consumer))));
  }

  // Every event until the ring is found empty, then flush() on each consumer.
  DrainStats drain(ring::RingBuffer&);
  DrainStats drain(ring::Consumer&);
  // At most `limit` events, then flush() on each consumer.
  DrainStats drain_batch(ring::RingBuffer&, std::size_t limit);
  DrainStats drain_batch(ring::Consumer&, std::size_t limit);
  // A ring of an untrusted producer: the consumers see only records checked and copied out of
  // it. Stops at a protocol violation (the ring's violation() says where), having delivered
  // every whole record before it.
  DrainStats drain_batch(ring::CheckedConsumer&, std::size_t limit);

  std::size_t consumer_count() const noexcept;
  std::vector<ConsumerTotals> totals() const;  // in registration order
  // The totals of `consumer`, the reference add_consumer() returned: found by identity, so two
  // consumers of one name are never confused. `consumer` must be one added here.
  ConsumerTotals totals_of(const EventConsumer& consumer) const;

 private:
  struct Registered {
    std::unique_ptr<EventConsumer> consumer;
    std::uint64_t delivered = 0;
    std::uint64_t failed = 0;
  };
  void deliver(const event::EventView&, DrainStats&);
  void deliver_records(std::span<const std::byte> records, std::size_t event_count, DrainStats&);
  void flush_all();
  template <class Peek, class Release>
  DrainStats drain_runs(std::size_t limit, Peek&& peek, Release&& release);

  std::vector<Registered> consumers_;
};

}  // namespace ringlog::dispatch

namespace ringlog {
// The namespace's name until the folders and namespaces were made to agree: kept for one
// release, so that code written against it compiles unchanged.
namespace consumer = dispatch;
}  // namespace ringlog
