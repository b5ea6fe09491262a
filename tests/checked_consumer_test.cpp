// Tier: suite. A shared ring read as untrusted input: the stores a hostile or broken publisher
// can make into its ring (a padding word where none belongs, a length running past the ring's
// end, rewritten header fields, a shrunk file) each stop the checked consumer at the fault with
// a violation that names the byte, after the whole records before it, and never make it read
// outside the ring, hang or crash. Honest traffic passes untouched.
#include <ringlog/checked_consumer.hpp>
#include <ringlog/dispatcher.hpp>
#include <ringlog/shared_ring.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

using namespace ringlog;
using ring::SharedRing;

namespace {

constexpr std::size_t capacity = 4096;
constexpr std::size_t header_page = 4096;  // the shared ring's header, before its bytes

ring::MemoryOptions small_pages() {
  ring::MemoryOptions options;
  options.huge_pages = ring::MemoryOptions::HugePages::Never;  // a read past the end faults
  return options;
}

// The file's bytes as the other process maps them: what a hostile publisher can write.
class PublisherView {
 public:
  explicit PublisherView(const SharedRing& ring) {
    struct stat status {};
    // Thrown, not expected: every store the test makes goes through this mapping.
    if (::fstat(ring.fd(), &status) != 0) throw std::runtime_error("fstat of the ring failed");
    size_ = static_cast<std::size_t>(status.st_size);
    void* data = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, ring.fd(), 0);
    if (data == MAP_FAILED) throw std::runtime_error("mapping the ring failed");
    file_ = static_cast<std::byte*>(data);
  }
  ~PublisherView() { ::munmap(file_, size_); }
  std::byte* file() const { return file_; }
  std::byte* ring_at(std::size_t offset) const { return file_ + header_page + offset; }
  // Stores a committed header's second half at ring offset `at` (the word a producer stores
  // last): a committed record of `type`, `flags` and `payload_len`.
  void commit(std::size_t at, std::uint8_t type, std::uint8_t flags, std::uint16_t payload_len) {
    event::EventHeader header(0, type, payload_len);
    header.flags = flags;
    const std::uint64_t word = ringlog::detail::commit_word(header);
    std::memcpy(ring_at(at) + 8, &word, sizeof word);
  }

 private:
  std::byte* file_ = nullptr;
  std::size_t size_ = 0;
};

// Counts what the dispatcher hands its consumer.
struct Counting final : dispatch::EventConsumer {
  std::uint64_t* events;
  explicit Counting(std::uint64_t* count) : events(count) {}
  bool consume(const event::EventHeader&, std::span<const std::byte>) override {
    ++*events;
    return true;
  }
  std::string_view name() const override { return "counting"; }
};

struct Ring {
  SharedRing shared;
  ring::Producer producer;
  ring::CheckedConsumer consumer;
};

Ring make_ring(std::size_t bytes = capacity) {
  auto shared = SharedRing::create({}, bytes, small_pages());
  if (!shared) throw std::runtime_error(std::string(ring::to_string(shared.error())));
  auto producer = shared->producer();
  auto consumer = shared->checked_consumer();
  if (!producer || !consumer) throw std::runtime_error("the ring refused a producer or consumer");
  return {std::move(*shared), std::move(*producer), std::move(*consumer)};
}

void write_events(ring::Producer& producer, std::uint64_t from, std::uint64_t to) {
  for (std::uint64_t sequence = from; sequence < to; ++sequence) {
    const auto payload = test::make_payload(sequence, 8 + sequence % 41);
    ASSERT_TRUE(producer.write_event(test::header_for(sequence, payload.size()), payload));
  }
}

// Drains everything the consumer will give: the events, as the service's dispatcher sees them.
std::uint64_t drain(ring::CheckedConsumer& consumer) {
  std::uint64_t events = 0;
  dispatch::EventDispatcher dispatcher;
  dispatcher.add_consumer(Counting(&events));
  while (dispatcher.drain_batch(consumer, 64).events_read != 0) {
  }
  return events;
}

}  // namespace

TEST(checked_consumer, honest_events_pass_byte_exact_across_many_laps) {
  Ring ring = make_ring();
  std::uint64_t read = 0;
  for (std::uint64_t round = 0; round < 200; ++round) {  // ~40 laps of the ring, every alignment
    write_events(ring.producer, round * 10, round * 10 + 10);
    for (auto run = ring.consumer.peek_records(); run.events != 0;
         run = ring.consumer.peek_records()) {
      std::size_t at = 0;
      for (std::uint64_t i = 0; i < run.events; ++i, ++read) {
        const event::EventView view = ringlog::detail::view_at(run.records.data() + at);
        ASSERT_EQ(view.header.timestamp, read);
        ASSERT_TRUE(test::payload_matches(read, view.payload)) << "event " << read;
        at += ringlog::detail::record_size(view.header.payload_len);
      }
      ring.consumer.release_records(run.records.size());
    }
  }
  EXPECT_EQ(read, 2000u);
  EXPECT_FALSE(ring.consumer.violation().has_value());
  EXPECT_TRUE(ring.consumer.is_empty());
}

TEST(checked_consumer, a_padding_word_at_the_rings_start_is_a_violation_not_a_hang) {
  Ring ring = make_ring();
  PublisherView publisher(ring.shared);
  publisher.commit(0, 0, ringlog::detail::framing_flag, 0);  // padding where every record fits
  EXPECT_EQ(drain(ring.consumer), 0u);  // returns: on today's main this looped for ever
  ASSERT_TRUE(ring.consumer.violation().has_value());
  EXPECT_EQ(ring.consumer.violation()->offset, 0u);
  EXPECT_NE(ring.consumer.violation()->what.find("padding at the ring's start"),
            std::string::npos) << ring.consumer.violation()->describe();
  EXPECT_TRUE(ring.consumer.is_empty()) << "nothing more is read once it broke the protocol";
}

TEST(checked_consumer, events_before_a_fault_are_delivered_and_nothing_after_it) {
  Ring ring = make_ring();
  write_events(ring.producer, 0, 5);
  const std::uint64_t fault_at = ring.producer.position();
  write_events(ring.producer, 5, 10);
  PublisherView publisher(ring.shared);
  publisher.commit(fault_at, 7, ringlog::detail::framing_flag, 8);  // a framing record of its own
  EXPECT_EQ(drain(ring.consumer), 5u);
  ASSERT_TRUE(ring.consumer.violation().has_value());
  EXPECT_EQ(ring.consumer.violation()->offset, fault_at);
  EXPECT_EQ(ring.consumer.position(), fault_at);
}

TEST(checked_consumer, a_length_past_the_rings_end_is_never_read) {
  Ring ring = make_ring();
  // Three records of 1360 bytes bring the producer, and then the consumer, 16 bytes short of
  // the ring's end; there the publisher commits 65535 payload bytes.
  for (std::uint64_t sequence = 0; sequence < 3; ++sequence) {
    const auto payload = test::make_payload(sequence, 1344);
    ASSERT_TRUE(ring.producer.write_event(test::header_for(sequence, payload.size()), payload));
  }
  EXPECT_EQ(drain(ring.consumer), 3u);
  ASSERT_EQ(ring.consumer.position(), capacity - 16);
  PublisherView publisher(ring.shared);
  publisher.commit(capacity - 16, 1, 0, 65535);
  EXPECT_EQ(drain(ring.consumer), 0u);  // on today's main: 64 KiB past the ring, a SIGBUS
  ASSERT_TRUE(ring.consumer.violation().has_value());
  EXPECT_EQ(ring.consumer.violation()->offset, capacity - 16);
}

TEST(checked_consumer, a_record_rewritten_after_it_was_peeked_is_judged_again) {
  // Peeked and not released, a record is still the publisher's to rewrite: the next peek reads
  // it anew, and checks what it finds (here a length that now runs past the ring's end).
  Ring ring = make_ring();
  write_events(ring.producer, 0, 3);
  const auto run = ring.consumer.peek_records();
  ASSERT_EQ(run.events, 3u);
  ring.consumer.release_records(0);
  PublisherView publisher(ring.shared);
  publisher.commit(0, 1, 0, 4000);  // the first record now claims most of the ring
  EXPECT_EQ(drain(ring.consumer), 0u);
  ASSERT_TRUE(ring.consumer.violation().has_value());
  EXPECT_EQ(ring.consumer.violation()->offset, 0u);
}

TEST(checked_consumer, an_event_longer_than_the_ring_takes_is_a_violation) {
  Ring ring = make_ring();
  PublisherView publisher(ring.shared);
  publisher.commit(0, 1, 0, static_cast<std::uint16_t>(ring::max_payload_len(capacity) + 8));
  EXPECT_EQ(drain(ring.consumer), 0u);
  ASSERT_TRUE(ring.consumer.violation().has_value());
  EXPECT_NE(ring.consumer.violation()->what.find("more than the"), std::string::npos);
}

TEST(checked_consumer, padding_in_front_of_a_record_that_fits_is_a_violation) {
  Ring ring = make_ring();
  PublisherView publisher(ring.shared);
  publisher.commit(capacity - 64, 0, ringlog::detail::framing_flag, 0);
  publisher.commit(0, 1, 0, 8);  // 24 bytes: it would have fitted in the 64 before the end
  ring.consumer.release_records(capacity - 64);  // as if the consumer stood there
  EXPECT_EQ(drain(ring.consumer), 0u);
  ASSERT_TRUE(ring.consumer.violation().has_value());
  EXPECT_EQ(ring.consumer.violation()->offset, capacity - 64);
}

TEST(checked_consumer, a_drop_marker_counting_nothing_is_a_violation) {
  Ring ring = make_ring();
  ASSERT_TRUE(ring.producer.write_drop_marker({.dropped_events = 0}));
  EXPECT_EQ(drain(ring.consumer), 0u);
  ASSERT_TRUE(ring.consumer.violation().has_value());
  EXPECT_NE(ring.consumer.violation()->what.find("drop marker"), std::string::npos);
}

TEST(checked_consumer, the_rings_facts_are_the_services_not_the_files) {
  Ring ring = make_ring();
  write_events(ring.producer, 0, 10);
  PublisherView publisher(ring.shared);
  // header_bytes and capacity, as the shared header holds them, rewritten.
  const std::uint32_t header_bytes = 0x7ff00000;
  const std::uint64_t huge = std::uint64_t{1} << 40;
  std::memcpy(publisher.file() + 12, &header_bytes, sizeof header_bytes);
  std::memcpy(publisher.file() + 16, &huge, sizeof huge);
  EXPECT_EQ(ring.shared.capacity(), capacity);
  EXPECT_LE(ring.shared.used(), capacity);  // on today's main: a SIGSEGV
  EXPECT_EQ(drain(ring.consumer), 10u);
}

TEST(checked_consumer, scribbled_indices_keep_used_within_the_ring) {
  Ring ring = make_ring();
  write_events(ring.producer, 0, 10);
  PublisherView publisher(ring.shared);
  std::vector<std::byte> noise(capacity, std::byte{0x5a});
  for (std::uint64_t word : {UINT64_MAX, std::uint64_t{3}, std::uint64_t{1} << 63}) {
    // Both indices live after the header's fixed fields: scribble the whole header page.
    for (std::size_t at = 64; at + 8 <= header_page; at += 8) {
      std::memcpy(publisher.file() + at, &word, sizeof word);
    }
    EXPECT_LE(ring.shared.used(), capacity);
  }
}

TEST(checked_consumer, a_memfd_ring_cannot_be_shrunk_or_grown_by_its_publisher) {
  Ring ring = make_ring();
  // The publisher's way in: the descriptor reopened read-write through /proc.
  const std::string path = ring.shared.path();
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  struct stat before {};
  ASSERT_EQ(::fstat(fd, &before), 0);
  EXPECT_EQ(::ftruncate(fd, 0), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(::ftruncate(fd, before.st_size * 2), -1);
  EXPECT_EQ(::fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1) << "the seals are sealed";
  struct stat after {};
  ASSERT_EQ(::fstat(fd, &after), 0);
  EXPECT_EQ(after.st_size, before.st_size);
  ::close(fd);
}

TEST(checked_consumer, a_shared_ring_always_has_room_for_a_drop_marker) {
  auto tiny = SharedRing::create({}, 64, small_pages());
  ASSERT_FALSE(tiny.has_value());
  EXPECT_NE(ring::to_string(tiny.error()).find("drop marker"), std::string::npos);
  // The smallest allowed: wherever the producer stands, a drained ring takes a marker.
  Ring ring = make_ring(ring::min_shared_capacity);
  const event::DropMarker marker{.dropped_events = 1};
  for (int i = 0; i < 64; ++i) {
    const std::vector<std::byte> payload(8 * (i % 3));
    ASSERT_TRUE(ring.producer.write_event(test::header_for(i, payload.size()), payload));
    ASSERT_TRUE(ring.producer.write_drop_marker(marker)) << "at ring position "
                                                         << ring.producer.position();
    EXPECT_EQ(drain(ring.consumer), 2u);
  }
  EXPECT_FALSE(ring.consumer.violation().has_value());
}
