// One writer per journal or log file, enforced by the kernel: an exclusive flock(2) held for as
// long as the writer lives. The lock belongs to the open file, so it ends with the process
// however that ends (a crash leaves no stale lock to clean up), and a second writer in the same
// process is refused like one in another. Readers never take it.
//
// A child forked while the writer is open holds the lock too, until it exits or execs: the file
// is opened close-on-exec.
#pragma once

#include "journal/file/mapped_file.hpp"

#include <expected>
#include <optional>
#include <string>

namespace ringlog::journal::detail {

class WriterLock {
 public:
  // Locks `path` for writing, creating the file if `create`. The Error says who holds it:
  // "<what> is being written by process <pid>", with the pid from /proc/locks where it shows.
  static std::expected<WriterLock, Error> acquire(const std::string& path, bool create,
                                                  const std::string& what);
  // The Error acquire() would give now because another process holds `path`, found without
  // taking the lock (which could turn away a writer starting at that moment); nothing when
  // none does.
  static std::optional<Error> held_elsewhere(const std::string& path, const std::string& what);

 private:
  explicit WriterLock(FileDescriptor file) noexcept : file_(std::move(file)) {}
  FileDescriptor file_;
};

// The process holding an flock(2) on the open file `fd` refers to, from /proc/locks; 0 when
// none shows.
int flock_holder(int fd);

}  // namespace ringlog::journal::detail
