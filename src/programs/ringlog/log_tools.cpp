#include "programs/ringlog/log_tools.hpp"

#include "schema/time_text.hpp"

#include <ringlog/journal.hpp>
#include <ringlog/log_file.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string_view>
#include <thread>

namespace ringlog::programs {

namespace {

// Damage that a reader stops at: a torn or corrupt record, or a checkpoint past the intact end.
bool is_damaged(const journal::MmapReader& reader) {
  return reader.scan().damaged || reader.header().write_offset > reader.scan().end_offset;
}

int dump_file(const std::filesystem::path& path, const DumpOptions& options,
              EventPrinter& printer, std::FILE* out) {
  auto reader = journal::MmapReader::open(path);
  if (!reader) {
    fmt::print(stderr, "ringlog dump: {}\n", reader.error().message());
    return unreadable;
  }
  std::uint64_t sequence = 0;
  schema::TimeWindow window(options.since, options.until);
  for (const event::EventView& view : *reader) {
    const bool started = window.started(view.header.timestamp);
    if (window.ended()) break;
    if (started) printer.print(sequence, view, out);
    ++sequence;
  }
  if (is_damaged(*reader)) {
    fmt::print(stderr, "ringlog dump: {}: damaged after event {} (offset {}); nothing past it "
                       "was shown\n", path.string(), sequence, reader->scan().end_offset);
    return damaged;
  }
  return intact;
}

int dump_journal(const std::filesystem::path& path, const DumpOptions& options,
                 EventPrinter& printer, std::FILE* out) {
  auto reader = journal::JournalReader::open(path);
  auto check = journal::check_journal(path);
  if (!reader || !check) {
    fmt::print(stderr, "ringlog dump: {}\n",
               (reader ? check.error() : reader.error()).message());
    return unreadable;
  }
  // From the first event at or after `since`, found by the time index, not a scan.
  if (options.since) reader->seek_time(*options.since);
  schema::TimeWindow window(options.since, options.until);
  while (const auto event = reader->next()) {
    window.started(event->view.header.timestamp);
    if (window.ended()) break;
    printer.print(event->sequence, event->view, out);
  }
  if (!check->problem.empty()) {
    fmt::print(stderr, "ringlog dump: {}: {}; nothing past it was shown\n", path.string(),
               check->problem);
    return damaged;
  }
  return intact;
}

int verify_file(const std::filesystem::path& path, std::FILE* out) {
  auto reader = journal::MmapReader::open(path);
  if (!reader) {
    fmt::print(out, "{}: NOT A READABLE LOG: {}\n", path.string(), reader.error().message());
    return unreadable;
  }
  const journal::ScanResult& scan = reader->scan();
  const journal::FileHeader header = reader->header();
  const std::size_t size = std::filesystem::file_size(path);
  fmt::print(out, "{}: {} intact events in the first {} of its {} bytes\n", path.string(),
             scan.event_count, scan.end_offset, size);
  const bool below_checkpoint = header.write_offset > scan.end_offset;
  if (!scan.damaged && !below_checkpoint) {
    fmt::print(out, "OK: every record is intact\n");
    return intact;
  }
  const std::string where =
      scan.damaged ? fmt::format("the record at offset {} fails its checksum", scan.end_offset)
                   : fmt::format("records end at offset {}", scan.end_offset);
  if (below_checkpoint) {
    fmt::print(out, "DAMAGED: {}, below the durable checkpoint at offset {}: events reported "
                    "durable are damaged, and a writer refuses to append\n",
               where, header.write_offset);
  } else {
    fmt::print(out, "DAMAGED: {}; a writer reopening the file truncates there\n", where);
  }
  return damaged;
}

// The drop markers publishers left in an intact journal: events lost before the journal, by
// a publisher's choice (overflow policy drop), where they were lost.
void print_drops(const std::filesystem::path& path, std::FILE* out) {
  auto reader = journal::JournalReader::open(path);
  if (!reader) return;
  std::uint64_t markers = 0, dropped = 0;
  std::optional<std::uint64_t> first_at;
  reader->poll([&](const journal::JournalEvent& event) {
    const auto marker = event::as_drop_marker(event.view);
    if (!marker) return;
    ++markers;
    dropped += marker->dropped_events;
    if (!first_at) first_at = event.sequence;
  });
  if (markers == 0) return;
  fmt::print(out, "DROPS: {} drop marker(s) count {} event(s) publishers dropped on a full ring, "
             "the first at sequence {}\n", markers, dropped, *first_at);
}

int verify_journal(const std::filesystem::path& path, std::FILE* out) {
  auto check = journal::check_journal(path);
  if (!check) {
    fmt::print(out, "{}: NOT A READABLE JOURNAL: {}\n", path.string(), check.error().message());
    return unreadable;
  }
  for (const journal::SegmentCheck& segment : check->segments) {
    fmt::print(out, "  {}  {} events{}\n", segment.path.filename().string(),
               segment.scan.event_count, segment.scan.damaged ? "  DAMAGED" : "");
  }
  fmt::print(out, "{}: {} intact events (sequences {} to {}) in {} segment(s)\n", path.string(),
             check->intact_events, check->first_sequence,
             check->first_sequence + check->intact_events, check->segments.size());
  if (check->problem.empty()) {
    print_drops(path, out);
    fmt::print(out, "OK: every record is intact\n");
    return intact;
  }
  fmt::print(out, "{}: {}\n", check->foreign_segment ? "FOREIGN" : "DAMAGED", check->problem);
  return damaged;
}

// A path that is not there is unreadable like any other that is no journal or log file.
std::optional<int> missing(const std::filesystem::path& path, const char* tool) {
  std::error_code error;
  if (std::filesystem::exists(path, error)) return std::nullopt;
  fmt::print(stderr, "ringlog {}: {}: {}\n", tool, path.string(),
             error ? error.message() : "no such file or directory");
  return unreadable;
}

std::atomic<bool> stop_tailing{false};

}  // namespace

int dump_log(const std::filesystem::path& path, const DumpOptions& options, std::FILE* out) {
  if (const auto status = missing(path, "dump")) return *status;
  auto printer = EventPrinter::make(path, options.format, options.decode);
  if (!printer) {
    fmt::print(stderr, "ringlog dump: {}\n", printer.error());
    return unreadable;
  }
  return std::filesystem::is_directory(path) ? dump_journal(path, options, *printer, out)
                                             : dump_file(path, options, *printer, out);
}

int verify_log(const std::filesystem::path& path, std::FILE* out) {
  if (const auto status = missing(path, "verify")) return *status;
  return std::filesystem::is_directory(path) ? verify_journal(path, out) : verify_file(path, out);
}

int tail_journal(const std::filesystem::path& path, const TailOptions& options, std::FILE* out) {
  auto printer = EventPrinter::make(path, options.format, options.decode);
  if (!printer) {
    fmt::print(stderr, "ringlog tail: {}\n", printer.error());
    return unreadable;
  }
  auto reader = journal::JournalReader::open(path, journal::ReaderOptions{.name = options.reader});
  if (!reader) {
    fmt::print(stderr, "ringlog tail: {}\n", reader.error().message());
    return unreadable;
  }
  // A named reader goes on where it committed; --from and --since still move it.
  const std::uint64_t end = reader->end_sequence();
  if (options.since) {
    reader->seek_time(*options.since);
  } else if (options.from || options.reader.empty()) {
    reader->seek(options.from.value_or(end - std::min(end, options.last)));
  }
  const auto print = [&](const journal::JournalEvent& event) {
    printer->print(event.sequence, event.view, out);
  };
  // What was printed is committed once it is out of the process, so that a restart neither
  // skips nor repeats it (up to a crash between the two).
  const auto printed = [&] {
    std::fflush(out);
    if (options.reader.empty()) return true;
    auto committed = reader->commit_position();
    if (!committed) fmt::print(stderr, "ringlog tail: {}\n", committed.error().message());
    return committed.has_value();
  };
  reader->poll(print);
  if (!printed()) return damaged;
  const auto stopped_at_foreign_segment = [&] {
    if (!reader->failure()) return false;
    fmt::print(stderr, "ringlog tail: {}\n", reader->failure()->message());
    return true;
  };
  if (stopped_at_foreign_segment()) return damaged;
  if (!options.follow) return intact;
  // Followed until stopped: the handler only sets a flag the loop reads between polls.
  struct sigaction stop {};
  stop.sa_handler = [](int) { stop_tailing.store(true); };
  sigaction(SIGINT, &stop, nullptr);
  sigaction(SIGTERM, &stop, nullptr);
  while (!stop_tailing.load()) {
    if (reader->poll(print) != 0) {
      if (!printed()) return damaged;
    } else if (stopped_at_foreign_segment()) {
      return damaged;
    } else {
      // Nothing new: poll the page cache again shortly rather than spin a core.
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  return intact;
}

namespace {

// Whether a reader at `position` can go on without a gap in a journal holding [first, end).
std::string reader_state(const journal::ReaderPosition& reader, std::uint64_t first,
                         std::uint64_t end) {
  if (reader.problem) return "DAMAGED cursor: " + reader.problem->message();
  if (reader.position < first) {
    return fmt::format("LOST events {} to {} (removed by retention before it read them)",
                       reader.position, first - 1);
  }
  if (reader.position > end) return fmt::format("PAST the journal's end ({})", end);
  return "ok";
}

}  // namespace

int list_journal_readers(const std::filesystem::path& directory, bool json, std::FILE* out) {
  auto journal = journal::JournalReader::open(directory);
  auto readers = journal ? journal::list_readers(directory)
                         : std::expected<std::vector<journal::ReaderPosition>, Error>(
                               std::unexpected(journal.error()));
  if (!readers) {
    fmt::print(stderr, "ringlog readers: {}\n", readers.error().message());
    return unreadable;
  }
  const std::uint64_t end = journal->end_sequence();
  const auto oldest = journal->next();
  const std::uint64_t first = oldest ? oldest->sequence : end;
  if (!json) fmt::print(out, "{:<24} {:>20} {:>14}  {:<20}  {}\n", "reader", "position", "lag",
                        "committed (UTC)", "state");
  int status = intact;
  for (const journal::ReaderPosition& reader : *readers) {
    const std::string state = reader_state(reader, first, end);
    if (state != "ok") status = damaged;
    const auto committed = std::chrono::floor<std::chrono::seconds>(
        std::chrono::file_clock::to_sys(reader.committed_at));
    const std::uint64_t lag = end > reader.position ? end - reader.position : 0;
    if (json) {
      fmt::print(out, "{}\n", nlohmann::json{{"name", reader.name},
                                             {"position", reader.position},
                                             {"lag", lag},
                                             {"committed", fmt::format("{:%FT%TZ}", committed)},
                                             {"state", state}}.dump());
    } else {
      fmt::print(out, "{:<24} {:>20} {:>14}  {:%F %T}  {}\n", reader.name, reader.position, lag,
                 committed, state);
    }
  }
  return status;
}

LogToolCommands::LogToolCommands(CLI::App& app)
    : dump_(app.add_subcommand("dump", "print every intact event of a journal directory or a "
                                       "log file")),
      verify_(app.add_subcommand("verify", "check every record of a journal directory or a "
                                           "log file; exit status 0 intact, 1 damaged or "
                                           "foreign, 2 not a journal or log")),
      tail_(app.add_subcommand("tail", "print the newest events of a journal; -f follows new "
                                       "ones as they are appended")),
      readers_(app.add_subcommand("readers", "list a journal's named readers: position, lag, "
                                             "last commit; exit status 1 when one cannot go on "
                                             "without a gap")) {
  dump_->add_option("path", path_, "journal directory or log file")->required();
  dump_->add_flag("--json", json_, "one JSON object per line");
  dump_->add_option("--since", since_, "from the first event at or after this time: "
                    "nanoseconds since the epoch, or UTC as 2026-12-01T13:00:00.5Z");
  dump_->add_option("--until", until_, "up to the first event at or after this time");
  dump_->add_flag("--utc", utc_, "show timestamps (nanoseconds since the epoch) as UTC time");
  decode_.add_to(*dump_);
  verify_->add_option("path", path_, "journal directory or log file")->required();
  tail_->add_option("directory", path_, "journal directory")->required();
  tail_->add_flag("-f,--follow", tail_options_.follow, "keep printing new events until Ctrl-C");
  tail_->add_option("-n,--last", tail_options_.last, "how many of the newest events")
      ->capture_default_str();
  tail_->add_option("--from", tail_options_.from, "start at this sequence number instead");
  tail_->add_flag("--json", tail_options_.format.json, "one JSON object per line");
  tail_->add_flag("--utc", tail_options_.format.utc, "show timestamps as UTC time");
  tail_->add_option("--since", since_, "start at the first event at or after this time "
                    "(nanoseconds since the epoch, or UTC as 2026-12-01T13:00:00Z)")
      ->excludes("--from");
  decode_.add_to(*tail_);
  tail_->add_option("--reader", tail_options_.reader, "a named reader: go on where it last "
                    "committed, and commit what was printed (`ringlog readers` lists them)");
  readers_->add_option("directory", path_, "journal directory")->required();
  readers_->add_flag("--json", json_, "one JSON object per line");
}

std::optional<int> LogToolCommands::run() const {
  // --since and --until, read as times; a text that is none is refused, naming it.
  std::optional<std::uint64_t> times[2];
  const std::string* texts[2] = {&since_, &until_};
  for (int i = 0; i < 2; ++i) {
    if (texts[i]->empty()) continue;
    times[i] = schema::parse_time(*texts[i]);
    if (!times[i]) {
      fmt::print(stderr, "ringlog: \"{}\" is no time: nanoseconds since the epoch, or UTC as "
                         "2026-12-01T13:00:00Z\n", *texts[i]);
      return unreadable;
    }
  }
  if (dump_->parsed()) {
    return dump_log(path_, {{json_, utc_}, times[0], times[1], decode_}, stdout);
  }
  if (verify_->parsed()) return verify_log(path_, stdout);
  if (tail_->parsed()) {
    TailOptions options = tail_options_;
    options.since = times[0];
    options.decode = decode_;
    return tail_journal(path_, options, stdout);
  }
  if (readers_->parsed()) return list_journal_readers(path_, json_, stdout);
  return std::nullopt;
}

}  // namespace ringlog::programs
