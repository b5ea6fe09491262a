// libFuzzer target: arbitrary bytes as the segment of a journal directory. Reading and recovering
// must never crash, and the rules must hold: the reader hands out consecutive sequence numbers,
// a journal that opens continues after exactly the events a reader saw before it, and a journal
// that refuses to open leaves the directory as it was (but for the writers' lock file).
//
// The first input byte chooses the shape: bit 0 puts a valid segment header (in use, first
// sequence 0, its seed) in front of the rest, so that the fuzzer works on records rather than on
// finding the magic; the rest is the segment's bytes.
#include <ringlog/journal.hpp>

#include "journal/journal_directory.hpp"
#include "journal/file/log_format.hpp"

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

namespace journal = ringlog::journal;

struct Replayed {
  std::uint64_t count = 0;
  std::vector<std::byte> bytes;  // every header and payload handed out, in order
};

Replayed replay(const std::filesystem::path& dir) {
  Replayed result;
  auto reader = journal::JournalReader::open(dir);
  if (!reader) return result;
  reader->replay([&](const journal::JournalEvent& event) {
    if (event.sequence != result.count) std::abort();
    if (event.view.payload.size() != event.view.header.payload_len) std::abort();
    const auto* header = reinterpret_cast<const std::byte*>(&event.view.header);
    result.bytes.insert(result.bytes.end(), header, header + sizeof event.view.header);
    result.bytes.insert(result.bytes.end(), event.view.payload.begin(), event.view.payload.end());
    ++result.count;
  });
  return result;
}

std::vector<char> read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A directory on tmpfs where there is one: no disk traffic.
std::filesystem::path scratch_root() {
  const std::filesystem::path shm = "/dev/shm";
  return std::filesystem::is_directory(shm) ? shm : std::filesystem::temp_directory_path();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::vector<std::byte> segment;
  if ((data[0] & 1) != 0) {
    journal::FileHeader header{};
    std::memcpy(header.magic, journal::file_magic, 4);
    header.version = journal::file_version;
    header.write_offset = journal::FileHeader::SIZE;
    segment.resize(sizeof header);
    std::memcpy(segment.data(), &header, sizeof header);
    journal::detail::store_segment_info(
        segment.data(), {0, journal::detail::segment_seed(0), journal::detail::segment_in_use});
  }
  const auto* input = reinterpret_cast<const std::byte*>(data + 1);
  segment.insert(segment.end(), input, input + size - 1);

  std::string pattern = (scratch_root() / "ringlog-journal-fuzz-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) std::abort();
  const std::filesystem::path dir = pattern;
  const std::filesystem::path path = dir / journal::detail::segment_file_name(0);
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(segment.data()),
              static_cast<std::streamsize>(segment.size()));
  }

  const Replayed before = replay(dir);
  const std::vector<char> bytes_before = read_all(path);
  if (auto journal = journal::Journal::open(dir)) {
    if (journal->next_sequence() != before.count) std::abort();
    const Replayed after = replay(dir);
    if (after.count != before.count || after.bytes != before.bytes) std::abort();
  } else {
    // A refused journal is left as it was: its one segment untouched, and nothing added but
    // the writers' lock file (never removed: a lock file unlinked can be locked twice).
    std::filesystem::remove(dir / journal::detail::lock_file_name);
    if (read_all(path) != bytes_before ||
        std::distance(std::filesystem::directory_iterator(dir),
                      std::filesystem::directory_iterator()) != 1) {
      std::abort();
    }
  }
  std::filesystem::remove_all(dir);
  return 0;
}
