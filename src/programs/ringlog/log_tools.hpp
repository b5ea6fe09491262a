// The ringlog program's tools for journals and single log files: dump (text or JSON lines),
// verify, and tail.
#pragma once

#include "programs/ringlog/event_printer.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

namespace ringlog::programs {

// Exit statuses of dump and verify.
inline constexpr int intact = 0;
inline constexpr int damaged = 1;
inline constexpr int unreadable = 2;  // not a journal or log file, or not readable

struct DumpOptions {
  EventFormat format;
  std::optional<std::uint64_t> since;  // from the first event at or after it (seek_time)
  std::optional<std::uint64_t> until;  // up to the first event at or after it, not included
  DecodeOptions decode;                // the schema, --type and --where
};
// Prints every intact event of a journal directory or a log file, one per line, decoded by its
// schema where one is found or given; damage is reported on stderr, and nothing past it is
// shown.
int dump_log(const std::filesystem::path&, const DumpOptions&, std::FILE* out);

// Checks every record; prints what it found and, where something is damaged, where a writer
// reopening it would truncate (or why it refuses to).
int verify_log(const std::filesystem::path&, std::FILE* out);

struct TailOptions {
  std::optional<std::uint64_t> from;   // the first sequence number to print
  std::optional<std::uint64_t> since;  // or the first event at or after this time
  std::uint64_t last = 10;             // without either: this many of the newest events
  bool follow = false;                 // keep printing events as they are appended
  EventFormat format;
  DecodeOptions decode;
  std::string reader;                 // a named reader's: resumes, commits what it printed
};
// Prints a journal's newest events and, with `follow`, the new ones until SIGINT or SIGTERM.
int tail_journal(const std::filesystem::path&, const TailOptions&, std::FILE* out);

// Lists the journal's named readers: position, lag behind the journal's end, when each last
// committed, and whether it can go on without a gap. 0 when every one can, 1 when one lost
// events to retention, is past the journal's end or has a damaged cursor, 2 when the journal
// cannot be read.
int list_journal_readers(const std::filesystem::path&, bool json, std::FILE* out);

// `ringlog dump`, `verify`, `tail` and `readers`: their command lines.
class LogToolCommands {
 public:
  explicit LogToolCommands(CLI::App& app);
  LogToolCommands(const LogToolCommands&) = delete;  // the command line points into it

  // The exit status of the subcommand given, or nothing when none of these was.
  std::optional<int> run() const;

 private:
  CLI::App* dump_;
  CLI::App* verify_;
  CLI::App* tail_;
  CLI::App* readers_;
  std::filesystem::path path_;
  bool json_ = false;
  bool utc_ = false;
  std::string since_;
  std::string until_;
  TailOptions tail_options_;
  DecodeOptions decode_;
};

}  // namespace ringlog::programs
