// What the shipper's threads share. The shipping thread (shipping_loop.hpp) reads the journal
// and publishes; the NATS client's thread delivers acknowledgements (Acknowledgements); status()
// reads both from any thread (ShipStatusBoard).
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

namespace ringlog::ship {

// stop(): the flag, and a wait that it ends at once.
class StopFlag {
 public:
  void request();
  bool requested() const { return stopping_.load(); }
  // Waits `period`, or less when stop is requested.
  void wait_for(std::chrono::steady_clock::duration period);

 private:
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable requested_;
};

// What the NATS client's acknowledgement thread reports: how far the stream holds the journal,
// and the first refusal since the shipping thread last asked the stream where to go on.
class Acknowledgements {
 public:
  // jsOptions.PublishAsync.AckHandler, with this as its closure.
  static void on_acknowledgement(jsCtx*, natsMsg* message, jsPubAck* ack, jsPubAckErr* error,
                                 void* closure);
  // After asking the stream: it holds every event below `next`, and no refusal is pending.
  void resume_at(std::uint64_t next);

  // Events below this are in the stream (acknowledged in order: the expected-last-sequence
  // chain stores no message after a refused one).
  std::uint64_t shipped() const { return shipped_.load(std::memory_order_acquire); }
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  std::uint64_t messages() const { return messages_.load(std::memory_order_relaxed); }
  std::uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  std::uint64_t wire_bytes() const { return wire_bytes_.load(std::memory_order_relaxed); }
  bool refused() const { return refused_.load(std::memory_order_acquire); }
  std::optional<std::string> refusal() const;

 private:
  std::atomic<std::uint64_t> shipped_{0};
  std::atomic<std::uint64_t> count_{0};       // events
  std::atomic<std::uint64_t> messages_{0};
  std::atomic<std::uint64_t> bytes_{0};       // the events' size in the journal's framing
  std::atomic<std::uint64_t> wire_bytes_{0};  // the messages' data as it travelled
  std::atomic<bool> refused_{false};
  mutable std::mutex mutex_;
  std::optional<std::string> refusal_;  // guarded by mutex_: the first since resume_at()
};

// The shipping thread's figures for status(), beside the acknowledgements.
struct ShipFigures {
  std::optional<std::string> problem;  // what keeps it from shipping now
  std::uint64_t journal_end = 0;
  double lag_seconds = 0;
  double events_per_second = 0;
  double messages_per_second = 0;
  double wire_bytes_per_second = 0;
  std::uint64_t resumes = 0;
};

class ShipStatusBoard {
 public:
  // Runs `change` on the figures, under the board's lock: what it changes, status sees whole.
  template <class Change>
  void update(Change change) {
    const std::lock_guard lock(mutex_);
    change(figures_);
  }
  void set_problem(std::optional<std::string> problem) {
    update([&](ShipFigures& figures) { figures.problem = std::move(problem); });
  }
  ShipFigures read() const {
    const std::lock_guard lock(mutex_);
    return figures_;
  }

  std::atomic<bool> connected{false};
  std::atomic<bool> in_step{false};  // see ShipStatus

 private:
  mutable std::mutex mutex_;
  ShipFigures figures_;
};

}  // namespace ringlog::ship
