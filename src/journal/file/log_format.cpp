#include "journal/file/log_format.hpp"

#include <ringlog/detail/crc32c.hpp>

#include <fmt/format.h>

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

namespace ringlog::journal::detail {

namespace {

constexpr std::size_t checksummed_header_bytes = offsetof(event::EventHeader, reserved);
constexpr std::size_t segment_info_offset = offsetof(FileHeader, reserved);

// The 8 payload bytes of a batch's framing record.
struct BatchSummary {
  std::uint32_t records_checksum;
  std::uint32_t event_count;
};
static_assert(sizeof(BatchSummary) + event::EventHeader::SIZE == batch_header_bytes);

bool is_batch(const event::EventHeader& header) noexcept {
  return ringlog::detail::is_framing(header) &&
         header.event_type == static_cast<std::uint8_t>(ringlog::detail::FramingKind::batch);
}

// The events in `records` when it is exactly a run of whole event records.
std::optional<std::uint32_t> count_records(std::span<const std::byte> records) noexcept {
  std::uint32_t events = 0;
  std::size_t at = 0;
  while (at < records.size()) {
    if (records.size() - at < event::EventHeader::SIZE) return std::nullopt;
    const event::EventHeader header = ringlog::detail::load_header(records.data() + at);
    const std::size_t size = ringlog::detail::record_size(header.payload_len);
    if (ringlog::detail::is_framing(header) || size > records.size() - at) return std::nullopt;
    at += size;
    ++events;
  }
  return events;
}

}  // namespace

JournalId new_journal_id() {
  JournalId id{};
  // getrandom(2) of 16 bytes from an initialized pool returns them whole; it blocks only early
  // in boot, until the pool is ready.
  while (::getrandom(id.data(), id.size(), 0) != static_cast<ssize_t>(id.size())) {
    if (errno != EINTR) std::abort();  // never seen on Linux 3.17+: no id is worse than none
  }
  return id;
}

std::string to_string(const JournalId& id) {
  std::string text;
  for (const std::uint8_t byte : id) text += fmt::format("{:02x}", byte);
  return text;
}

SegmentInfo segment_info(const std::byte* file) noexcept {
  SegmentInfo info;
  std::memcpy(&info, file + segment_info_offset, sizeof info);
  return info;
}

void store_segment_info(std::byte* file, const SegmentInfo& info) noexcept {
  std::memcpy(file + segment_info_offset, &info, sizeof info);
}

std::uint32_t segment_seed(std::uint64_t first_sequence) noexcept {
  // Distinct first sequences give distinct seeds: CRC-32C is a bijection on 32-bit inputs, and
  // segments of one journal lie far less than 2^32 events apart in practice.
  return ringlog::detail::crc32c(0x52494E47, &first_sequence, sizeof first_sequence);
}

ChecksumRule checksum_rule(const std::byte* file) noexcept {
  std::uint32_t version;
  std::memcpy(&version, file + offsetof(FileHeader, version), sizeof version);
  return {segment_info(file).record_seed, version >= file_version};
}

std::uint32_t record_checksum(const event::EventHeader& header,
                              std::span<const std::byte> payload, ChecksumRule rule) {
  const std::uint32_t over_header =
      ringlog::detail::crc32c(rule.seed, &header, checksummed_header_bytes);
  const std::uint32_t crc = ringlog::detail::crc32c(over_header, payload.data(), payload.size());
  return crc == 0 && rule.never_zero ? ~std::uint32_t{0} : crc;
}

event::EventHeader batch_header(std::span<const std::byte> records, std::uint32_t event_count,
                                ChecksumRule rule, std::byte* batch_payload) noexcept {
  const BatchSummary summary{ringlog::detail::crc32c(rule.seed, records.data(), records.size()),
                             event_count};
  std::memcpy(batch_payload, &summary, sizeof summary);
  event::EventHeader header(records.size(),
                            static_cast<std::uint8_t>(ringlog::detail::FramingKind::batch),
                            sizeof summary);
  header.flags = ringlog::detail::framing_flag;
  header.reserved = record_checksum(header, {batch_payload, sizeof summary}, rule);
  return header;
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
  if (header.version < oldest_file_version || header.version > file_version) {
    return Error{make_error_code(LogErrc::unsupported_version),
                 fmt::format("open {}: format version {}, this build reads versions {} to {}",
                             path, header.version, oldest_file_version, file_version)};
  }
  return std::nullopt;
}

std::optional<Unit> check_unit(std::span<const std::byte> file, std::size_t at,
                               ChecksumRule rule) noexcept {
  if (at > file.size() || file.size() - at < event::EventHeader::SIZE) return std::nullopt;
  const event::EventHeader header = load_published_header(file.data() + at);
  const bool zeroed = header.timestamp == 0 && ringlog::detail::second_half(header) == 0;
  if (zeroed && !rule.never_zero) return std::nullopt;  // the rule of versions 1 and 2
  const std::size_t size = ringlog::detail::record_size(header.payload_len);
  if (size > file.size() - at) return std::nullopt;
  const auto payload = file.subspan(at + event::EventHeader::SIZE, header.payload_len);
  if (header.reserved != record_checksum(header, payload, rule)) return std::nullopt;
  if (!ringlog::detail::is_framing(header)) return Unit{size, 1};
  if (!is_batch(header)) return Unit{size, 0};  // padding, or framing of a later version

  BatchSummary summary;
  if (payload.size() != sizeof summary) return std::nullopt;
  std::memcpy(&summary, payload.data(), sizeof summary);
  const std::uint64_t records_bytes = header.timestamp;
  if (records_bytes > file.size() - at - size) return std::nullopt;
  const auto records = file.subspan(at + size, records_bytes);
  if (ringlog::detail::crc32c(rule.seed, records.data(), records.size()) !=
          summary.records_checksum ||
      count_records(records) != summary.event_count) {
    return std::nullopt;
  }
  return Unit{size + records.size(), summary.event_count};
}

ScanResult scan_records(std::span<const std::byte> file, std::size_t from,
                        const UnitVisitor& on_unit) noexcept {
  ScanResult result;
  if (file.size() < FileHeader::SIZE) return result;
  const ChecksumRule rule = checksum_rule(file.data());
  std::size_t at = std::max(from, FileHeader::SIZE);
  while (const std::optional<Unit> unit = check_unit(file, at, rule)) {
    if (on_unit) on_unit(at, *unit);
    result.event_count += unit->events;
    at += unit->size;
  }
  if (at < file.size()) {
    const auto rest = file.subspan(at, std::min(event::EventHeader::SIZE, file.size() - at));
    result.damaged = !std::all_of(rest.begin(), rest.end(),
                                  [](std::byte b) { return b == std::byte{0}; });
  }
  result.end_offset = std::min(at, file.size());
  return result;
}

std::optional<Error> checkpoint_beyond_records(const FileHeader& header, const ScanResult& scan,
                                               const std::string& name) {
  if (header.write_offset < FileHeader::SIZE || header.write_offset > scan.end_offset) {
    return Error{make_error_code(LogErrc::damaged_durable_data),
                 fmt::format("open {}: intact records end at offset {}, but the checkpoint says "
                             "offset {} is durable; refusing to append", name, scan.end_offset,
                             header.write_offset)};
  }
  if (header.event_count > scan.event_count) {
    return Error{make_error_code(LogErrc::damaged_durable_data),
                 fmt::format("open {}: {} intact events, but the checkpoint says {} are "
                             "durable; refusing to append", name, scan.event_count,
                             header.event_count)};
  }
  return std::nullopt;
}

FileHeader new_file_header() noexcept {
  FileHeader header{};
  std::memcpy(header.magic, file_magic, sizeof file_magic);
  header.version = file_version;
  header.created_at = static_cast<std::int64_t>(std::time(nullptr));
  header.write_offset = FileHeader::SIZE;
  return header;
}

}  // namespace ringlog::journal::detail
