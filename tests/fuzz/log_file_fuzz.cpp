// libFuzzer target: arbitrary bytes as a log file. Opening and replaying must never crash, and
// the recovery rules must hold: what a reader hands out is intact and in the file, and a writer
// that reopens the file keeps exactly those events.
//
// Reads past a mapping land in whatever is mapped next to it, unseen; so the record scan also
// runs over an exact-size heap copy, where AddressSanitizer catches any overread.
//
// The first input byte chooses the shape: odd puts a valid header in front of the rest, so that
// the fuzzer spends its time on records rather than on finding the magic.
#include <ringlog/log_file.hpp>

#include "journal/file/log_format.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using ringlog::event::EventView;

struct Replayed {
  std::uint64_t count = 0;
  std::vector<std::byte> bytes;  // every header and payload handed out, in order
};

Replayed replay(const std::string& path) {
  Replayed result;
  auto reader = ringlog::journal::MmapReader::open(path);
  if (!reader) return result;
  reader->replay([&](const EventView& view) {
    if (view.payload.size() != view.header.payload_len) std::abort();
    const auto* header = reinterpret_cast<const std::byte*>(&view.header);
    result.bytes.insert(result.bytes.end(), header, header + sizeof view.header);
    result.bytes.insert(result.bytes.end(), view.payload.begin(), view.payload.end());
    ++result.count;
  });
  if (result.count != reader->event_count()) std::abort();
  return result;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::vector<std::byte> file;
  if ((data[0] & 1) != 0) {
    ringlog::journal::FileHeader header{};
    std::memcpy(header.magic, ringlog::journal::file_magic, 4);
    header.version = ringlog::journal::file_version;
    header.write_offset = ringlog::journal::FileHeader::SIZE;
    const auto* bytes = reinterpret_cast<const std::byte*>(&header);
    file.assign(bytes, bytes + sizeof header);
  }
  const auto* input = reinterpret_cast<const std::byte*>(data + 1);
  file.insert(file.end(), input, input + size - 1);

  // A memory-backed file: no disk traffic, and it exercises the hole-punching fallback.
  const int fd = ::memfd_create("ringlog-fuzz", 0);
  if (fd < 0) std::abort();
  if (!file.empty() && ::write(fd, file.data(), file.size()) != ssize_t(file.size())) std::abort();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);

  const Replayed before = replay(path);
  if (file.size() >= ringlog::journal::FileHeader::SIZE) {
    const std::vector<std::byte> heap_copy(file);
    const auto scan = ringlog::journal::detail::scan_records(heap_copy);
    if (auto reader = ringlog::journal::MmapReader::open(path)) {
      if (scan.end_offset != reader->scan().end_offset || scan.event_count != before.count ||
          scan.damaged != reader->scan().damaged) {
        std::abort();
      }
    }
  }
  if (auto writer = ringlog::journal::MmapWriter::open(path)) {
    if (writer->event_count() != before.count) std::abort();
    const Replayed after = replay(path);
    if (after.count != before.count || after.bytes != before.bytes) std::abort();
  }
  ::close(fd);
  return 0;
}
