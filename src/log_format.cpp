#include "log_format.hpp"

#include "crc32c.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <ctime>

namespace ringlog::storage::detail {

namespace {

constexpr std::size_t checksummed_header_bytes = offsetof(event::EventHeader, reserved);

bool is_unwritten(std::span<const std::byte> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

}  // namespace

std::uint32_t record_checksum(const event::EventHeader& header,
                              std::span<const std::byte> payload) {
  const std::uint32_t over_header = ringlog::detail::crc32c(0, &header, checksummed_header_bytes);
  return ringlog::detail::crc32c(over_header, payload.data(), payload.size());
}

std::optional<Error> check_file_header(std::span<const std::byte> file, const std::string& path) {
  if (file.size() < FileHeader::SIZE) {
    return Error{make_error_code(LogErrc::truncated),
                 fmt::format("open {}: {} bytes, shorter than the {}-byte file header", path,
                             file.size(), FileHeader::SIZE)};
  }
  FileHeader header;
  std::memcpy(&header, file.data(), sizeof header);
  if (std::memcmp(header.magic, file_magic, sizeof file_magic) != 0) {
    return Error{make_error_code(LogErrc::not_a_log),
                 fmt::format("open {}: no \"EVTL\" magic at offset 0", path)};
  }
  if (header.version != file_version) {
    return Error{make_error_code(LogErrc::unsupported_version),
                 fmt::format("open {}: format version {}, this build reads version {}", path,
                             header.version, file_version)};
  }
  return std::nullopt;
}

ScanResult scan_records(std::span<const std::byte> file) noexcept {
  ScanResult result;
  std::size_t at = FileHeader::SIZE;
  while (file.size() - at >= event::EventHeader::SIZE) {
    const event::EventHeader header = ringlog::detail::load_header(file.data() + at);
    const std::size_t size = ringlog::detail::record_size(header.payload_len);
    const bool fits = size <= file.size() - at;
    const auto payload = file.subspan(at + event::EventHeader::SIZE,
                                      fits ? header.payload_len : 0);
    if (!fits || header.reserved != record_checksum(header, payload)) {
      result.damaged = !is_unwritten(file.subspan(at, event::EventHeader::SIZE));
      break;
    }
    if (!ringlog::detail::is_framing(header)) ++result.event_count;
    at += size;
  }
  result.end_offset = at;
  return result;
}

FileHeader new_file_header() noexcept {
  FileHeader header{};
  std::memcpy(header.magic, file_magic, sizeof file_magic);
  header.version = file_version;
  header.created_at = static_cast<std::int64_t>(std::time(nullptr));
  header.write_offset = FileHeader::SIZE;
  return header;
}

}  // namespace ringlog::storage::detail
