// `ringlog serve` under systemd (Type=notify): READY=1 once publishers can attach, STATUS= with
// its one-line status, WATCHDOG=1 while its threads are responsive, STOPPING=1 when told to
// stop. Through libsystemd's sd_notify, which does nothing where NOTIFY_SOCKET is not set: the
// same program runs under systemd and from a shell.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace ringlog::programs {

class SystemdNotifier {
 public:
  SystemdNotifier();  // reads WATCHDOG_USEC (and WATCHDOG_PID) once

  void ready(const std::string& status) const;
  void status(const std::string& status) const;
  void watchdog() const;
  void stopping(const std::string& status) const;

  // How often the watchdog wants WATCHDOG=1: half its interval, as sd_watchdog_enabled(3)
  // advises; nothing when no watchdog is set for this process.
  std::optional<std::chrono::microseconds> watchdog_every() const { return watchdog_every_; }

 private:
  std::optional<std::chrono::microseconds> watchdog_every_;
};

}  // namespace ringlog::programs
