#include "schema/time_text.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdio>
#include <ctime>

namespace ringlog::schema {

std::optional<std::uint64_t> parse_time(std::string_view text) {
  std::uint64_t ns = 0;
  const char* end = text.data() + text.size();
  if (const auto [last, failed] = std::from_chars(text.data(), end, ns);
      failed == std::errc() && last == end) {
    return ns;
  }
  const std::string whole(text);  // sscanf reads a terminated string
  std::tm parts{};
  int consumed = 0;
  if (std::sscanf(whole.c_str(), "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d%n", &parts.tm_year,
                  &parts.tm_mon, &parts.tm_mday, &parts.tm_hour, &parts.tm_min, &parts.tm_sec,
                  &consumed) != 6) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(static_cast<std::size_t>(consumed));
  std::uint64_t fraction = 0;
  if (rest.starts_with('.')) {
    std::string digits(rest.substr(1, rest.find_first_not_of("0123456789", 1) - 1));
    if (digits.empty() || digits.size() > 9) return std::nullopt;
    rest.remove_prefix(digits.size() + 1);
    digits.resize(9, '0');
    fraction = std::stoull(digits);
  }
  if (!rest.empty() && rest != "Z") return std::nullopt;
  // A field out of its range is no time (timegm would carry it into the next), nor is a year
  // past what 64-bit nanoseconds and numpy's datetime64[ns] hold.
  if (parts.tm_year < 1970 || parts.tm_year > 2261 || parts.tm_mon < 1 || parts.tm_mon > 12 ||
      parts.tm_mday < 1 || parts.tm_mday > 31 || parts.tm_hour > 23 || parts.tm_min > 59 ||
      parts.tm_sec > 60) {
    return std::nullopt;
  }
  parts.tm_year -= 1900;
  parts.tm_mon -= 1;
  const std::time_t seconds = ::timegm(&parts);
  if (seconds < 0) return std::nullopt;
  return static_cast<std::uint64_t>(seconds) * 1'000'000'000 + fraction;
}

std::string utc_text(std::uint64_t ns) {
  const std::time_t seconds = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm parts{};
  ::gmtime_r(&seconds, &parts);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", parts.tm_year + 1900,
                     parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                     ns % 1'000'000'000);
}

}  // namespace ringlog::schema
