// A publishing process's side of the journal service (`ringlog serve`). The process attaches by
// the service's name and a channel, and gets a shared ring of its own, written with the ring's
// usual Producer calls (write_event, try_claim/commit); the service drains it into the journal.
//
// The hot path is the ring's: no system call, no lock. The service reports back, through the
// ring, how many of this publisher's events are durable. Detaching is closing the connection:
// on destruction, on exit, or by the process dying. Either way the service drains every
// committed event first; an event claimed and not committed is never journaled. If the
// service goes away instead, connected() turns false.
#pragma once

#include <ringlog/error.hpp>
#include <ringlog/shared_ring.hpp>

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>

namespace ringlog::service {

struct AttachOptions {
  std::string service = "ringlog";                          // ServiceConfig's [service] name
  std::filesystem::path runtime_dir = "/dev/shm/ringlog";   // and its runtime_dir
  std::string channel = "default";
};

class Publisher {
 public:
  // An error says what failed: no service listening (SetupErrc::service_unreachable), no
  // permission (EACCES), a channel it refused (SetupErrc::service_refused).
  static std::expected<Publisher, Error> attach(const AttachOptions& = {});

  Publisher(Publisher&&) noexcept;
  Publisher& operator=(Publisher&&) noexcept;
  ~Publisher();  // detaches

  ring::Producer& producer() noexcept;
  // Of the events this publisher has written, how many are durable in the journal (counted in
  // writing order from the attach): those below it survive a crash of the service or the host.
  std::uint64_t durable_events() const noexcept;
  // Blocks until durable_events() reaches `count` (a gateway acknowledging an order once it is
  // durable): true then, false when `timeout` passed first or the service went away (see
  // connected()). It sleeps in futex(2) on the count the service writes into the ring: no
  // spinning, and nothing added to the producer's hot path.
  bool wait_durable(std::uint64_t count, std::chrono::nanoseconds timeout) const noexcept;
  std::uint64_t id() const noexcept;  // the service's number for this attachment
  // False once the service has closed the connection (it stopped, or died): nothing written
  // after that is journaled, and only durable_events() of what came before is safe. Attach
  // again, and write again what was not durable. One poll(2): not for every event.
  bool connected() const noexcept;

 private:
  struct State;
  explicit Publisher(std::unique_ptr<State>) noexcept;
  std::unique_ptr<State> state_;
};

}  // namespace ringlog::service
