// The timing and batching constants of the service, the shipper and the demo pipeline, each
// with its reason, in one place (as NanoLog's Config.h keeps its own). What a user tunes lives in
// the options structs and tuning/ringlog.toml; these are what they do not.
#pragma once

#include <chrono>
#include <cstddef>

namespace ringlog::timing {

// A consumer thread drains at most this many events from one ring before it looks at anything
// else (another publisher's ring, a stop): the loop's own cost vanishes at this size, and one
// busy ring holds the others back for well under a millisecond.
inline constexpr std::size_t drain_batch_events = 4096;

// The longest a drain thread that found nothing sleeps while a flush runs on its CPU (see
// DrainLoop::rest): as many events wait, at 1 M events/s 50 of a ring's thousands.
inline constexpr auto drain_idle_rest = std::chrono::microseconds(50);

// Rates shown in a status (events per second) are counted over windows this long, and the
// demo's status line is printed this often.
inline constexpr auto rate_window = std::chrono::seconds(1);

// The service's control thread goes round its loop at least this often, idle or not: the systemd
// watchdog is fed only while it does (a tenth of a second costs nothing; a wedged thread is
// seen within a watchdog interval).
inline constexpr auto control_heartbeat = std::chrono::milliseconds(100);

// Once a service is told to stop, what publishers still write is drained for this long at most:
// a stop must end even if a publisher never does.
inline constexpr auto service_last_drain = std::chrono::seconds(1);

// How long a shipper's publishes in flight may go without any acknowledgement before they count
// as lost and the shipper asks the stream where to go on. Watched by the shipper as a whole,
// not with a timer per publish: those cost the NATS client a third of its rate.
inline constexpr auto ship_ack_wait = std::chrono::milliseconds(5000);
// While a shipper cannot reach the stream, it tries again this often.
inline constexpr auto ship_retry_every = std::chrono::milliseconds(250);
// While the journal has nothing new to ship, the shipper looks again this often: its lag stays
// under a millisecond at the cost of 2000 wake-ups a second on a housekeeping CPU.
inline constexpr auto ship_idle_wait = std::chrono::microseconds(500);
// How often a shipper measures its lag (the age of the oldest event not yet in the stream).
inline constexpr auto ship_lag_sample_every = std::chrono::milliseconds(100);

// How long `ringlog fetch` waits for a message the stream said it holds before it gives up
// with an error: long enough for a stream replicated across a slow link to answer.
inline constexpr auto fetch_message_wait = std::chrono::seconds(10);

}  // namespace ringlog::timing
