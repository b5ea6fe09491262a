#include "journal/reader_cursor.hpp"

#include "journal/file/log_file.hpp"
#include "journal/file/mapped_file.hpp"

#include <ringlog/detail/crc32c.hpp>

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace ringlog::journal::detail {

namespace {

constexpr std::string_view cursor_suffix = ".cursor";
constexpr std::array<char, 8> cursor_magic = {'R', 'L', 'C', 'U', 'R', 'S', 'O', 'R'};

// The file: magic, format version, CRC-32C of everything after it, position, journal id.
struct CursorRecord {
  std::array<char, 8> magic;
  std::uint32_t version;
  std::uint32_t crc;
  std::uint64_t position;
  JournalId journal_id;
};
static_assert(sizeof(CursorRecord) == 40);
constexpr std::size_t checked_from = offsetof(CursorRecord, position);

std::uint32_t checksum(const CursorRecord& record) {
  const auto* bytes = reinterpret_cast<const std::byte*>(&record);
  return ringlog::detail::crc32c(0, bytes + checked_from, sizeof record - checked_from);
}

Error damaged(const std::filesystem::path& path, std::string_view why) {
  return Error{make_error_code(LogErrc::reader_cursor_damaged),
               fmt::format("reader cursor {}: {}", path.string(), why)};
}

// Writes all of `size` bytes or says why not.
bool write_all(int fd, const void* data, std::size_t size) {
  const auto* at = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t written = ::write(fd, at, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    at += written;
    size -= static_cast<std::size_t>(written);
  }
  return true;
}

}  // namespace

std::optional<std::string> invalid_reader_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return std::string("a name of 1 to 64 characters");
  if (name.front() == '.') return std::string("a name not starting with '.'");
  const bool allowed = std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-';
  });
  if (!allowed) return std::string("letters, digits, '.', '_' and '-' only");
  return std::nullopt;
}

std::filesystem::path cursor_path(const std::filesystem::path& journal, std::string_view name) {
  return journal / readers_directory_name / (std::string(name) + std::string(cursor_suffix));
}

std::expected<std::optional<Cursor>, Error> read_cursor(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return std::optional<Cursor>{};
  if (fd < 0) return std::unexpected(Error::from_os(errno, "open " + path.string()));
  const FileDescriptor file(fd);
  CursorRecord record{};
  const ssize_t got = ::read(file.get(), &record, sizeof record);
  if (got < 0) return std::unexpected(Error::from_os(errno, "read " + path.string()));
  if (static_cast<std::size_t>(got) != sizeof record) {
    return std::unexpected(damaged(path, fmt::format("{} bytes, not {}", got, sizeof record)));
  }
  if (record.magic != cursor_magic || record.version != 1) {
    return std::unexpected(damaged(path, "not a ringlog reader cursor (version 1)"));
  }
  if (record.crc != checksum(record)) return std::unexpected(damaged(path, "checksum mismatch"));
  return Cursor{record.position, record.journal_id};
}

std::expected<void, Error> write_cursor(const std::filesystem::path& path, const Cursor& cursor) {
  CursorRecord record{cursor_magic, 1, 0, cursor.position, cursor.journal_id};
  record.crc = checksum(record);
  const std::filesystem::path directory = path.parent_path();
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) return std::unexpected(Error{error, "create " + directory.string()});
  std::filesystem::path fresh = path;
  fresh += ".new";
  const int fd = ::open(fresh.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return std::unexpected(Error::from_os(errno, "create " + fresh.string()));
  {
    const FileDescriptor file(fd);
    if (!write_all(file.get(), &record, sizeof record)) {
      return std::unexpected(Error::from_os(errno ? errno : EIO, "write " + fresh.string()));
    }
    if (::fdatasync(file.get()) != 0) {
      return std::unexpected(Error::from_os(errno, "fdatasync " + fresh.string()));
    }
  }
  if (::rename(fresh.c_str(), path.c_str()) != 0) {
    return std::unexpected(Error::from_os(errno, fmt::format("rename {} to {}", fresh.string(),
                                                             path.string())));
  }
  return fsync_directory(directory.string());
}

std::expected<std::vector<NamedCursor>, Error> list_cursors(const std::filesystem::path& journal) {
  std::vector<NamedCursor> cursors;
  const std::filesystem::path directory = journal / readers_directory_name;
  std::error_code error;
  std::filesystem::directory_iterator entries(directory, error);
  if (error == std::errc::no_such_file_or_directory) return cursors;
  for (; !error && entries != std::filesystem::directory_iterator(); entries.increment(error)) {
    const std::string file = entries->path().filename().string();
    if (!file.ends_with(cursor_suffix)) continue;  // a replacement being written
    std::string name = file.substr(0, file.size() - cursor_suffix.size());
    auto cursor = read_cursor(entries->path());
    std::expected<Cursor, Error> found =
        !cursor ? std::expected<Cursor, Error>(std::unexpected(cursor.error()))
        : *cursor ? std::expected<Cursor, Error>(**cursor)
                  : std::expected<Cursor, Error>(std::unexpected(damaged(entries->path(), "gone")));
    cursors.push_back({std::move(name), entries->path(), std::move(found)});
  }
  if (error) return std::unexpected(Error{error, "list " + directory.string()});
  std::sort(cursors.begin(), cursors.end(),
            [](const NamedCursor& a, const NamedCursor& b) { return a.name < b.name; });
  return cursors;
}

}  // namespace ringlog::journal::detail
