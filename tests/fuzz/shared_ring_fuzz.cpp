// The journal service's reading of a publisher's shared ring, fuzzed: the input is the ring's
// first bytes and a script of what the publisher does between the service's drains (stores of
// any word anywhere in the file, its header page included; honest events; an attempt to shrink
// the file). The service's side drains through the checked consumer and the dispatcher into a
// journal, as `ringlog serve` does, a bounded batch at a time. It must never read outside the
// ring, hang (the fuzzer's -timeout), or hand the journal a record the journal refuses.
//
// Input: byte 0 picks the capacity (128 << (b % 6) bytes); the next `capacity` bytes (fewer:
// zeros) are the ring's bytes; then 11-byte steps: an op byte, a 16-bit little-endian offset,
// an 8-byte word.
#include <ringlog/dispatcher.hpp>
#include <ringlog/journal.hpp>
#include <ringlog/journal_consumer.hpp>
#include <ringlog/shared_ring.hpp>

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>

using namespace ringlog;

namespace {

constexpr std::size_t header_page = 4096;  // the shared ring's header, before its bytes
constexpr std::size_t step_bytes = 11;

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "shared_ring_fuzz: %s\n", what);
  std::abort();
}

// One journal for every execution, as the service has one for every publisher: in memory, its
// old segments retired once flushed (the default flush policy, as the service's), and removed
// when the fuzzer exits.
struct ScratchJournal {
  std::filesystem::path dir = std::filesystem::path("/dev/shm") /
                              ("ringlog-shared-ring-fuzz-" + std::to_string(::getpid()));
  std::optional<journal::Journal> journal;

  ScratchJournal() {
    std::filesystem::remove_all(dir);
    journal::JournalOptions options;
    options.segment_bytes = journal::JournalOptions::min_segment_bytes;
    options.keep_segments = 2;
    auto made = journal::Journal::open(dir, options);
    if (!made) broken("cannot open the journal");
    journal.emplace(std::move(*made));
  }
  ~ScratchJournal() {
    journal.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

journal::Journal& scratch_journal() {
  static ScratchJournal scratch;
  return *scratch.journal;
}

struct Step {
  std::uint8_t op;
  std::uint16_t offset;
  std::uint64_t word;
};

Step step_at(const std::uint8_t* data) {
  Step step{data[0], 0, 0};
  std::memcpy(&step.offset, data + 1, sizeof step.offset);
  std::memcpy(&step.word, data + 3, sizeof step.word);
  return step;
}

// What the publisher does; `file` is its mapping of the whole file.
void publish(const Step& step, ring::SharedRing& ring, ring::Producer& producer, std::byte* file,
             std::size_t file_bytes) {
  switch (step.op % 4) {
    case 0: {  // a word stored anywhere, aligned as a stray pointer's usually is
      const std::size_t at = (step.offset % (file_bytes - 7)) & ~std::size_t{7};
      std::memcpy(file + at, &step.word, sizeof step.word);
      break;
    }
    case 1:  // a byte, anywhere
      file[step.offset % file_bytes] = static_cast<std::byte>(step.word);
      break;
    case 2: {  // an honest event
      std::byte payload[256] = {};
      const std::size_t length = step.word % (producer.max_payload() + 1) % sizeof payload;
      (void)producer.write_event(event::EventHeader(step.word, 1, std::uint16_t(length)),
                                 {payload, length});
      break;
    }
    default:  // an attempt to shrink the file from under the service's mapping
      if (::ftruncate(ring.fd(), static_cast<off_t>(step.offset % file_bytes)) == 0) {
        broken("the publisher shrank a sealed ring");
      }
      break;
  }
}

void drain(ring::CheckedConsumer& consumer, dispatch::EventDispatcher& dispatcher,
           const ring::SharedRing& ring, std::uint64_t limit) {
  const dispatch::DrainStats drained = dispatcher.drain_batch(consumer, limit);
  if (drained.events_failed != 0) broken("the journal refused a checked record");
  if (ring.used() > ring.capacity()) broken("used() exceeds the capacity");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t capacity = std::size_t{128} << (data[0] % 6);
  ring::MemoryOptions memory;
  memory.huge_pages = ring::MemoryOptions::HugePages::Never;
  auto ring = ring::SharedRing::create({}, capacity, memory);
  if (!ring) broken("cannot create a ring");
  auto producer = ring->producer();
  auto consumer = ring->checked_consumer();
  if (!producer || !consumer) broken("cannot take the ring's sides");
  struct stat status {};
  ::fstat(ring->fd(), &status);
  const auto file_bytes = static_cast<std::size_t>(status.st_size);
  void* mapped = ::mmap(nullptr, file_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, ring->fd(), 0);
  if (mapped == MAP_FAILED) broken("cannot map the ring as its publisher");
  auto* file = static_cast<std::byte*>(mapped);

  const std::size_t image = std::min(size - 1, capacity);
  std::memcpy(file + header_page, data + 1, image);
  dispatch::EventDispatcher dispatcher;
  dispatcher.add_consumer(std::make_unique<dispatch::JournalConsumer>(scratch_journal()));
  for (std::size_t at = 1 + image; at + step_bytes <= size; at += step_bytes) {
    const Step step = step_at(data + at);
    publish(step, *ring, *producer, file, file_bytes);
    drain(*consumer, dispatcher, *ring, 1 + step.word % 64);
  }
  // Two laps of the smallest records: a ring left full of committed words reads as a publisher
  // writing as fast as it can, for ever; the service takes a bounded batch of it a pass, too.
  drain(*consumer, dispatcher, *ring, 2 * capacity / event::EventHeader::SIZE);
  ::munmap(mapped, file_bytes);
  return 0;
}
