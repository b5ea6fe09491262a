// Helpers shared by the test files: a scratch directory, deterministic payloads, whole-file
// reads and writes, a bounded wait for background work.
#pragma once

#include <ringlog/event.hpp>

#include <sys/mount.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace ringlog::test {

// An AddressSanitizer or ThreadSanitizer build: their shadow memory takes page faults of its
// own, and they make mlock a no-op.
inline constexpr bool sanitized =
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    true;
#else
    false;
#endif

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ringlog-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Byte i of event `sequence`'s payload: every byte differs between neighbouring events.
inline std::byte payload_byte(std::uint64_t sequence, std::size_t i) {
  return static_cast<std::byte>((sequence * 131 + i * 7 + 1) & 0xFF);
}

inline std::vector<std::byte> make_payload(std::uint64_t sequence, std::size_t size) {
  std::vector<std::byte> payload(size);
  for (std::size_t i = 0; i < size; ++i) payload[i] = payload_byte(sequence, i);
  return payload;
}

inline bool payload_matches(std::uint64_t sequence, std::span<const std::byte> payload) {
  for (std::size_t i = 0; i < payload.size(); ++i) {
    if (payload[i] != payload_byte(sequence, i)) return false;
  }
  return true;
}

inline event::EventHeader header_for(std::uint64_t sequence, std::size_t payload_size,
                                     std::uint8_t event_type = 1) {
  return event::EventHeader(sequence, event_type, static_cast<std::uint16_t>(payload_size));
}

// Page faults the calling thread has taken so far, minor and major: a fault on a file page not
// in the cache counts as major even where nothing is read (an unwritten extent), as every fault
// of a mapping read at random does.
inline long thread_page_faults() {
  rusage usage{};
  ::getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_minflt + usage.ru_majflt;
}

inline std::vector<char> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A size-limited tmpfs mounted for one test (root only: mounted() says), unmounted after it:
// a disk that fills up.
class SmallFileSystem {
 public:
  explicit SmallFileSystem(std::size_t bytes) {
    const std::string options = "size=" + std::to_string(bytes);
    if (::mount("ringlog-test", dir_.path().c_str(), "tmpfs", 0, options.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~SmallFileSystem() {
    if (mounted_) ::umount(dir_.path().c_str());
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  std::filesystem::path path() const { return dir_ / "journal"; }

 private:
  TempDir dir_;
  bool mounted_ = false;
  std::string error_;
};

// A journal directory's segment files, oldest first.
inline std::vector<std::filesystem::path> segment_paths(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".evtl") paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

inline void write_file(const std::filesystem::path& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Whether `done()` came true within `limit`, for work another thread does in the background
// with nothing to wait on: asked again after each sched_yield, never slept on.
template <typename Condition>
bool wait_until(std::chrono::steady_clock::duration limit, Condition done) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// The suite runs each long round (kill rounds, bulk volumes, cluster failovers) at a size that
// still fails on what the round looks for; the soak tier runs it at full size. Each such test is
// registered twice (tests/CMakeLists.txt): as itself, and as soak.<name> with
// RINGLOG_TEST_TIER=soak and the label soak, which the suite leaves out and scripts/soak runs.
inline bool soak_tier() {
  const char* tier = std::getenv("RINGLOG_TEST_TIER");
  return tier != nullptr && std::string_view(tier) == "soak";
}
template <typename Count>
Count suite_or_soak(Count in_suite, Count in_soak) {
  return soak_tier() ? in_soak : in_suite;
}

}  // namespace ringlog::test
