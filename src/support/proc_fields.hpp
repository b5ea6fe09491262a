// Reading /proc's "key value [unit]" files (meminfo, vmstat), for the doctor and the demo's
// writeback figures.
#pragma once

#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace ringlog::support {

// The number after `key` ("MemTotal:", "nr_written") in such a text; nullopt when absent.
inline std::optional<double> proc_field(std::string_view text, std::string_view key) {
  std::istringstream lines{std::string(text)};
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string name;
    double value = 0;
    if (fields >> name >> value && name == key) return value;
  }
  return std::nullopt;
}

}  // namespace ringlog::support
