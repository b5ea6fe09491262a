// Round-trips one event through a ring and a log file; exits 0 only if both come back intact.
#include <ringlog/ringlog.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

int main() {
  const std::byte payload[4] = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  const ringlog::event::EventHeader header(42, 7, sizeof payload);

  auto ring = ringlog::ring::RingBuffer::create(1024);
  if (!ring || !ring->write_event(header, payload)) return 1;
  const auto view = ring->read_event();
  if (!view || view->header.timestamp != 42 || view->payload[3] != std::byte{4}) return 2;

  const auto path = std::filesystem::temp_directory_path() /
                    ("ringlog-user-" + std::to_string(::getpid()) + ".evtl");
  {
    auto writer = ringlog::journal::MmapWriter::create(path, 4096);
    if (!writer || !writer->write_event(header, payload) || !writer->sync()) return 3;
  }
  auto reader = ringlog::journal::MmapReader::open(path);
  std::filesystem::remove(path);
  if (!reader || reader->event_count() != 1) return 4;
  std::puts("ringlog package works");
  return 0;
}
