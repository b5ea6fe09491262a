// Reading a payload by its schema: one field's value, every field as text or as JSON, and a
// field filter (`--where instrument=42`). Nothing here reads past the payload it is given: a
// payload shorter than its schema's payload_len is damaged (is_decodable says so) and is
// shown raw by the tools, never decoded.
#pragma once

#include "schema/payload_schema.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace ringlog::schema {

// A field's value: unsigned integers and timestamp_ns as uint64_t, signed ones as int64_t, f32
// and f64 as double, char[N] as the text before its first zero byte, bytes[N] as they are.
using FieldValue =
    std::variant<std::uint64_t, std::int64_t, double, std::string_view, std::span<const std::byte>>;

inline bool is_decodable(const EventSchema& event, std::span<const std::byte> payload) noexcept {
  return payload.size() >= event.payload_len;
}

// The value of `field` in a payload is_decodable() accepts (unaligned offsets are fine).
FieldValue read_field(const Field& field, std::span<const std::byte> payload) noexcept;

// How values are written: timestamp_ns fields as UTC time, or as the number they hold.
struct ValueFormat {
  bool utc = false;
};

// Appends "  name=value[ unit]" for every field, in the schema's order.
void append_text_fields(std::string& out, const EventSchema&, std::span<const std::byte> payload,
                        ValueFormat);
// Appends ",\"name\":value" for every field: numbers as JSON numbers (NaN and infinities as
// null), text and UTC times as JSON strings, bytes as a hex string.
void append_json_fields(std::string& out, const EventSchema&, std::span<const std::byte> payload,
                        ValueFormat);

// Appends `bytes` as lowercase hex; appends `text` as the inside of a JSON string.
void append_hex(std::string& out, std::span<const std::byte> bytes);
void append_json_string(std::string& out, std::string_view text);

// `name=value`: matches the events whose schema has a field `name` holding `value`, written as
// the tools write it (a number; text for char[N]; hex for bytes[N]; nanoseconds or UTC time for
// timestamp_ns).
class FieldFilter {
 public:
  // An error saying what is wrong with `text`, or with its value for a type of `schema` that
  // has the field; also when no type of the schema has it.
  static std::expected<FieldFilter, std::string> parse(std::string_view text,
                                                       const Schema& schema);
  bool matches(const EventSchema& event, std::span<const std::byte> payload) const noexcept;

 private:
  // The value wanted, as each event type's field holds it: a number, or the bytes of a
  // char[N]'s text or of a bytes[N]; nothing for the types without the field.
  using Wanted = std::variant<std::uint64_t, std::int64_t, double, std::string>;
  std::string name_;
  std::array<std::optional<Wanted>, 256> wanted_by_type_;
};

}  // namespace ringlog::schema
