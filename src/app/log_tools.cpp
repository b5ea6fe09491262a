#include "log_tools.hpp"

#include <ringlog/storage.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace ringlog::app {

namespace {

constexpr int intact = 0;
constexpr int damaged = 1;
constexpr int unreadable = 2;

std::string hex(std::span<const std::byte> bytes) {
  std::string text;
  text.reserve(bytes.size() * 2);
  for (std::byte b : bytes) fmt::format_to(std::back_inserter(text), "{:02x}", unsigned(b));
  return text;
}

// Damage that a reader stops at: a torn or corrupt record, or a checkpoint past the intact end.
bool is_damaged(const storage::MmapReader& reader) {
  return reader.scan().damaged || reader.header().write_offset > reader.scan().end_offset;
}

}  // namespace

int dump_log(const std::filesystem::path& path, bool json, std::FILE* out) {
  auto reader = storage::MmapReader::open(path);
  if (!reader) {
    fmt::print(stderr, "ringlog dump: {}\n", reader.error().message());
    return unreadable;
  }
  std::uint64_t sequence = 0;
  reader->replay([&](const event::EventView& view) {
    const auto& h = view.header;
    if (json) {
      fmt::print(out, "{{\"sequence\":{},\"timestamp\":{},\"event_type\":{},\"flags\":{},"
                      "\"payload_len\":{},\"payload\":\"{}\"}}\n",
                 sequence, h.timestamp, h.event_type, h.flags, h.payload_len, hex(view.payload));
    } else {
      constexpr std::size_t shown = 32;
      const auto head = view.payload.first(std::min(view.payload.size(), shown));
      fmt::print(out, "{:>10}  ts {:>20}  type {:>3}  flags {:#04x}  len {:>5}  {}{}\n", sequence,
                 h.timestamp, h.event_type, h.flags, h.payload_len, hex(head),
                 view.payload.size() > shown ? "…" : "");
    }
    ++sequence;
  });
  if (is_damaged(*reader)) {
    fmt::print(stderr, "ringlog dump: {}: damaged after event {} (offset {}); nothing past it "
                       "was shown\n", path.string(), sequence, reader->scan().end_offset);
    return damaged;
  }
  return intact;
}

int verify_log(const std::filesystem::path& path, std::FILE* out) {
  auto reader = storage::MmapReader::open(path);
  if (!reader) {
    fmt::print(out, "{}: NOT A READABLE LOG: {}\n", path.string(), reader.error().message());
    return unreadable;
  }
  const storage::ScanResult& scan = reader->scan();
  const storage::FileHeader header = reader->header();
  const std::size_t size = std::filesystem::file_size(path);
  fmt::print(out, "{}: {} intact events in the first {} of its {} bytes\n", path.string(),
             scan.event_count, scan.end_offset, size);
  const bool below_checkpoint = header.write_offset > scan.end_offset;
  if (!scan.damaged && !below_checkpoint) {
    fmt::print(out, "OK: every record is intact\n");
    return intact;
  }
  const std::string where =
      scan.damaged ? fmt::format("the record at offset {} fails its checksum", scan.end_offset)
                   : fmt::format("records end at offset {}", scan.end_offset);
  if (below_checkpoint) {
    fmt::print(out, "DAMAGED: {}, below the durable checkpoint at offset {}: events reported "
                    "durable are damaged, and a writer refuses to append\n",
               where, header.write_offset);
  } else {
    fmt::print(out, "DAMAGED: {}; a writer reopening the file truncates there\n", where);
  }
  return damaged;
}

}  // namespace ringlog::app
