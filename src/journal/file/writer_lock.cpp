#include "journal/file/writer_lock.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace ringlog::journal::detail {

int flock_holder(int fd) {
  struct stat status {};
  if (::fstat(fd, &status) != 0) return 0;
  // Lines like "3: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; a waiting lock has "->" after
  // the number.
  std::ifstream locks("/proc/locks");
  for (std::string line; std::getline(locks, line);) {
    std::istringstream fields(line);
    std::string number, kind, mode, access;
    fields >> number >> kind;
    if (kind == "->") fields >> kind;
    int pid = 0;
    std::string file;
    fields >> mode >> access >> pid >> file;
    unsigned major = 0, minor = 0;
    unsigned long long inode = 0;
    if (kind != "FLOCK" ||
        std::sscanf(file.c_str(), "%x:%x:%llu", &major, &minor, &inode) != 3) {
      continue;
    }
    if (inode == status.st_ino && major == ::major(status.st_dev) &&
        minor == ::minor(status.st_dev)) {
      return pid;
    }
  }
  return 0;
}

namespace {

Error writer_active(int holder, const std::string& path, const std::string& what) {
  return Error{
      make_error_code(LogErrc::writer_active),
      fmt::format("{} is being written by {} (it holds the lock on {}); one writer at a time",
                  what, holder > 0 ? fmt::format("process {}", holder) : "another process",
                  path)};
}

}  // namespace

std::expected<WriterLock, Error> WriterLock::acquire(const std::string& path, bool create,
                                                     const std::string& what) {
  auto file = open_file(path, create ? O_RDWR | O_CREAT : O_RDONLY);
  if (!file) return std::unexpected(file.error());
  if (::flock(file->get(), LOCK_EX | LOCK_NB) == 0) return WriterLock(std::move(*file));
  if (errno != EWOULDBLOCK) {
    return std::unexpected(Error::from_os(errno, fmt::format("lock {} for writing", path)));
  }
  return std::unexpected(writer_active(flock_holder(file->get()), path, what));
}

std::optional<Error> WriterLock::held_elsewhere(const std::string& path, const std::string& what) {
  auto file = open_file(path, O_RDONLY);
  if (!file) return std::nullopt;  // no lock file: no writer ever, or none since it was made
  const int holder = flock_holder(file->get());
  if (holder == 0) return std::nullopt;
  return writer_active(holder, path, what);
}

}  // namespace ringlog::journal::detail
