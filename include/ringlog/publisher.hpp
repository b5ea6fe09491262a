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

#include <array>
#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ringlog::service {

// What a publisher does when its ring is full: chosen per channel in the service's
// configuration ([[channels]] overflow, block_timeout_us) and handed over at attach.
enum class OverflowPolicy : std::uint8_t {
  block,  // wait for room, spinning, then yielding the CPU, up to the channel's deadline
  fail,   // give up at once
  drop,   // drop the event; a drop marker (event::DropMarker) goes into the ring once it has
          // room, in order, so that every reader of the journal sees how many and where
};
// Each policy's name in the configuration, in the enum's order.
inline constexpr std::array<std::string_view, 3> overflow_policy_names = {"block", "fail", "drop"};
std::string_view to_string(OverflowPolicy) noexcept;

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

  // Writes one event under the channel's overflow policy: true once it is in the ring. False
  // when the ring stayed full (under block past the deadline, under fail at once, under drop
  // with the event counted in the next drop marker), each counted in overflow_counts() and the
  // service's status; or when the event can never be written (payload_len other than
  // payload.size() or over the ring's max_payload(), bit 7 of flags set), counted nowhere. The
  // ring's hot path, with one more compare: no system call until the ring is full. False, too,
  // once the service has detached this publisher (detach_reason() says why).
  bool write_event(const event::EventHeader&, std::span<const std::byte> payload) noexcept;
  OverflowPolicy overflow_policy() const noexcept;
  std::chrono::nanoseconds block_deadline() const noexcept;  // block's longest wait
  ring::OverflowCounts overflow_counts() const noexcept;

  // The ring itself: writes through it bypass the overflow policy (a full ring is then the
  // caller's to handle) and are counted by no overflow figure.
  ring::Producer& producer() noexcept;
  // Of the events this publisher has written, how many are durable in the journal (counted in
  // writing order from the attach, drop markers included): those below it survive a crash of
  // the service or the host.
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
  // Why the service detached this publisher while it was still attached (it broke its ring's
  // protocol: the reason names the ring's byte and what was wrong there); nothing while it is
  // attached, or when the service went away without saying. Reads the service's message once
  // it has come (after connected() turned false, it has).
  std::optional<std::string> detach_reason() const;

 private:
  struct State;
  explicit Publisher(std::unique_ptr<State>) noexcept;
  std::unique_ptr<State> state_;
};

}  // namespace ringlog::service
