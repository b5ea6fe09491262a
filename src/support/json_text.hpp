// A string as a JSON string literal, for the status and report printers.
#pragma once

#include <string>
#include <string_view>

namespace ringlog::app {

// Quotes and escapes `text`; control characters, which status texts never need, are left out.
inline std::string json_text(std::string_view text) {
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) quoted += c;
  }
  return quoted + '"';
}

}  // namespace ringlog::app
