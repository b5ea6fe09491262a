// Helpers shared by the journal's test files: small segments, events whose payloads follow from
// their sequence numbers, appending them, replaying and checking them, and the ring-framed runs
// a ring's consumer hands over.
#pragma once

#include <ringlog/journal.hpp>
#include <ringlog/ring.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace ringlog::test {

inline constexpr std::size_t segment_bytes = journal::JournalOptions::min_segment_bytes;

inline journal::JournalOptions small_segments(journal::FlushPolicy flush = {}) {
  journal::JournalOptions options;
  options.segment_bytes = segment_bytes;
  options.flush = flush;
  return options;
}

// Payload sizes vary with the sequence number, so that records of every alignment occur.
inline std::size_t payload_size_of(std::uint64_t sequence) { return 8 + sequence % 113; }

inline void append_events(journal::Journal& journal, std::uint64_t count) {
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t seq = journal.next_sequence();
    const auto payload = test::make_payload(seq, payload_size_of(seq));
    ASSERT_TRUE(journal.append(test::header_for(seq, payload.size()), payload)) << "event " << seq;
  }
}

// Replays the journal and checks that it holds exactly events [from, end), each byte-exact.
inline void expect_events(const std::filesystem::path& dir, std::uint64_t from,
                          std::uint64_t end) {
  auto reader = journal::JournalReader::open(dir);
  ASSERT_TRUE(reader.has_value()) << reader.error().message();
  std::uint64_t expected = from;
  reader->replay_from(from, [&](const journal::JournalEvent& event) {
    ASSERT_EQ(event.sequence, expected);
    ASSERT_EQ(event.view.header.timestamp, expected);
    ASSERT_EQ(event.view.payload.size(), payload_size_of(expected));
    ASSERT_TRUE(test::payload_matches(expected, event.view.payload)) << "event " << expected;
    ++expected;
  });
  EXPECT_EQ(expected, end);
}

inline std::vector<std::string> file_names(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The bytes of `path` that lie in unwritten extents (allocated, never written: each flush that
// writes there converts them, an ext4 journal commit); nothing where the file system does not
// say (no FIEMAP, or it flags no extent as unwritten, as tmpfs).
inline std::optional<std::uint64_t> unwritten_bytes(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  constexpr unsigned slots = 256;
  std::vector<std::byte> buffer(sizeof(fiemap) + slots * sizeof(fiemap_extent));
  std::uint64_t unwritten = 0;
  std::uint64_t from = 0;
  bool last = false;
  while (!last) {
    auto* map = reinterpret_cast<fiemap*>(buffer.data());
    *map = fiemap{};
    map->fm_start = from;
    map->fm_length = FIEMAP_MAX_OFFSET;
    map->fm_flags = 0;  // as on disk: dirty pages not yet written leave their extent unwritten
    map->fm_extent_count = slots;
    if (::ioctl(fd, FS_IOC_FIEMAP, map) != 0) {
      ::close(fd);
      return std::nullopt;
    }
    if (map->fm_mapped_extents == 0) break;
    for (unsigned i = 0; i < map->fm_mapped_extents; ++i) {
      const fiemap_extent& extent = map->fm_extents[i];
      if (extent.fe_flags & FIEMAP_EXTENT_UNWRITTEN) unwritten += extent.fe_length;
      from = extent.fe_logical + extent.fe_length;
      last = last || (extent.fe_flags & FIEMAP_EXTENT_LAST) != 0;
    }
  }
  ::close(fd);
  return unwritten;
}

// Whether the file system `dir` lies on marks extents unwritten (ext4, XFS do).
inline bool tracks_unwritten_extents(const std::filesystem::path& dir) {
  const std::filesystem::path probe = dir / "unwritten-probe";
  const int fd = ::open(probe.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  const bool allocated = ::posix_fallocate(fd, 0, 1 << 16) == 0;
  ::close(fd);
  const auto unwritten = allocated ? unwritten_bytes(probe) : std::nullopt;
  std::filesystem::remove(probe);
  return unwritten && *unwritten > 0;
}

// Ring-framed records of events [first, first + count), as a ring's consumer would see them.
inline std::vector<std::byte> ring_records(std::uint64_t first, std::uint64_t count) {
  std::vector<std::byte> records;
  for (std::uint64_t seq = first; seq < first + count; ++seq) {
    const std::size_t size = payload_size_of(seq);
    const std::size_t at = records.size();
    records.resize(at + ringlog::detail::record_size(size));
    ringlog::detail::store_header(records.data() + at, test::header_for(seq, size));
    const auto payload = test::make_payload(seq, size);
    std::memcpy(records.data() + at + event::EventHeader::SIZE, payload.data(), size);
  }
  return records;
}

}  // namespace ringlog::test
