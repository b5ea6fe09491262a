// CRC-32C (Castagnoli), the checksum of iSCSI, ext4 metadata and Kafka record batches: the
// journal's records, and the blocks a shipper sends (whose readers may be other programs).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringlog::detail {

// Chainable like zlib's crc32: crc32c(crc32c(0, a), b) == crc32c(0, a followed by b).
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size) noexcept;

}  // namespace ringlog::detail
