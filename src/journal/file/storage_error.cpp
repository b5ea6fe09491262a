#include <ringlog/log_file.hpp>

namespace ringlog::journal {

namespace {

class LogCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ringlog.storage"; }
  std::string message(int value) const override {
    switch (static_cast<LogErrc>(value)) {
      case LogErrc::not_a_log: return "not a ringlog log file";
      case LogErrc::unsupported_version: return "unsupported ringlog log format version";
      case LogErrc::truncated: return "truncated ringlog log file";
      case LogErrc::damaged_durable_data: return "durable events are damaged";
      case LogErrc::capacity_too_small: return "log capacity too small";
      case LogErrc::not_a_journal: return "not a ringlog journal directory";
      case LogErrc::journal_gap: return "events missing between journal segments";
      case LogErrc::writer_active: return "another writer is active";
      case LogErrc::foreign_segment: return "a segment of another journal";
      case LogErrc::capacity_too_large: return "log capacity too large";
      case LogErrc::reader_cursor_damaged: return "a reader's cursor file is damaged";
      case LogErrc::reader_events_removed: return "events a reader has not read were removed";
      case LogErrc::reader_past_the_end: return "a reader's position is past the journal's end";
      case LogErrc::invalid_reader_name: return "invalid reader name";
    }
    return "unknown ringlog storage error";
  }
};

}  // namespace

const std::error_category& log_category() noexcept {
  static const LogCategory category;
  return category;
}

std::error_code make_error_code(LogErrc value) noexcept {
  return {static_cast<int>(value), log_category()};
}

}  // namespace ringlog::journal
