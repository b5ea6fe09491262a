// A payload schema: what the bytes after each event's header mean, per event type, read from a
// small TOML file (src/programs/ringlog/market_data.toml is the demo's):
//
//   [quote]                      # the event type's name
//   event_type = 1               # the header's event_type it names
//   payload_len = 32             # the payload's length; a shorter one is damaged
//   fields = [
//     { name = "instrument",  type = "u32", offset = 8 },
//     { name = "price_ticks", type = "i64", offset = 16, unit = "ticks" },
//   ]
//
// Fields lie at fixed offsets, in any order, with gaps allowed; they may not overlap or reach
// past payload_len. A payload longer than payload_len decodes too (its tail is not shown). The
// journal never reads a schema: it is for the tools and the Python reader, and a journal
// carries its own as schema.toml in its directory.
#pragma once

#include <ringlog/error.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringlog::schema {

enum class FieldType : std::uint8_t {
  u8, u16, u32, u64, i8, i16, i32, i64, f32, f64,
  chars,         // char[N]: text, ended by the first zero byte or by N
  bytes,         // bytes[N]: opaque, shown as hex
  timestamp_ns,  // u64 nanoseconds since the epoch
};

struct Field {
  std::string name;
  FieldType type = FieldType::u8;
  std::uint32_t offset = 0;  // in the payload
  std::uint32_t size = 1;    // bytes: fixed by the type, N for char[N] and bytes[N]
  std::string unit;          // optional: "ns", "ticks", ...
  int line = 0;              // where the schema file declares it
};

struct EventSchema {
  std::string name;
  std::uint8_t event_type = 0;
  std::uint32_t payload_len = 0;
  std::vector<Field> fields;  // in the order the file lists them
  int line = 0;

  const Field* field(std::string_view name) const noexcept;
};

// The names the tools print beside the fields of every decoded event (its sequence, timestamp,
// UTC time, type, flags, and why it is damaged), which a schema may therefore not give a field.
inline constexpr std::array<std::string_view, 6> reserved_field_names = {
    "sequence", "timestamp", "time", "type", "flags", "damaged"};

class Schema {
 public:
  // A journal's schema, in its directory.
  static constexpr std::string_view file_name = "schema.toml";

  // Every refusal is SetupErrc::invalid_setting with the context `source:line: what`: a TOML
  // syntax error, an unknown key, an unknown type, overlapping fields, a field past
  // payload_len, an event type or a name given twice.
  static std::expected<Schema, Error> parse(std::string_view text, const std::string& source);
  static std::expected<Schema, Error> load(const std::filesystem::path& path);

  const EventSchema* find(std::uint8_t event_type) const noexcept {
    const std::uint16_t index = by_type_[event_type];
    return index == none ? nullptr : events_.data() + index;
  }
  const EventSchema* find(std::string_view name) const noexcept;
  const std::vector<EventSchema>& events() const noexcept { return events_; }
  const std::string& text() const noexcept { return text_; }  // as it was read

 private:
  static constexpr std::uint16_t none = UINT16_MAX;
  std::vector<EventSchema> events_;  // in the file's order
  std::array<std::uint16_t, 256> by_type_{};
  std::string text_;
};

// The type's name as a schema writes it: "u32", "char[8]".
std::string type_name(const Field&);

// The schema a tool uses for the journal (or log file) at `path`: `explicit_file` when given,
// else the journal directory's schema.toml when there is one (a log file's directory's for a
// log file), else none. An Error when the file chosen cannot be read or is refused.
std::expected<std::optional<Schema>, Error> schema_for(const std::filesystem::path& path,
                                                       const std::filesystem::path& explicit_file);

// Puts `schema` into the journal directory as schema.toml, replacing the file whole (a reader
// sees the old one or the new one), unless it holds that text already.
std::expected<void, Error> install_schema(const Schema& schema,
                                          const std::filesystem::path& journal_dir);

}  // namespace ringlog::schema
