// An owning file descriptor and file mapping helpers.
#pragma once

#include <ringlog/detail/mapping.hpp>
#include <ringlog/log_file.hpp>

#include <cstddef>
#include <expected>
#include <string>
#include <utility>

namespace ringlog::journal::detail {

class FileDescriptor {
 public:
  FileDescriptor() noexcept = default;
  explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~FileDescriptor();
  int get() const noexcept { return fd_; }

 private:
  int fd_ = -1;
};

// The whole file, shared with the page cache: writes reach the file.
std::expected<ringlog::detail::Mapping, Error> map_file(int fd, std::size_t size, bool writable,
                                                        const std::string& path);

// Whether every page of the file's first `size` bytes is in the page cache (mincore(2)).
bool all_pages_cached(int fd, std::size_t size);

std::expected<FileDescriptor, Error> open_file(const std::string& path, int flags);
std::expected<std::size_t, Error> file_size(int fd, const std::string& path);

// Maps an existing log after checking its header; nothing in a file that fails is touched.
std::expected<ringlog::detail::Mapping, Error> map_existing_log(int fd, bool writable,
                                                                const std::string& path);

}  // namespace ringlog::journal::detail
