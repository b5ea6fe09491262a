// Named readers' cursors: each one's position in a small checksummed file of the journal's
// directory, readers/<name>.cursor, replaced whole (a new file, fdatasync, rename, fsync of the
// directory), so that after a crash the file holds the last committed position or the one
// before it, never a mixture.
#pragma once

#include "journal/file/log_format.hpp"
#include "journal/journal_directory.hpp"

#include <ringlog/journal.hpp>

#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringlog::journal::detail {

struct Cursor {
  std::uint64_t position = 0;  // the next sequence the reader hands out
  JournalId journal_id{};      // of the journal it was committed in; zero when it had none yet
};

// Why `name` cannot name a reader (it becomes a file name: letters, digits, '.', '_', '-', at
// most 64, not starting with '.'); nothing when it can.
std::optional<std::string> invalid_reader_name(std::string_view name);

std::filesystem::path cursor_path(const std::filesystem::path& journal, std::string_view name);

// The cursor at `path`; nothing when the reader never committed. A file cut short, failing its
// checksum or of another format is an Error naming it.
std::expected<std::optional<Cursor>, Error> read_cursor(const std::filesystem::path& path);

// Replaces the cursor at `path` durably; the Error names the file and the step that failed.
std::expected<void, Error> write_cursor(const std::filesystem::path& path, const Cursor&);

// Every named reader's name and cursor under `journal`, by name.
struct NamedCursor {
  std::string name;
  std::filesystem::path path;
  std::expected<Cursor, Error> cursor;  // an Error for a damaged file, which still is listed
};
std::expected<std::vector<NamedCursor>, Error> list_cursors(const std::filesystem::path& journal);

}  // namespace ringlog::journal::detail
