#include "programs/ringlog/service_log.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace ringlog::programs {

ServiceLog::ServiceLog(std::filesystem::path path, LogFormat format)
    : path_(std::move(path)), format_(format) {
  reopen();
}

ServiceLog::~ServiceLog() { close_file(); }

bool ServiceLog::reopen() {
  if (path_.empty()) return true;
  close_file();
  out_ = std::fopen(path_.c_str(), "a");
  if (out_ != nullptr) return true;
  out_ = stderr;
  write("error", "log_unwritable",
        fmt::format("ringlog serve: cannot open log {}: {}", path_.string(),
                    std::strerror(errno)),
        {{"path", path_.string()}});
  return false;
}

void ServiceLog::write(std::string_view level, std::string_view event,
                       const std::string& message, const nlohmann::ordered_json& fields) {
  const std::string text = entry(level, event, message, fields);
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
}

void ServiceLog::complain(std::string_view event, const std::string& message) const {
  const std::string text = entry("error", event, message, nlohmann::ordered_json::object());
  std::fwrite(text.data(), 1, text.size(), stderr);
}

std::string ServiceLog::entry(std::string_view level, std::string_view event,
                              const std::string& message,
                              const nlohmann::ordered_json& fields) const {
  if (format_ == LogFormat::text) {
    return message.ends_with('\n') ? message : message + "\n";
  }
  const auto now = std::chrono::system_clock::now();
  const auto second = std::chrono::floor<std::chrono::seconds>(now);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now - second);
  nlohmann::ordered_json line = {{"time", fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:06}Z", second,
                                                      micros.count())},
                                 {"level", level},
                                 {"event", event},
                                 {"message", message.ends_with('\n')
                                                 ? message.substr(0, message.size() - 1)
                                                 : message}};
  line.update(fields);
  // Invalid UTF-8 (a path, a reason from the system) is replaced, never a line that fails.
  return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

void ServiceLog::close_file() {
  if (out_ != stdout && out_ != stderr) std::fclose(out_);
  out_ = stdout;
}

}  // namespace ringlog::programs
