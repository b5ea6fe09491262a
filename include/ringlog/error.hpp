// ringlog::Error: what a set-up call refuses with (opening a journal or a log file, placing
// threads, attaching to a service or starting one, starting a shipper): the reason as a code,
// the OS's (errno) or ringlog's own (SetupErrc here, journal::LogErrc for files), and the context
// it happened in. Programs decide by the code and print message(). The hot path does not use
// it: it returns bool and keeps the reason in failure().
#pragma once

#include <iosfwd>
#include <string>
#include <system_error>

namespace ringlog {

// Why ringlog refuses a set-up, beyond what the OS reports.
enum class SetupErrc {
  unusable_cpus = 1,    // a CPU this process may not use, or a pair that cannot both spin
  service_unreachable,  // no service answers at its control socket
  service_refused,      // the service said no: an unknown channel, a failed journal
  journal_failed,       // the journal stopped taking events
  ring_unusable,        // a ring could not be made, mapped or split (ring::RingError says why)
  stream_unavailable,   // the NATS stream could not be reached or used
  invalid_setting,      // a value out of range, a bad URL, credentials others may read
};
const std::error_category& setup_category() noexcept;
std::error_code make_error_code(SetupErrc) noexcept;

struct Error {
  std::error_code code;
  std::string context;  // e.g. "mmap /var/log/x.evtl (1073741824 bytes)"
  // "<context>: <code.message()>"; for a SetupErrc the context alone, which says it all.
  std::string message() const;

  // What the OS refused (an errno value), and what was being done.
  static Error from_os(int error_number, std::string context);
  // What ringlog refuses, and why, in a sentence.
  static Error because(SetupErrc reason, std::string context);
};

std::ostream& operator<<(std::ostream&, const Error&);  // message()

}  // namespace ringlog

template <>
struct std::is_error_code_enum<ringlog::SetupErrc> : std::true_type {};
