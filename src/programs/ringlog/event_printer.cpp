#include "programs/ringlog/event_printer.hpp"

#include "schema/time_text.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>

namespace ringlog::programs {

using schema::EventSchema;

namespace {

// A drop marker: how many events a publisher dropped at this point, instead of an event.
void print_drop_marker(std::uint64_t sequence, const event::DropMarker& marker,
                       EventFormat format, std::FILE* out) {
  const auto time = [&](std::uint64_t ns) {
    return format.utc ? schema::utc_text(ns) : std::to_string(ns);
  };
  if (format.json) {
    nlohmann::ordered_json line = {{"sequence", sequence},
                                   {"timestamp", marker.first_timestamp},
                                   {"dropped_events", marker.dropped_events},
                                   {"first_dropped_timestamp", marker.first_timestamp},
                                   {"last_dropped_timestamp", marker.last_timestamp}};
    if (format.utc) line["time"] = time(marker.first_timestamp);
    fmt::print(out, "{}\n", line.dump());
  } else {
    fmt::print(out, "{:>10}  ts {:>20}  DROPPED {} event(s) here, timestamps {} to {}\n",
               sequence, time(marker.first_timestamp), marker.dropped_events,
               time(marker.first_timestamp), time(marker.last_timestamp));
  }
}

std::optional<std::uint8_t> event_type_number(std::string_view text) {
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value > UINT8_MAX) {
    return std::nullopt;
  }
  return static_cast<std::uint8_t>(value);
}

}  // namespace

void DecodeOptions::add_to(CLI::App& command) {
  command.add_option("--schema", schema_file, "decode payloads by this schema (TOML) instead of "
                     "the journal's own schema.toml");
  command.add_option("--type", type, "only events of this type: a name the schema gives, or an "
                     "event_type number");
  command.add_option("--where", where, "only events whose field holds this value, as "
                     "field=value (a number, text, hex for bytes, a time); repeatable: all hold");
  command.add_flag("--raw", raw, "payloads as hex, undecoded, whatever schema there is")
      ->excludes("--schema");
}

std::expected<EventPrinter, std::string> EventPrinter::make(const std::filesystem::path& path,
                                                            EventFormat format,
                                                            const DecodeOptions& options) {
  EventPrinter printer;
  printer.format_ = format;
  using Found = std::expected<std::optional<schema::Schema>, Error>;
  auto found = options.raw ? Found(std::nullopt) : schema::schema_for(path, options.schema_file);
  if (!found) return std::unexpected(found.error().message());
  printer.schema_ = std::move(*found);
  if (!options.type.empty()) {
    const EventSchema* named = printer.schema_ ? printer.schema_->find(options.type) : nullptr;
    printer.type_ = named ? std::optional(named->event_type) : event_type_number(options.type);
    if (!printer.type_) {
      return std::unexpected(fmt::format(
          "--type {}: {}", options.type, printer.schema_ ? "the schema names no such type"
                                                         : "no schema found to name it; give "
                                                           "an event_type number or --schema"));
    }
  }
  for (const std::string& where : options.where) {
    if (!printer.schema_) {
      return std::unexpected(fmt::format("--where {}: no schema found to read fields with; "
                                         "give --schema FILE", where));
    }
    auto filter = schema::FieldFilter::parse(where, *printer.schema_);
    if (!filter) return std::unexpected(filter.error());
    printer.where_.push_back(std::move(*filter));
  }
  return printer;
}

std::string EventPrinter::type_name(std::uint8_t event_type) const {
  const EventSchema* named = schema_ ? schema_->find(event_type) : nullptr;
  return named ? named->name : fmt::format("type {}", event_type);
}

bool EventPrinter::selected(const event::EventView& view,
                            const EventSchema* named) const noexcept {
  if (type_ && view.header.event_type != *type_) return false;
  return std::all_of(where_.begin(), where_.end(), [&](const schema::FieldFilter& filter) {
    return named != nullptr && filter.matches(*named, view.payload);
  });
}

bool EventPrinter::print(std::uint64_t sequence, const event::EventView& view, std::FILE* out) {
  if (const auto marker = event::as_drop_marker(view)) {
    print_drop_marker(sequence, *marker, format_, out);
    return true;
  }
  const EventSchema* named = schema_ ? schema_->find(view.header.event_type) : nullptr;
  if (!selected(view, named)) return false;
  start_line(sequence, view.header.timestamp);
  if (named != nullptr) {
    append_decoded(view, *named);
  } else {
    append_raw(view);
  }
  line_ += format_.json ? "}\n" : "\n";
  std::fwrite(line_.data(), 1, line_.size(), out);
  return true;
}

void EventPrinter::start_line(std::uint64_t sequence, std::uint64_t timestamp) {
  line_.clear();
  const auto time = [&] { return format_.utc ? schema::utc_text(timestamp) : std::to_string(timestamp); };
  if (!format_.json) {
    fmt::format_to(std::back_inserter(line_), "{:>10}  ts {:>20}", sequence, time());
    return;
  }
  fmt::format_to(std::back_inserter(line_), "{{\"sequence\":{},\"timestamp\":{}", sequence,
                 timestamp);
  if (format_.utc) fmt::format_to(std::back_inserter(line_), ",\"time\":\"{}\"", time());
}

// The header's fields and the payload as hex (its first 32 bytes in text).
void EventPrinter::append_raw(const event::EventView& view) {
  const event::EventHeader& h = view.header;
  if (format_.json) {
    fmt::format_to(std::back_inserter(line_),
                   ",\"event_type\":{},\"flags\":{},\"payload_len\":{},\"payload\":\"",
                   h.event_type, h.flags, h.payload_len);
    schema::append_hex(line_, view.payload);
    line_ += '"';
    return;
  }
  constexpr std::size_t shown = 32;
  fmt::format_to(std::back_inserter(line_), "  type {:>3}  flags {:#04x}  len {:>5}  ",
                 h.event_type, h.flags, h.payload_len);
  schema::append_hex(line_, view.payload.first(std::min(view.payload.size(), shown)));
  if (view.payload.size() > shown) line_ += "…";
}

// The type's name and its fields; a payload shorter than the schema says is damaged: named so,
// and shown raw, never read past.
void EventPrinter::append_decoded(const event::EventView& view, const EventSchema& named) {
  const bool whole = schema::is_decodable(named, view.payload);
  if (format_.json) {
    fmt::format_to(std::back_inserter(line_), ",\"type\":\"{}\"", named.name);
    if (whole) {  // (a damaged one's flags come with its raw header below)
      if (view.header.flags != 0) {
        fmt::format_to(std::back_inserter(line_), ",\"flags\":{}", view.header.flags);
      }
      return schema::append_json_fields(line_, named, view.payload, {format_.utc});
    }
    fmt::format_to(std::back_inserter(line_), ",\"damaged\":\"payload_len {} is shorter than "
                   "the schema's {}\"", view.payload.size(), named.payload_len);
    return append_raw(view);
  }
  fmt::format_to(std::back_inserter(line_), "  {}", named.name);
  if (whole) {
    if (view.header.flags != 0) {
      fmt::format_to(std::back_inserter(line_), "  flags {:#04x}", view.header.flags);
    }
    return schema::append_text_fields(line_, named, view.payload, {format_.utc});
  }
  fmt::format_to(std::back_inserter(line_), "  DAMAGED: payload_len {} is shorter than the "
                 "schema's {}", view.payload.size(), named.payload_len);
  append_raw(view);
}

}  // namespace ringlog::programs
