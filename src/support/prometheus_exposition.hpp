// Prometheus' text exposition format, a family at a time: HELP and TYPE, then its samples, with
// label values quoted as the format requires. The service's status and the shipper's metrics
// file both write through it.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <utility>

namespace ringlog::support {

// A label value as the exposition format quotes it: backslash, double quote and newline escaped.
inline std::string label_value(std::string_view value) {
  std::string quoted;
  for (const char c : value) {
    if (c == '\\' || c == '"') quoted += '\\';
    quoted += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return quoted;
}

class Exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    text_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  // `labels`: `name="value"` pairs, comma-separated, their values quoted by label_value.
  template <class Value>
  void sample(std::string_view name, std::string_view labels, Value value) {
    text_ += labels.empty() ? fmt::format("{} {}\n", name, value)
                            : fmt::format("{}{{{}}} {}\n", name, labels, value);
  }
  // A family of one unlabelled sample.
  template <class Value>
  void single(std::string_view name, std::string_view type, std::string_view help,
              Value value) {
    family(name, type, help);
    sample(name, "", value);
  }
  std::string take() { return std::move(text_); }

 private:
  std::string text_;
};

}  // namespace ringlog::support
