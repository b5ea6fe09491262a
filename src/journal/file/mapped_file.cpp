#include "journal/file/mapped_file.hpp"

#include "journal/file/log_format.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <vector>

namespace ringlog::journal::detail {

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

std::expected<ringlog::detail::Mapping, Error> map_file(int fd, std::size_t size, bool writable,
                                                        const std::string& path) {
  const int protection = writable ? PROT_READ | PROT_WRITE : PROT_READ;
  void* data = ::mmap(nullptr, size, protection, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) {
    return std::unexpected(Error::from_os(errno, fmt::format("mmap {} ({} bytes)", path, size)));
  }
  if (writable) {
    // Pages this mapping faults in become page-cache folios of one page, not readahead's large
    // ones: writeback writes a dirty folio whole, so a flush of a few kilobytes written into a
    // large folio wrote all of it (journal_bench at 100 k events/s: ~300 KB a flush, against
    // ~10 KB with single pages). Only a hint: nothing breaks where it is refused.
    (void)::madvise(data, size, MADV_RANDOM);
  }
  return ringlog::detail::Mapping(static_cast<std::byte*>(data), size);
}

bool all_pages_cached(int fd, std::size_t size) {
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) return false;
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((size + page - 1) / page);
  const bool cached = ::mincore(data, size, resident.data()) == 0 &&
                      std::all_of(resident.begin(), resident.end(),
                                  [](unsigned char flags) { return (flags & 1) != 0; });
  ::munmap(data, size);
  return cached;
}

std::expected<FileDescriptor, Error> open_file(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) return std::unexpected(Error::from_os(errno, fmt::format("open {}", path)));
  return FileDescriptor(fd);
}

std::expected<std::size_t, Error> file_size(int fd, const std::string& path) {
  struct stat status {};
  if (::fstat(fd, &status) != 0) {
    return std::unexpected(Error::from_os(errno, fmt::format("stat {}", path)));
  }
  return static_cast<std::size_t>(status.st_size);
}

std::expected<ringlog::detail::Mapping, Error> map_existing_log(int fd, bool writable,
                                                   const std::string& path) {
  auto size = file_size(fd, path);
  if (!size) return std::unexpected(size.error());
  // Read the header with pread first: an empty or short file cannot be mapped in full.
  std::array<std::byte, FileHeader::SIZE> header{};
  const ssize_t got = ::pread(fd, header.data(), header.size(), 0);
  if (got < 0) {
    return std::unexpected(Error::from_os(errno, fmt::format("read header of {}", path)));
  }
  if (auto invalid = check_file_header(std::span(header.data(), static_cast<std::size_t>(got)),
                                       path)) {
    return std::unexpected(*invalid);
  }
  return map_file(fd, *size, writable, path);
}

}  // namespace ringlog::journal::detail
