#include <ringlog/log_file.hpp>

#include "journal/file/log_format.hpp"
#include "journal/file/mapped_file.hpp"

#include <fcntl.h>

#include <cstring>

namespace ringlog::journal {

std::expected<MmapReader, Error> MmapReader::open(const std::filesystem::path& path) {
  const std::string name = path.string();
  auto file = detail::open_file(name, O_RDONLY);
  if (!file) return std::unexpected(file.error());
  // The descriptor closes on return; the mapping stays valid without it.
  auto mapping = detail::map_existing_log(file->get(), false, name);
  if (!mapping) return std::unexpected(mapping.error());
  const ScanResult scan = detail::scan_records({mapping->data(), mapping->size()});
  return MmapReader(std::move(*mapping), scan);
}

FileHeader MmapReader::header() const noexcept {
  FileHeader header;
  std::memcpy(&header, mapping_.data(), sizeof header);
  return header;
}

}  // namespace ringlog::journal
