// Timestamps as people write them: nanoseconds since the epoch, or UTC time. The journal does
// not interpret timestamps; the service's publishers and the demo write nanoseconds since the
// epoch, and the tools, the schema's timestamp_ns fields and the Python reader read them so.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringlog::schema {

// "1764594000000000000", or UTC time: "2026-12-01T13:00:00Z", "2026-12-01T13:00:00.25Z",
// "2026-12-01 13:00:00"; nothing when `text` is neither.
std::optional<std::uint64_t> parse_time(std::string_view text);

// Nanoseconds since the epoch as UTC time to the nanosecond: "2026-12-01T13:00:00.250000000Z".
std::string utc_text(std::uint64_t ns);

// A time window over events in sequence order, as JournalReader::seek_time reads timestamps:
// by their running maximum, so an event starts the window where the greatest timestamp so far
// first reaches `since`, and ends it where it first reaches `until` (not included).
class TimeWindow {
 public:
  TimeWindow(std::optional<std::uint64_t> since, std::optional<std::uint64_t> until)
      : since_(since), until_(until) {}
  // Whether the window has started, counting this event.
  bool started(std::uint64_t timestamp) noexcept {
    highest_ = std::max(highest_, timestamp);
    return !since_ || highest_ >= *since_;
  }
  bool ended() const noexcept { return until_ && highest_ >= *until_; }

 private:
  std::optional<std::uint64_t> since_;
  std::optional<std::uint64_t> until_;
  std::uint64_t highest_ = 0;
};

}  // namespace ringlog::schema
