// Where `ringlog serve` logs: stdout or a file (reopened on SIGHUP, for logrotate), as text for
// a person or as JSON lines for a log shipper (--log-format json): one object a line, with the
// time, the level, what happened ("event") and its figures as fields of their own.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace ringlog::programs {

enum class LogFormat { text, json };

class ServiceLog {
 public:
  ServiceLog(std::filesystem::path path, LogFormat format);
  ~ServiceLog();
  ServiceLog(const ServiceLog&) = delete;
  ServiceLog& operator=(const ServiceLog&) = delete;

  // False when the file cannot be opened; the log then goes to stderr and says why.
  bool reopen();

  // One entry. Text: `message` as it is (one line or several). JSON: one line holding
  // {"time", "level", "event", "message"} and `fields`.
  void write(std::string_view level, std::string_view event, const std::string& message,
             const nlohmann::ordered_json& fields = nlohmann::ordered_json::object());
  // The same on stderr, whatever the log's file: for what stops the service from starting.
  void complain(std::string_view event, const std::string& message) const;

 private:
  std::string entry(std::string_view level, std::string_view event, const std::string& message,
                    const nlohmann::ordered_json& fields) const;
  void close_file();  // the file this log opened, never the standard streams

  std::filesystem::path path_;
  LogFormat format_;
  std::FILE* out_ = stdout;
};

}  // namespace ringlog::programs
