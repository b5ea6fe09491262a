#include "journal/file/mapped_file.hpp"

#include "journal/file/log_format.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>

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
  return ringlog::detail::Mapping(static_cast<std::byte*>(data), size);
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
