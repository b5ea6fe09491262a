#include "journal/journal_directory.hpp"

#include <dirent.h>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <memory>

namespace ringlog::journal::detail {

namespace {

constexpr std::size_t sequence_digits = 20;  // UINT64_MAX has 20 digits
constexpr std::string_view segment_suffix = ".evtl";

std::optional<std::uint64_t> parse_segment_name(std::string_view name) {
  if (name.size() != sequence_digits + segment_suffix.size() || !name.ends_with(segment_suffix)) {
    return std::nullopt;
  }
  std::uint64_t sequence = 0;
  const char* last = name.data() + sequence_digits;
  const auto [end, error] = std::from_chars(name.data(), last, sequence);
  if (error != std::errc() || end != last) return std::nullopt;
  return sequence;
}

bool is_journal_byproduct(std::string_view name) {
  return name.ends_with(dropped_suffix) || name == lock_file_name ||
         name == readers_directory_name ||  // named readers' cursors (reader_cursor.hpp)
         name == schema_file_name || name == schema_replacement_name ||
         name.ends_with(".tidx") || name.ends_with(".tidx.new") ||  // time indexes
         name == "lost+found";  // the root of a file system
}

}  // namespace

std::string segment_file_name(std::uint64_t first_sequence) {
  return fmt::format("{:0{}}{}", first_sequence, sequence_digits, segment_suffix);
}

std::expected<JournalDirectory, Error> list_journal(const std::filesystem::path& directory) {
  JournalDirectory listing{directory, {}, false, false};
  const auto failed = [&](int error) {
    return std::unexpected(Error{std::error_code(error, std::system_category()),
                                 fmt::format("list journal {}", directory.string())});
  };
  // readdir, not std::filesystem's iterator, which builds a path and a string an entry: half of
  // a seek's time in a journal of thousands of segments.
  const std::unique_ptr<DIR, int (*)(DIR*)> listed(::opendir(directory.c_str()), ::closedir);
  if (!listed) return failed(errno);
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(listed.get());
    if (entry == nullptr) break;
    const std::string_view name = entry->d_name;
    if (const auto sequence = parse_segment_name(name)) {
      listing.segments.push_back({*sequence, directory / name});
    } else if (name == prepared_segment_name) {
      listing.has_prepared = true;
    } else if (name == spare_segment_name) {
      listing.has_spare = true;
    } else if (name != "." && name != ".." && !is_journal_byproduct(name)) {
      return std::unexpected(Error{make_error_code(LogErrc::not_a_journal),
                                   fmt::format("open journal {}: it holds \"{}\", which no ringlog "
                                               "journal writes; refusing to touch it",
                                               directory.string(), name)});
    }
  }
  if (errno != 0) return failed(errno);
  std::sort(listing.segments.begin(), listing.segments.end(),
            [](const SegmentEntry& a, const SegmentEntry& b) {
              return a.first_sequence < b.first_sequence;
            });
  return listing;
}

}  // namespace ringlog::journal::detail
