// Owning handles for a file descriptor and a file mapping, and the OS-error helper the storage
// code reports through.
#pragma once

#include <ringlog/storage.hpp>

#include <cstddef>
#include <expected>
#include <string>
#include <utility>

namespace ringlog::storage::detail {

Error os_error(int error_number, std::string context);

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

class FileMapping {
 public:
  FileMapping() noexcept = default;
  FileMapping(FileMapping&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  FileMapping& operator=(FileMapping&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    return *this;
  }
  ~FileMapping();

  // The whole file, shared with the page cache: writes reach the file.
  static std::expected<FileMapping, Error> map(int fd, std::size_t size, bool writable,
                                               const std::string& path);
  std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  // Hands the pages to the caller, who unmaps them.
  std::byte* release() noexcept {
    size_ = 0;
    return std::exchange(data_, nullptr);
  }

 private:
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

std::expected<FileDescriptor, Error> open_file(const std::string& path, int flags);
std::expected<std::size_t, Error> file_size(int fd, const std::string& path);

// Maps an existing log after checking its header; nothing in a file that fails is touched.
std::expected<FileMapping, Error> map_existing_log(int fd, bool writable, const std::string& path);

}  // namespace ringlog::storage::detail
