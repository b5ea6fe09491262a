#include "ship/shipping_loop.hpp"

#include "placement/binding.hpp"
#include "support/timing.hpp"

#include <ringlog/detail/assert.hpp>

#include <fmt/format.h>
#include <pthread.h>

#include <algorithm>

namespace ringlog::ship {

using timing::ship_ack_wait;

namespace {

// With nothing new in the journal: whether it stopped at a segment of another journal, where
// nothing past is this journal's to ship.
void say_if_refused(const journal::JournalReader& reader, ShipStatusBoard& board) {
  if (reader.failure()) board.set_problem("refusing to ship: " + reader.failure()->message());
}

}  // namespace

ShippingLoop::ShippingLoop(const ShipConfig& config, journal::JournalReader durable,
                           journal::JournalReader appended, Acknowledgements& acknowledgements,
                           ShipStatusBoard& board, StopFlag& stop)
    : config_(config),
      durable_(std::move(durable)),
      appended_(std::move(appended)),
      acknowledgements_(acknowledgements),
      board_(board),
      stop_(stop),
      encoder_(config.compression) {}

void ShippingLoop::run() {
  pthread_setname_np(pthread_self(), "ringlog-ship");
  // Before connecting: the client's threads inherit this affinity.
  if (auto bound = placement::bind_this_thread(config_.cpus); !bound) {
    board_.set_problem(fmt::format("the shipper's thread: {}", bound.error().message()));
    return;
  }
  while (!stop_.requested()) {
    sample_lag();
    if (!link_ && !connect()) {
      stop_.wait_for(timing::ship_retry_every);
      continue;
    }
    board_.connected.store(link_->connected(), std::memory_order_relaxed);
    if (board_.in_step.load()) stalled();
    if (!board_.in_step.load() && !resume()) {
      stop_.wait_for(timing::ship_retry_every);
      continue;
    }
    if (!publish_some()) stop_.wait_for(timing::ship_idle_wait);
  }
  if (link_) settle_in_flight();
  sample_lag();
}

bool ShippingLoop::connect() {
  const bool blocks = config_.format == ShipFormat::blocks;
  jsOptions options;
  jsOptions_Init(&options);
  options.PublishAsync.MaxPending =
      std::int64_t(config_.max_in_flight > 0 ? config_.max_in_flight : blocks ? 64 : 4096);
  options.PublishAsync.AckHandler = &Acknowledgements::on_acknowledgement;
  options.PublishAsync.AckHandlerClosure = &acknowledgements_;
  options.PublishAsync.StallWait = 50;  // then the loop looks at stop() and tries again
  auto made = NatsLink::connect(config_.nats, "ringlog-ship", &options);
  if (!made) {
    board_.set_problem(made.error());
    return false;
  }
  link_ = std::move(*made);
  if (blocks) {
    // The server refuses a message over its max_payload, headers included: they take far less
    // than this room.
    constexpr std::int64_t header_room = 4096;
    const std::int64_t server_limit = natsConnection_GetMaxPayload(link_->connection()) - header_room;
    const std::size_t limit =
        std::min<std::size_t>(config_.block_bytes, std::size_t(std::max<std::int64_t>(server_limit, 0)));
    if (limit < min_block_bytes) {
      board_.set_problem(fmt::format("the NATS server takes messages of {} bytes at most "
                                     "(max_payload): too few for a block of the largest event",
                                     natsConnection_GetMaxPayload(link_->connection())));
      link_.reset();
      return false;
    }
    if (!block_ || block_->limit() != limit) block_.emplace(limit);
  }
  return true;
}

void ShippingLoop::settle_in_flight() {
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MaxWait = ship_ack_wait.count();
  if (js_PublishAsyncComplete(link_->jetstream(), &options) != NATS_OK) {
    natsMsgList pending{};
    if (js_PublishAsyncGetPendingList(&pending, link_->jetstream()) == NATS_OK) {
      natsMsgList_Destroy(&pending);
    }
  }
}

bool ShippingLoop::resume() {
  settle_in_flight();
  auto position = stream_position(*link_, config_.nats, config_.create_replicas);
  if (!position) {
    board_.set_problem(position.error());
    return false;
  }
  expected_last_stream_sequence_ = position->last_stream_sequence;
  if (position->last_event) {
    next_to_publish_ = *position->last_event + 1;
  } else {
    durable_.seek(0);  // an empty stream takes the journal from its oldest event
    const std::optional<journal::JournalEvent> oldest = durable_.next();
    next_to_publish_ = oldest ? oldest->sequence : 0;
  }
  durable_.seek(next_to_publish_);
  if (block_) block_->clear();
  acknowledgements_.resume_at(next_to_publish_);
  progress_mark_ = next_to_publish_;
  progress_since_ = Clock::now();
  appended_.poll([](const journal::JournalEvent&) {});
  const std::uint64_t journal_end = appended_.position();
  // It may be a journal started afresh beside an old stream: say so, and ship only once the
  // journal reaches past the stream.
  stream_ahead_ = next_to_publish_ > journal_end;
  board_.update([&](ShipFigures& figures) {
    figures.journal_end = journal_end;
    if (resumed_before_) ++figures.resumes;
    figures.problem.reset();
    if (stream_ahead_) {
      figures.problem = fmt::format(
          "stream {} holds events up to {}, past the end of the journal in {} ({}): is it "
          "another journal's stream?", config_.nats.stream, next_to_publish_ - 1,
          config_.journal_dir.string(), journal_end);
    }
  });
  resumed_before_ = true;
  board_.in_step.store(true);
  return true;
}

bool ShippingLoop::publish_some() {
  if (acknowledgements_.refused()) {
    board_.set_problem(acknowledgements_.refusal());
    board_.in_step.store(false);
    return true;
  }
  return config_.format == ShipFormat::blocks ? publish_blocks() : publish_events();
}

bool ShippingLoop::follows(const journal::JournalEvent& event, std::uint64_t expected) {
  if (event.sequence == expected) return true;
  board_.set_problem(fmt::format("the journal in {} no longer holds events {} to {}: shipping "
                                 "them is impossible; the stream would have a gap",
                                 config_.journal_dir.string(), expected, event.sequence - 1));
  durable_.seek(expected);
  return false;
}

bool ShippingLoop::publish_events() {
  for (int i = 0; i < 1024; ++i) {
    if (acknowledgements_.refused()) return true;  // publish_some() says so next
    const std::optional<journal::JournalEvent> event = durable_.next();
    if (!event) {
      say_if_refused(durable_, board_);
      return i > 0;
    }
    if (!follows(*event, next_to_publish_)) return false;
    auto encoded = encode_event(config_.nats.subject, *event);
    if (!encoded) {
      board_.set_problem(encoded.error());
      return false;
    }
    if (!publish(std::move(*encoded), event->sequence)) return true;  // resumes on the next pass
    ++expected_last_stream_sequence_;
    ++next_to_publish_;
  }
  return true;
}

bool ShippingLoop::publish_blocks() {
  BlockBuilder& block = *block_;
  bool read_any = false;
  for (int blocks = 0; blocks < 16;) {  // then the loop looks at stop() and the lag
    if (acknowledgements_.refused()) return true;  // publish_some() says so next
    const std::optional<journal::JournalEvent> event = durable_.next();
    if (!event) {
      say_if_refused(durable_, board_);
      break;
    }
    if (!follows(*event, block.empty() ? next_to_publish_ : block.end())) return read_any;
    if (!block.fits(*event)) {
      if (!publish_block()) return true;  // resumes on the next pass
      ++blocks;
    }
    if (block.empty()) block_started_ = Clock::now();
    block.add(*event);
    read_any = true;
  }
  if (!read_any && !block.empty() && Clock::now() - block_started_ >= config_.linger) {
    publish_block();
    return true;
  }
  return read_any;
}

bool ShippingLoop::publish_block() {
  const std::uint64_t first = block_->first();
  const std::uint64_t end = block_->end();
  // follows() holds each block to next_to_publish_: a block that skipped ahead would leave a
  // gap in the stream that the acknowledgements, in order, would then vouch for.
  RINGLOG_CHECK(first == next_to_publish_, "a block starts where the last one published ended");
  auto encoded = encoder_.encode(config_.nats.subject, *block_);
  block_->clear();
  if (!encoded) {
    board_.set_problem(encoded.error());
    board_.in_step.store(false);  // the events go again, after asking the stream
    return false;
  }
  if (!publish(std::move(*encoded), first)) return false;
  ++expected_last_stream_sequence_;
  next_to_publish_ = end;
  return true;
}

bool ShippingLoop::publish(NatsMessage message, std::uint64_t first) {
  jsPubOptions options;
  jsPubOptions_Init(&options);
  // 0 means "no expectation": only the first message into an empty stream goes without one,
  // and the duplicate window guards it.
  options.ExpectLastSeq = expected_last_stream_sequence_;
  natsStatus status = NATS_TIMEOUT;
  // The stream's back-pressure: wait, unless an earlier publish failed meanwhile, or the stream
  // stopped acknowledging.
  do {
    natsMsg* raw = message.release();
    status = js_PublishMsgAsync(link_->jetstream(), &raw, &options);
    message.reset(raw);  // null when the client took it
  } while (status == NATS_TIMEOUT && !stop_.requested() && !acknowledgements_.refused() &&
           !stalled());
  if (status == NATS_OK) return true;
  if (!stop_.requested() && status != NATS_TIMEOUT) {
    board_.set_problem(nats_error(fmt::format("publish of events from {}", first), status));
  }
  board_.in_step.store(false);
  return false;
}

bool ShippingLoop::stalled() {
  const Clock::time_point now = Clock::now();
  const std::uint64_t acknowledged_through = acknowledgements_.shipped();
  if (acknowledged_through != progress_mark_ || acknowledged_through == next_to_publish_) {
    progress_mark_ = acknowledged_through;
    progress_since_ = now;
    return false;
  }
  if (now - progress_since_ < ship_ack_wait) return false;
  board_.set_problem(fmt::format("no acknowledgement from stream {} for {} ms, events from {} "
                                 "on in flight; asking it where to go on",
                                 config_.nats.stream, ship_ack_wait.count(),
                                 acknowledged_through));
  board_.in_step.store(false);
  progress_since_ = now;
  return true;
}

void ShippingLoop::record_shipped_position(std::uint64_t shipped) {
  if (shipped == recorded_position_) return;
  // A named reader of the journal, so that retention keeps what the stream has yet to take.
  auto recorded = journal::commit_reader_position(config_.journal_dir,
                                                  "ship." + config_.nats.stream, shipped);
  if (recorded) {
    recorded_position_ = shipped;
  } else if (!position_unrecorded_) {  // said once: retention then cannot hold for the stream
    position_unrecorded_ = true;
    board_.set_problem(fmt::format("the shipped position is not recorded for retention: {}",
                                   recorded.error().message()));
  }
}

void ShippingLoop::sample_lag() {
  const Clock::time_point now = Clock::now();
  if (now < next_sample_) return;
  next_sample_ = now + timing::ship_lag_sample_every;
  appended_.poll([](const journal::JournalEvent&) {});
  const std::uint64_t end = appended_.position();
  if (end_samples_.empty() || end > end_samples_.back().first) end_samples_.emplace_back(end, now);
  const std::uint64_t shipped_now = acknowledgements_.shipped();
  while (!end_samples_.empty() && end_samples_.front().first <= shipped_now) {
    end_samples_.pop_front();
  }
  const bool caught_up_with_stream = stream_ahead_ && end >= shipped_now;
  if (caught_up_with_stream) stream_ahead_ = false;
  std::optional<Counts> rates;  // per second, when this sample measures them
  if (now - rate_since_ >= timing::rate_window) {
    const Counts counts{acknowledgements_.count(), acknowledgements_.messages(),
                        acknowledgements_.wire_bytes()};
    const double seconds = std::chrono::duration<double>(now - rate_since_).count();
    rates = Counts{std::uint64_t(double(counts.events - rate_from_.events) / seconds),
                   std::uint64_t(double(counts.messages - rate_from_.messages) / seconds),
                   std::uint64_t(double(counts.wire_bytes - rate_from_.wire_bytes) / seconds)};
    rate_since_ = now;
    rate_from_ = counts;
    record_shipped_position(shipped_now);
  }
  board_.update([&](ShipFigures& figures) {
    if (caught_up_with_stream) figures.problem.reset();
    figures.journal_end = end;
    figures.lag_seconds =
        end_samples_.empty()
            ? 0
            : std::chrono::duration<double>(now - end_samples_.front().second).count();
    if (rates) {
      figures.events_per_second = double(rates->events);
      figures.messages_per_second = double(rates->messages);
      figures.wire_bytes_per_second = double(rates->wire_bytes);
    }
  });
}

}  // namespace ringlog::ship
