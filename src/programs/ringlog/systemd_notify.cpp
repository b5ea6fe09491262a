#include "programs/ringlog/systemd_notify.hpp"

#include <systemd/sd-daemon.h>

#include <cstdint>

namespace ringlog::programs {

namespace {

// STATUS= is one line to systemd.
std::string one_line(std::string text) {
  while (text.ends_with('\n')) text.pop_back();
  for (char& c : text) c = c == '\n' ? ' ' : c;
  return text;
}

void notify(const std::string& state) {
  // 0 without NOTIFY_SOCKET; a failure to send is systemd's to notice (it times out or
  // restarts us), never a reason to stop journaling.
  (void)sd_notify(0, state.c_str());
}

}  // namespace

SystemdNotifier::SystemdNotifier() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_every_ = std::chrono::microseconds(usec / 2);
  }
}

void SystemdNotifier::ready(const std::string& status) const {
  notify("READY=1\nSTATUS=" + one_line(status));
}

void SystemdNotifier::status(const std::string& status) const {
  notify("STATUS=" + one_line(status));
}

void SystemdNotifier::watchdog() const { notify("WATCHDOG=1"); }

void SystemdNotifier::stopping(const std::string& status) const {
  notify("STOPPING=1\nSTATUS=" + one_line(status));
}

}  // namespace ringlog::programs
