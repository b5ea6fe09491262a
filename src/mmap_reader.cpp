#include <ringlog/storage.hpp>

#include "log_format.hpp"
#include "mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>

#include <cstring>

namespace ringlog::storage {

std::expected<MmapReader, Error> MmapReader::open(const std::filesystem::path& path) {
  const std::string name = path.string();
  auto file = detail::open_file(name, O_RDONLY);
  if (!file) return std::unexpected(file.error());
  auto mapping = detail::map_existing_log(file->get(), false, name);
  if (!mapping) return std::unexpected(mapping.error());
  // The descriptor closes on return; the mapping stays valid without it.
  const ScanResult scan = detail::scan_records({mapping->data(), mapping->size()});
  const std::size_t size = mapping->size();
  return MmapReader(mapping->release(), size, scan);
}

MmapReader::MmapReader(MmapReader&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      scan_(other.scan_) {}

MmapReader& MmapReader::operator=(MmapReader&& other) noexcept {
  std::swap(data_, other.data_);
  std::swap(size_, other.size_);
  std::swap(scan_, other.scan_);
  return *this;
}

MmapReader::~MmapReader() {
  if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
}

FileHeader MmapReader::header() const noexcept {
  FileHeader header;
  std::memcpy(&header, data_, sizeof header);
  return header;
}

}  // namespace ringlog::storage
