// The shipping thread: connects (and reconnects), asks the stream where to go on, publishes the
// journal's durable events in order, and measures the lag.
#pragma once

#include "ship/message_format.hpp"
#include "ship/nats_link.hpp"
#include "ship/shipper.hpp"
#include "ship/shipping_state.hpp"

#include <ringlog/journal.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <utility>

namespace ringlog::ship {

class ShippingLoop {
 public:
  // `durable` reads what is shipped; `appended` how far the journal reaches, for the lag.
  ShippingLoop(const ShipConfig& config, journal::JournalReader durable,
               journal::JournalReader appended, Acknowledgements& acknowledgements,
               ShipStatusBoard& board, StopFlag& stop);
  ShippingLoop(const ShippingLoop&) = delete;
  ShippingLoop& operator=(const ShippingLoop&) = delete;

  // Until stop is requested; then waits (up to a few seconds) for the publishes in flight.
  void run();
  void disconnect() { link_.reset(); }  // once run() has returned

 private:
  using Clock = std::chrono::steady_clock;

  bool connect();
  // Waits for the acknowledgements still due; what does not come in time is given up (a late
  // one is ignored, and the stream refuses the message if it follows a gap).
  void settle_in_flight();
  // Asks the stream where shipping goes on; false (with the problem said) when it cannot.
  bool resume();
  // Publishes what the journal holds now, up to a batch; false when it held nothing new.
  bool publish_some();
  bool publish_events();
  // Gathers events into the block, which goes when full, or once it has waited the linger and
  // the journal has nothing new.
  bool publish_blocks();
  bool publish_block();
  // Whether `event` is the one expected next; else the journal lost events still to ship (its
  // retention outran the shipper): says so, and stays before them.
  bool follows(const journal::JournalEvent& event, std::uint64_t expected);
  // Publishes the message of the events from `first` on, waiting out the stream's
  // back-pressure; false when it did not go, and the shipper is out of step.
  bool publish(NatsMessage message, std::uint64_t first);
  // Whether publishes are in flight and none was acknowledged for timing::ship_ack_wait; then
  // it says so and takes the shipper out of step, to ask the stream again.
  bool stalled();
  void sample_lag();
  // The stream's acknowledged position as the journal's named reader "ship.<stream>".
  void record_shipped_position(std::uint64_t shipped);

  const ShipConfig& config_;
  journal::JournalReader durable_;
  journal::JournalReader appended_;
  Acknowledgements& acknowledgements_;
  ShipStatusBoard& board_;
  StopFlag& stop_;

  std::unique_ptr<NatsLink> link_;
  std::optional<BlockBuilder> block_;  // sized on connecting, to the server's max_payload too
  Clock::time_point block_started_{};
  BlockEncoder encoder_;
  bool resumed_before_ = false;      // since the start
  bool stream_ahead_ = false;        // the stream reached past the journal's end when asked
  std::uint64_t progress_mark_ = 0;  // acknowledged through this, since progress_since_
  std::uint64_t recorded_position_ = UINT64_MAX;  // last recorded by record_shipped_position
  bool position_unrecorded_ = false;              // its failure was reported
  Clock::time_point progress_since_{};
  std::uint64_t next_to_publish_ = 0;
  std::uint64_t expected_last_stream_sequence_ = 0;  // the stream's, before the next publish
  std::deque<std::pair<std::uint64_t, Clock::time_point>> end_samples_;  // journal end, when seen
  Clock::time_point next_sample_{};
  struct Counts {
    std::uint64_t events = 0, messages = 0, wire_bytes = 0;
  };
  Clock::time_point rate_since_ = Clock::now();
  Counts rate_from_;
};

}  // namespace ringlog::ship
