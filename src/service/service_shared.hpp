// What the service's threads share: the attached publishers, the figures its status shows, and
// whether the journal failed. The control thread (control_loop.hpp) attaches publishers and
// answers status requests; the drain thread (drain_loop.hpp) drains their rings into the journal.
#pragma once

#include "service/service.hpp"

#include <ringlog/shared_ring.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ringlog::app {

// One attached publisher. The control thread creates it and clears `attached` when the
// connection closes; the drain thread drains it and drops it once detached and empty.
struct Attachment {
  std::uint64_t id;
  std::string channel;
  int pid;
  ring::SharedRing ring;
  ring::Consumer consumer;                   // drain thread only
  std::atomic<bool> attached{true};
  std::atomic<std::uint64_t> journaled{0};   // written by the drain thread
  std::atomic<std::uint64_t> durable{0};     // written by the drain thread
  // Drain thread only: (journal sequence after a drain, events journaled by then), waiting for
  // the journal's durable sequence to pass them.
  std::deque<std::pair<std::uint64_t, std::uint64_t>> awaiting_durability{};
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

  const ServiceConfig config;
  AttachmentRegistry attachments;
  StatusBoard board;
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

}  // namespace ringlog::app
