#include "schema/payload_schema.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <sstream>

namespace ringlog::schema {

namespace {

// The file list_journal() accepts beside schema.toml (journal_directory.hpp): the new text is
// written here, then renamed over the old.
constexpr std::string_view replacement_suffix = ".new";

struct FixedType {
  std::string_view name;
  FieldType type;
  std::uint32_t size;
};
constexpr FixedType fixed_types[] = {
    {"u8", FieldType::u8, 1},   {"u16", FieldType::u16, 2}, {"u32", FieldType::u32, 4},
    {"u64", FieldType::u64, 8}, {"i8", FieldType::i8, 1},   {"i16", FieldType::i16, 2},
    {"i32", FieldType::i32, 4}, {"i64", FieldType::i64, 8}, {"f32", FieldType::f32, 4},
    {"f64", FieldType::f64, 8}, {"timestamp_ns", FieldType::timestamp_ns, 8},
};
constexpr std::uint32_t max_payload_len = UINT16_MAX;  // EventHeader::payload_len's range

// "char[16]" or "bytes[4]": the type and N; nothing when `text` is neither.
std::optional<std::pair<FieldType, std::uint32_t>> sized_type(std::string_view text) {
  for (const auto& [prefix, type] : {std::pair{std::string_view("char["), FieldType::chars},
                                     std::pair{std::string_view("bytes["), FieldType::bytes}}) {
    if (!text.starts_with(prefix) || !text.ends_with(']')) continue;
    const std::string_view digits = text.substr(prefix.size(), text.size() - prefix.size() - 1);
    std::uint64_t size = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), size);
    if (end != digits.data() + digits.size() || digits.empty()) break;
    // Too large to read is as out of range as too large to hold: said so, not "unknown".
    if (error != std::errc() || size > UINT32_MAX) size = UINT32_MAX;
    return std::pair{type, static_cast<std::uint32_t>(size)};
  }
  return std::nullopt;
}

bool is_identifier(std::string_view name) {
  const auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  return !name.empty() && letter(name.front()) &&
         std::all_of(name.begin(), name.end(), [&](char c) {
           return letter(c) || digit(c) || c == '_';
         });
}

int line_of(const toml::node& node) { return static_cast<int>(node.source().begin.line); }

// Reads one schema file, stopping at its first problem, which it words as `source:line: what`.
class SchemaReader {
 public:
  explicit SchemaReader(const std::string& source) : source_(source) {}

  std::string at(int line, std::string_view what) const {
    return fmt::format("{}:{}: {}", source_, line, what);
  }

  std::expected<EventSchema, std::string> event(std::string_view name, const toml::node& node) {
    const toml::table* table = node.as_table();
    if (table == nullptr || !is_identifier(name)) {
      return std::unexpected(at(line_of(node), fmt::format(
          "\"{}\": expected a table [name] for an event type, its name a letter followed by "
          "letters, digits and '_'", name)));
    }
    EventSchema event{std::string(name), 0, 0, {}, line_of(node)};
    if (auto unknown = unknown_key(*table, {"event_type", "payload_len", "fields"})) {
      return std::unexpected(*unknown);
    }
    auto type = integer(*table, "event_type", 0, UINT8_MAX);
    if (!type) return std::unexpected(type.error());
    auto length = integer(*table, "payload_len", 1, max_payload_len);
    if (!length) return std::unexpected(length.error());
    event.event_type = static_cast<std::uint8_t>(*type);
    event.payload_len = static_cast<std::uint32_t>(*length);
    const toml::array* fields = (*table)["fields"].as_array();
    if (fields == nullptr) {
      return std::unexpected(at(event.line, fmt::format(
          "[{}]: expected fields = [{{ name = ..., type = ..., offset = ... }}, ...]", name)));
    }
    for (const toml::node& item : *fields) {
      auto field = this->field(item, event);
      if (!field) return std::unexpected(field.error());
      event.fields.push_back(std::move(*field));
    }
    if (auto overlap = overlapping(event)) return std::unexpected(*overlap);
    return event;
  }

 private:
  std::optional<std::string> unknown_key(const toml::table& table,
                                         std::initializer_list<std::string_view> known) const {
    for (const auto& [key, value] : table) {
      if (std::find(known.begin(), known.end(), key.str()) == known.end()) {
        return at(line_of(value), fmt::format("unknown key \"{}\" (known: {})", key.str(),
                                              fmt::join(known, ", ")));
      }
    }
    return std::nullopt;
  }

  std::expected<std::int64_t, std::string> integer(const toml::table& table,
                                                   std::string_view key, std::int64_t least,
                                                   std::int64_t most) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) return std::unexpected(at(line_of(table), fmt::format("{} is missing", key)));
    const auto* value = node->as_integer();
    if (value == nullptr || value->get() < least || value->get() > most) {
      return std::unexpected(at(line_of(*node), fmt::format(
          "{}: expected an integer from {} to {}", key, least, most)));
    }
    return value->get();
  }

  std::expected<Field, std::string> field(const toml::node& item, const EventSchema& event) const {
    const toml::table* table = item.as_table();
    if (table == nullptr) {
      return std::unexpected(at(line_of(item), "a field is { name = ..., type = ..., offset = ... }"));
    }
    if (auto unknown = unknown_key(*table, {"name", "type", "offset", "unit"})) {
      return std::unexpected(*unknown);
    }
    Field field;
    field.line = line_of(item);
    const auto* name = table->get_as<std::string>("name");
    const auto* type = table->get_as<std::string>("type");
    const auto* unit = table->get("unit");
    if (name == nullptr || !is_identifier(name->get())) {
      return std::unexpected(at(field.line, "a field's name: letters, digits and '_', from a letter"));
    }
    field.name = name->get();
    if (std::find(reserved_field_names.begin(), reserved_field_names.end(), field.name) !=
        reserved_field_names.end()) {
      return std::unexpected(at(field.line, fmt::format(
          "field \"{}\": the name is reserved for what the tools print of every event ({})",
          field.name, fmt::join(reserved_field_names, ", "))));
    }
    if (event.field(field.name) != nullptr) {
      return std::unexpected(at(field.line, fmt::format("field \"{}\" is named twice in [{}]",
                                                        field.name, event.name)));
    }
    if (unit != nullptr && !unit->is_string()) {
      return std::unexpected(at(field.line, fmt::format("field \"{}\": unit is a string", field.name)));
    }
    if (unit != nullptr) field.unit = unit->as_string()->get();
    if (auto refused = read_type(type, field)) return std::unexpected(*refused);
    auto offset = integer(*table, "offset", 0, max_payload_len);
    if (!offset) return std::unexpected(offset.error());
    field.offset = static_cast<std::uint32_t>(*offset);
    if (field.offset + field.size > event.payload_len) {
      return std::unexpected(at(field.line, fmt::format(
          "field \"{}\" (bytes {} to {}) reaches past payload_len {} of [{}]", field.name,
          field.offset, field.offset + field.size - 1, event.payload_len, event.name)));
    }
    return field;
  }

  std::optional<std::string> read_type(const toml::value<std::string>* type, Field& field) const {
    const std::string_view text = type ? std::string_view(type->get()) : std::string_view();
    for (const FixedType& fixed : fixed_types) {
      if (text != fixed.name) continue;
      field.type = fixed.type;
      field.size = fixed.size;
      return std::nullopt;
    }
    if (const auto sized = sized_type(text)) {
      if (sized->second == 0 || sized->second > max_payload_len) {
        return at(field.line, fmt::format("field \"{}\": {}: N is from 1 to {}", field.name,
                                          text, max_payload_len));
      }
      field.type = sized->first;
      field.size = sized->second;
      return std::nullopt;
    }
    return at(field.line, fmt::format(
        "field \"{}\": unknown type \"{}\" (known: u8, u16, u32, u64, i8, i16, i32, i64, f32, "
        "f64, char[N], bytes[N], timestamp_ns)", field.name, text));
  }

  // Two fields sharing a byte: the one declared later is named, with the one it overlaps.
  std::optional<std::string> overlapping(const EventSchema& event) const {
    std::vector<const Field*> by_offset;
    for (const Field& field : event.fields) by_offset.push_back(&field);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const Field* a, const Field* b) { return a->offset < b->offset; });
    for (std::size_t i = 1; i < by_offset.size(); ++i) {
      const Field* before = by_offset[i - 1];
      const Field* after = by_offset[i];
      if (after->offset >= before->offset + before->size) continue;
      if (after->line < before->line) std::swap(before, after);
      return at(after->line, fmt::format(
          "field \"{}\" (bytes {} to {}) overlaps field \"{}\" (bytes {} to {})", after->name,
          after->offset, after->offset + after->size - 1, before->name, before->offset,
          before->offset + before->size - 1));
    }
    return std::nullopt;
  }

  const std::string& source_;
};

std::unexpected<Error> refused(std::string what) {
  return std::unexpected(Error::because(SetupErrc::invalid_setting, std::move(what)));
}

}  // namespace

const Field* EventSchema::field(std::string_view wanted) const noexcept {
  for (const Field& field : fields) {
    if (field.name == wanted) return &field;
  }
  return nullptr;
}

std::expected<Schema, Error> Schema::parse(std::string_view text, const std::string& source) {
  toml::table root;
  try {  // Debian's toml++ reports syntax errors by exception
    root = toml::parse(text, source);
  } catch (const toml::parse_error& failure) {
    return refused(fmt::format("{}:{}: {}", source, failure.source().begin.line,
                               failure.description()));
  }
  Schema schema;
  schema.by_type_.fill(none);
  schema.text_ = std::string(text);
  SchemaReader reader(source);
  for (const auto& [name, node] : root) {
    auto event = reader.event(name.str(), node);
    if (!event) return refused(event.error());
    schema.events_.push_back(std::move(*event));
  }
  // In the file's order (toml++ keeps a table's keys sorted): a type given twice is blamed
  // where it comes the second time, and readers list the types as the file does.
  std::sort(schema.events_.begin(), schema.events_.end(),
            [](const EventSchema& a, const EventSchema& b) { return a.line < b.line; });
  for (std::size_t index = 0; index < schema.events_.size(); ++index) {
    const EventSchema& event = schema.events_[index];
    if (const EventSchema* same = schema.find(event.event_type)) {
      return refused(reader.at(event.line, fmt::format(
          "[{}]: event_type {} is [{}]'s already", event.name, event.event_type, same->name)));
    }
    schema.by_type_[event.event_type] = static_cast<std::uint16_t>(index);
  }
  if (schema.events_.empty()) {
    return refused(fmt::format("{}:1: names no event type ([name] tables with event_type, "
                               "payload_len and fields)", source));
  }
  return schema;
}

std::expected<Schema, Error> Schema::load(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::unexpected(Error::from_os(errno, "read schema " + path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path.string());
}

const EventSchema* Schema::find(std::string_view name) const noexcept {
  for (const EventSchema& event : events_) {
    if (event.name == name) return &event;
  }
  return nullptr;
}

std::string type_name(const Field& field) {
  if (field.type == FieldType::chars) return fmt::format("char[{}]", field.size);
  if (field.type == FieldType::bytes) return fmt::format("bytes[{}]", field.size);
  for (const FixedType& fixed : fixed_types) {
    if (fixed.type == field.type) return std::string(fixed.name);
  }
  return "?";
}

std::expected<std::optional<Schema>, Error> schema_for(
    const std::filesystem::path& path, const std::filesystem::path& explicit_file) {
  if (!explicit_file.empty()) return Schema::load(explicit_file);
  std::error_code error;
  // A journal directory, or one not made yet (fetch's), or a log file in a journal's directory.
  const bool a_directory =
      std::filesystem::is_directory(path, error) || !std::filesystem::exists(path, error);
  const std::filesystem::path directory = a_directory ? path : path.parent_path();
  const std::filesystem::path file = directory / Schema::file_name;
  if (!std::filesystem::exists(file, error)) return std::nullopt;
  return Schema::load(file);
}

std::expected<void, Error> install_schema(const Schema& schema,
                                          const std::filesystem::path& journal_dir) {
  const std::filesystem::path file = journal_dir / Schema::file_name;
  std::ifstream existing(file);
  if (existing) {
    std::ostringstream text;
    text << existing.rdbuf();
    if (text.str() == schema.text()) return {};
  }
  std::filesystem::path replacement = file;
  replacement += replacement_suffix;
  const int fd = ::open(replacement.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return std::unexpected(Error::from_os(errno, "create " + replacement.string()));
  const std::string& text = schema.text();
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fdatasync(fd) == 0;
  const int write_error = errno;
  ::close(fd);
  if (!written) return std::unexpected(Error::from_os(write_error, "write " + replacement.string()));
  if (::rename(replacement.c_str(), file.c_str()) != 0) {
    return std::unexpected(Error::from_os(errno, "rename " + replacement.string() + " to " +
                                                     file.string()));
  }
  return {};
}

}  // namespace ringlog::schema
