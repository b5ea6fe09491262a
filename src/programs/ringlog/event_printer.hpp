// How the tools (dump, tail, fetch's report) print events: one line each, text or JSON; its
// payload decoded field by field when the payload schema names its type, else as hex; only
// those the command line selects (--type, --where). A drop marker is always printed: events a
// publisher dropped may have been any of those selected.
#pragma once

#include "schema/payload_decode.hpp"
#include "schema/payload_schema.hpp"

#include <ringlog/event.hpp>

#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdio>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ringlog::programs {

// Text or JSON lines; timestamps as they are, or read as nanoseconds since the epoch and shown
// as UTC time too (the service's publishers write that).
struct EventFormat {
  bool json = false;
  bool utc = false;
};

// What the command line says about decoding and selecting events.
struct DecodeOptions {
  std::filesystem::path schema_file;  // --schema; empty: the journal's own schema.toml, if any
  std::string type;                   // --type: a schema's name or an event_type number
  std::vector<std::string> where;     // --where field=value, all of them
  bool raw = false;                   // --raw: payloads as hex, whatever schema there is
  // --schema, --type and --where on `command`.
  void add_to(CLI::App& command);
};

class EventPrinter {
 public:
  // The printer for the journal or log file at `path`: an error saying what is wrong with the
  // schema found or given, or with --type or --where (which need a schema, but for a number).
  static std::expected<EventPrinter, std::string> make(const std::filesystem::path& path,
                                                       EventFormat, const DecodeOptions&);

  // Prints the event if it is selected; whether it did.
  bool print(std::uint64_t sequence, const event::EventView&, std::FILE* out);
  const std::optional<schema::Schema>& schema() const noexcept { return schema_; }
  // The name the schema gives `event_type`, else "type <n>".
  std::string type_name(std::uint8_t event_type) const;

 private:
  bool selected(const event::EventView&, const schema::EventSchema*) const noexcept;
  void start_line(std::uint64_t sequence, std::uint64_t timestamp);
  void append_raw(const event::EventView&);
  void append_decoded(const event::EventView&, const schema::EventSchema&);

  EventFormat format_;
  std::optional<schema::Schema> schema_;
  std::optional<std::uint8_t> type_;
  std::vector<schema::FieldFilter> where_;
  std::string line_;  // reused: a line costs no allocation once it has grown
};

}  // namespace ringlog::programs
