// The on-disk rules shared by MmapWriter and MmapReader: header checks, record checksums, and
// the scan that finds where a file's intact records end.
#pragma once

#include <ringlog/storage.hpp>

#include <span>
#include <string>

namespace ringlog::storage::detail {

// The checksum a record carries in header.reserved: CRC-32C of the header's first 12 bytes
// (everything but the checksum itself) followed by the payload.
std::uint32_t record_checksum(const event::EventHeader&, std::span<const std::byte> payload);

// An Error when `file` does not start with a ringlog header this version reads.
std::optional<Error> check_file_header(std::span<const std::byte> file, const std::string& path);

// Walks the records after the header and stops at the first one that is not intact.
ScanResult scan_records(std::span<const std::byte> file) noexcept;

FileHeader new_file_header() noexcept;

}  // namespace ringlog::storage::detail
