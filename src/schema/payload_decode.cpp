#include "schema/payload_decode.hpp"

#include "schema/time_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

namespace ringlog::schema {

namespace {

template <class T>
T load(std::span<const std::byte> payload, std::uint32_t offset) noexcept {
  T value;
  std::memcpy(&value, payload.data() + offset, sizeof value);
  return value;
}

template <class Number>
void append_number(std::string& out, Number value) {
  char digits[32];
  const auto [end, error] = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, end);
}

// An f32 as the shortest text that reads back as the same float (0.1, not 0.10000000149...).
template <class Number>
void append_value_number(std::string& out, const Field& field, Number value) {
  if constexpr (std::is_same_v<Number, double>) {
    if (field.type == FieldType::f32) return append_number(out, static_cast<float>(value));
  }
  append_number(out, value);
}

void append_text_value(std::string& out, const Field& field, const FieldValue& value,
                       ValueFormat format) {
  if (field.type == FieldType::timestamp_ns && format.utc) {
    out += utc_text(std::get<std::uint64_t>(value));
    return;
  }
  std::visit([&](const auto& v) {
    using V = std::decay_t<decltype(v)>;
    if constexpr (std::is_same_v<V, std::string_view>) {
      // Text as it is, but for bytes a terminal should not interpret.
      for (char c : v) {
        if (c >= 0x20 && c < 0x7f && c != '\\') {
          out += c;
        } else {
          fmt::format_to(std::back_inserter(out), "\\x{:02x}", static_cast<unsigned char>(c));
        }
      }
    } else if constexpr (std::is_same_v<V, std::span<const std::byte>>) {
      append_hex(out, v);
    } else {
      append_value_number(out, field, v);
    }
  }, value);
}

void append_json_value(std::string& out, const Field& field, const FieldValue& value,
                       ValueFormat format) {
  if (field.type == FieldType::timestamp_ns && format.utc) {
    out += '"';
    out += utc_text(std::get<std::uint64_t>(value));
    out += '"';
    return;
  }
  std::visit([&](const auto& v) {
    using V = std::decay_t<decltype(v)>;
    if constexpr (std::is_same_v<V, std::string_view>) {
      out += '"';
      append_json_string(out, v);
      out += '"';
    } else if constexpr (std::is_same_v<V, std::span<const std::byte>>) {
      out += '"';
      append_hex(out, v);
      out += '"';
    } else if constexpr (std::is_same_v<V, double>) {
      if (std::isfinite(v)) append_value_number(out, field, v); else out += "null";
    } else {
      append_number(out, v);
    }
  }, value);
}

std::optional<std::string> hex_bytes(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string bytes(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    unsigned value = 0;
    const char* first = hex.data() + 2 * i;
    const auto [end, error] = std::from_chars(first, first + 2, value, 16);
    if (error != std::errc() || end != first + 2) return std::nullopt;
    bytes[i] = static_cast<char>(value);
  }
  return bytes;
}

template <class Number>
std::optional<Number> number(std::string_view text) {
  Number value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

FieldValue read_field(const Field& field, std::span<const std::byte> payload) noexcept {
  const std::uint32_t at = field.offset;
  switch (field.type) {
    case FieldType::u8: return std::uint64_t{load<std::uint8_t>(payload, at)};
    case FieldType::u16: return std::uint64_t{load<std::uint16_t>(payload, at)};
    case FieldType::u32: return std::uint64_t{load<std::uint32_t>(payload, at)};
    case FieldType::u64:
    case FieldType::timestamp_ns: return load<std::uint64_t>(payload, at);
    case FieldType::i8: return std::int64_t{load<std::int8_t>(payload, at)};
    case FieldType::i16: return std::int64_t{load<std::int16_t>(payload, at)};
    case FieldType::i32: return std::int64_t{load<std::int32_t>(payload, at)};
    case FieldType::i64: return load<std::int64_t>(payload, at);
    case FieldType::f32: return double{load<float>(payload, at)};
    case FieldType::f64: return load<double>(payload, at);
    case FieldType::chars: {
      const char* text = reinterpret_cast<const char*>(payload.data() + at);
      return std::string_view(text, ::strnlen(text, field.size));
    }
    case FieldType::bytes: return payload.subspan(at, field.size);
  }
  return std::uint64_t{0};
}

void append_text_fields(std::string& out, const EventSchema& event,
                        std::span<const std::byte> payload, ValueFormat format) {
  for (const Field& field : event.fields) {
    out += "  ";
    out += field.name;
    out += '=';
    append_text_value(out, field, read_field(field, payload), format);
    if (!field.unit.empty()) {
      out += ' ';
      out += field.unit;
    }
  }
}

void append_json_fields(std::string& out, const EventSchema& event,
                        std::span<const std::byte> payload, ValueFormat format) {
  for (const Field& field : event.fields) {
    out += ",\"";
    out += field.name;  // an identifier: nothing to escape
    out += "\":";
    append_json_value(out, field, read_field(field, payload), format);
  }
}

void append_hex(std::string& out, std::span<const std::byte> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  const std::size_t at = out.size();
  out.resize(at + 2 * bytes.size());
  char* hex = out.data() + at;
  for (std::byte b : bytes) {
    *hex++ = digits[std::to_integer<unsigned>(b) >> 4];
    *hex++ = digits[std::to_integer<unsigned>(b) & 0xf];
  }
}

void append_json_string(std::string& out, std::string_view text) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte >= 0x7f) {
      // char[N] is ASCII text; any other byte is shown as the code point of the same value, so
      // that every line stays valid JSON.
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", byte);
    } else {
      out += c;
    }
  }
}

std::expected<FieldFilter, std::string> FieldFilter::parse(std::string_view text,
                                                           const Schema& schema) {
  const std::size_t equals = text.find('=');
  if (equals == std::string_view::npos || equals == 0) {
    return std::unexpected(fmt::format("--where {}: expected field=value", text));
  }
  FieldFilter filter;
  filter.name_ = std::string(text.substr(0, equals));
  const std::string_view value = text.substr(equals + 1);
  bool found = false;
  for (const EventSchema& event : schema.events()) {
    const Field* field = event.field(filter.name_);
    if (field == nullptr) continue;
    found = true;
    std::optional<Wanted> wanted;
    if (field->type == FieldType::timestamp_ns) {
      if (const auto ns = parse_time(value)) wanted = *ns;
    } else if (field->type == FieldType::chars) {
      wanted = std::string(value);
    } else if (field->type == FieldType::bytes) {
      if (auto bytes = hex_bytes(value); bytes && bytes->size() == field->size) wanted = *bytes;
    } else if (field->type == FieldType::f32) {
      // As an f32 field holds it: 0.1 is the float nearest 0.1, which read_field widens.
      if (const auto parsed = number<float>(value)) wanted = double{*parsed};
    } else if (field->type == FieldType::f64) {
      if (const auto parsed = number<double>(value)) wanted = *parsed;
    } else if (field->type >= FieldType::i8 && field->type <= FieldType::i64) {
      const std::int64_t largest = std::int64_t(~std::uint64_t{0} >> (65 - 8 * field->size));
      if (const auto parsed = number<std::int64_t>(value);
          parsed && *parsed <= largest && *parsed >= -largest - 1) {
        wanted = *parsed;
      }
    } else if (const auto parsed = number<std::uint64_t>(value);
               parsed && *parsed <= ~std::uint64_t{0} >> (64 - 8 * field->size)) {
      wanted = *parsed;
    }
    if (!wanted) {
      return std::unexpected(fmt::format("--where {}: \"{}\" is no value of {} {} in [{}]", text,
                                         value, type_name(*field), field->name, event.name));
    }
    filter.wanted_by_type_[event.event_type] = std::move(wanted);
  }
  if (!found) {
    return std::unexpected(fmt::format("--where {}: no event type of the schema has a field "
                                       "\"{}\"", text, filter.name_));
  }
  return filter;
}

bool FieldFilter::matches(const EventSchema& event,
                          std::span<const std::byte> payload) const noexcept {
  const std::optional<Wanted>& wanted = wanted_by_type_[event.event_type];
  if (!wanted || !is_decodable(event, payload)) return false;
  const FieldValue value = read_field(*event.field(name_), payload);
  if (const auto* text = std::get_if<std::string>(&*wanted)) {
    if (const auto* chars = std::get_if<std::string_view>(&value)) return *chars == *text;
    const auto& bytes = std::get<std::span<const std::byte>>(value);
    return bytes.size() == text->size() && std::memcmp(bytes.data(), text->data(), bytes.size()) == 0;
  }
  return std::visit([&](const auto& want) {
    using W = std::decay_t<decltype(want)>;
    if constexpr (std::is_same_v<W, std::string>) {
      return false;
    } else {
      const auto* held = std::get_if<W>(&value);
      return held != nullptr && *held == want;
    }
  }, *wanted);
}

}  // namespace ringlog::schema
