// The shared ring: a producer process and a consumer process over a named file and over a
// memfd, one holder per side, restarts that continue where the last holder stopped, and files
// that are not rings.
#include <ringlog/dispatcher.hpp>
#include <ringlog/shared_ring.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <utility>

using namespace ringlog;
using ring::SharedRing;

namespace {

constexpr std::size_t capacity = 1 << 16;  // small, so the events wrap it many times

// Payload sizes vary with the sequence number, so that records of every alignment occur.
std::size_t payload_size_of(std::uint64_t sequence) { return 8 + sequence % 89; }

// Writes events [from, to), waiting for room whenever the ring is full.
void produce(ring::Producer& producer, std::uint64_t from, std::uint64_t to) {
  for (std::uint64_t seq = from; seq < to; ++seq) {
    const auto payload = test::make_payload(seq, payload_size_of(seq));
    while (!producer.write_event(test::header_for(seq, payload.size()), payload)) {
    }
  }
}

// Reads events [from, to), each byte-exact and in order.
void expect_events(ring::Consumer& consumer, std::uint64_t from, std::uint64_t to) {
  std::uint64_t seq = from;
  while (seq < to) {
    consumer.poll([&](const event::EventView& view) {
      const auto expected = test::make_payload(seq, payload_size_of(seq));
      ASSERT_EQ(view.header.timestamp, test::header_for(seq, expected.size()).timestamp);
      ASSERT_TRUE(std::equal(view.payload.begin(), view.payload.end(), expected.begin(),
                             expected.end()))
          << "event " << seq;
      ++seq;
    }, to - seq);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// Forks a producer process that opens the ring at `path`, writes `count` events and exits 0
// (non-zero exit codes name what failed); returns its pid.
// In a forked child: the producer side of the ring at `path`, or an exit that says which step
// failed. The ring stays open for the rest of the child's life.
ring::Producer producer_in_child(const std::filesystem::path& path) {
  static auto ring = SharedRing::open(path);
  if (!ring) _exit(10);
  auto producer = ring->producer();
  if (!producer) _exit(11);
  return std::move(*producer);
}

pid_t fork_producer(const std::filesystem::path& path, std::uint64_t count) {
  const pid_t child = fork();
  if (child != 0) return child;
  ring::Producer producer = producer_in_child(path);
  produce(producer, 0, count);
  _exit(0);
}

void expect_exit_zero(pid_t child) {
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "see the exit codes in fork_producer";
}

// A path for a named ring: /dev/shm where there is one (tmpfs, as in production), else the
// test's own directory.
std::filesystem::path ring_path(const test::TempDir& dir) {
  const std::filesystem::path shm = "/dev/shm";
  if (std::filesystem::is_directory(shm) && ::access(shm.c_str(), W_OK) == 0) {
    return shm / ("ringlog-test-" + std::to_string(::getpid()) + "-" +
                  dir.path().filename().string());
  }
  return dir / "ring";
}

// Removes a named ring's file when the test ends.
struct RemoveAfter {
  std::filesystem::path path;
  ~RemoveAfter() { std::filesystem::remove(path); }
};

}  // namespace

TEST(shared_ring, a_producer_process_feeds_a_consumer_process_through_a_named_file) {
  test::TempDir dir;
  const RemoveAfter file{ring_path(dir)};
  auto ring = SharedRing::create(file.path, capacity);
  ASSERT_TRUE(ring.has_value()) << ring::to_string(ring.error());
  EXPECT_EQ(ring->path(), file.path);
  auto consumer = ring->consumer();
  ASSERT_TRUE(consumer.has_value()) << ring::to_string(consumer.error());
  const std::uint64_t count = 200'000;
  const pid_t child = fork_producer(file.path, count);
  ASSERT_GT(child, 0);
  expect_events(*consumer, 0, count);
  expect_exit_zero(child);
  EXPECT_TRUE(consumer->is_empty());
}

TEST(shared_ring, a_memfd_ring_is_opened_through_proc) {
  auto ring = SharedRing::create({}, capacity);
  ASSERT_TRUE(ring.has_value()) << ring::to_string(ring.error());
  EXPECT_EQ(ring->path(), "/proc/" + std::to_string(::getpid()) + "/fd/" +
                              std::to_string(ring->fd()));
  auto consumer = ring->consumer();
  ASSERT_TRUE(consumer.has_value());
  const std::uint64_t count = 50'000;
  const pid_t child = fork_producer(ring->path(), count);
  ASSERT_GT(child, 0);
  expect_events(*consumer, 0, count);
  expect_exit_zero(child);
}

TEST(shared_ring, each_side_has_one_holder_until_it_dies) {
  auto ring = SharedRing::create({}, capacity);
  ASSERT_TRUE(ring.has_value());
  ASSERT_TRUE(ring->producer().has_value());
  const auto again = ring->producer();
  ASSERT_FALSE(again.has_value());
  EXPECT_NE(ring::to_string(again.error()).find("already taken here"), std::string::npos);

  // Another opening in this process, and another process, are refused while this one holds it.
  auto second = SharedRing::open(ring->path());
  ASSERT_TRUE(second.has_value()) << ring::to_string(second.error());
  const auto held = second->producer();
  ASSERT_FALSE(held.has_value());
  EXPECT_NE(ring::to_string(held.error()).find("held by process " + std::to_string(::getpid())),
            std::string::npos)
      << ring::to_string(held.error());

  // A consumer process that dies without letting go leaves the side to be taken again.
  const std::string path = ring->path().string();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto mine = SharedRing::open(path);
    if (!mine) _exit(10);
    if (!second->consumer().has_value()) _exit(11);  // the parent's opening, in a child: fine
    if (mine->consumer().has_value()) _exit(12);    // held by this process already
    _exit(0);  // no destructors run: the side stays marked as this (now dead) process's
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(ring->consumer().has_value());
}

TEST(shared_ring, new_holders_continue_where_the_last_ones_stopped) {
  auto ring = SharedRing::create({}, capacity);
  ASSERT_TRUE(ring.has_value());
  {
    auto producer_ring = SharedRing::open(ring->path());
    ASSERT_TRUE(producer_ring.has_value());
    auto producer = producer_ring->producer();
    ASSERT_TRUE(producer.has_value());
    produce(*producer, 0, 500);  // about half the ring
  }
  {
    auto consumer_ring = SharedRing::open(ring->path());
    ASSERT_TRUE(consumer_ring.has_value());
    auto consumer = consumer_ring->consumer();
    ASSERT_TRUE(consumer.has_value());
    expect_events(*consumer, 0, 400);  // poll released them on return
  }
  auto producer = ring->producer();
  auto consumer = ring->consumer();
  ASSERT_TRUE(producer.has_value() && consumer.has_value());
  produce(*producer, 500, 800);
  expect_events(*consumer, 400, 800);
  EXPECT_EQ(ring->used(), 0u);
}

namespace {

constexpr std::uint64_t never_committed = UINT64_MAX;  // the timestamp of the dying claim

// A publisher process that writes events [from, from + count), then claims one more record,
// fills half of it, says so on `claimed_fd` and waits to be killed.
pid_t fork_dying_publisher(const std::filesystem::path& path, std::uint64_t from,
                           std::uint64_t count, int claimed_fd) {
  const pid_t child = fork();
  if (child != 0) return child;
  ring::Producer producer = producer_in_child(path);
  produce(producer, from, from + count);
  const std::size_t size = payload_size_of(from + count);
  std::optional<std::span<std::byte>> claimed;
  while (!(claimed = producer.try_claim(test::header_for(never_committed, size)))) {
  }
  std::memset(claimed->data(), 0xEE, size / 2);
  const char claimed_now = 'c';
  if (::write(claimed_fd, &claimed_now, 1) != 1) _exit(12);
  for (;;) ::pause();
}

}  // namespace

// Publishers SIGKILLed between claim and commit, at random points of the ring's laps: the
// consumer never sees what they claimed, never stalls, and each new publisher continues right
// after the last committed event.
TEST(shared_ring, a_publisher_killed_between_claim_and_commit_loses_only_that_claim) {
  auto ring = SharedRing::create({}, capacity);
  ASSERT_TRUE(ring.has_value());
  auto consumer = ring->consumer();
  ASSERT_TRUE(consumer.has_value());
  ::alarm(120);  // a broken ring stalls the consumer: end the test as a failure, not a hang
  std::mt19937_64 random(7);
  std::uint64_t next = 0;  // the sequence number the consumer expects
  for (int round = 0; round < 100; ++round) {
    int claimed_pipe[2];
    ASSERT_EQ(::pipe2(claimed_pipe, O_NONBLOCK | O_CLOEXEC), 0);
    const std::uint64_t round_start = next;
    const std::uint64_t count = random() % 1500;  // up to about two laps of the ring
    const pid_t publisher = fork_dying_publisher(ring->path(), next, count, claimed_pipe[1]);
    ASSERT_GT(publisher, 0);
    // Drain while it writes (it waits for room), until it has claimed its last record.
    char claimed = 0;
    while (::read(claimed_pipe[0], &claimed, 1) != 1) {
      consumer->poll([&](const event::EventView& view) {
        ASSERT_NE(view.header.timestamp, never_committed) << "round " << round;
        ASSERT_EQ(view.header.timestamp, next) << "round " << round;
        ++next;
      });
      if (::testing::Test::HasFatalFailure()) break;
    }
    ::kill(publisher, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(publisher, &status, 0), publisher);
    ASSERT_TRUE(WIFSIGNALED(status)) << "exit code " << WEXITSTATUS(status);
    ::close(claimed_pipe[0]);
    ::close(claimed_pipe[1]);
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    // Every committed event arrives; the dead publisher's claim never does.
    expect_events(*consumer, next, round_start + count);
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    next = round_start + count;
    EXPECT_TRUE(consumer->is_empty()) << "round " << round;
  }
  ::alarm(0);
  EXPECT_EQ(ring->used(), 0u);
}

TEST(shared_ring, files_that_are_not_whole_rings_are_refused) {
  test::TempDir dir;
  const auto refusal = [](const std::filesystem::path& path) {
    const auto opened = SharedRing::open(path);
    return opened ? std::string("opened") : ring::to_string(opened.error());
  };
  EXPECT_NE(refusal(dir / "missing").find("cannot open shared ring"), std::string::npos);
  test::write_file(dir / "short", std::vector<char>(100));
  EXPECT_NE(refusal(dir / "short").find("too short"), std::string::npos);
  test::write_file(dir / "zeros", std::vector<char>(1 << 16));
  EXPECT_NE(refusal(dir / "zeros").find("no ringlog ring magic"), std::string::npos);

  // A real ring cut short: its header promises more bytes than the file has.
  const std::filesystem::path cut = dir / "cut";
  const ring::MemoryOptions normal_pages{.huge_pages = ring::MemoryOptions::HugePages::Never};
  ASSERT_TRUE(SharedRing::create(cut, capacity, normal_pages).has_value());
  std::filesystem::resize_file(cut, 4096 + capacity / 2);
  EXPECT_NE(refusal(cut).find("does not fit"), std::string::npos) << refusal(cut);

  // Creating over an existing file is refused and leaves it alone.
  const auto over = SharedRing::create(dir / "zeros", capacity);
  ASSERT_FALSE(over.has_value());
  EXPECT_NE(ring::to_string(over.error()).find("File exists"), std::string::npos);
  EXPECT_EQ(std::filesystem::file_size(dir / "zeros"), 1u << 16);

  EXPECT_FALSE(SharedRing::create({}, 1000).has_value());  // not a power of two
}

// A drop marker is the library's record: a user's write shaped like one is refused, while
// Producer::write_drop_marker puts one between events, which the consumer reads in order, and
// the overflow counts the producer's side keeps are read on the consumer's side.
TEST(shared_ring, a_drop_marker_crosses_the_ring_in_order_and_users_cannot_forge_one) {
  auto ring = SharedRing::create({}, capacity);
  ASSERT_TRUE(ring.has_value());
  auto producer = ring->producer();
  auto consumer = ring->consumer();
  ASSERT_TRUE(producer.has_value() && consumer.has_value());
  const event::DropMarker marker{.dropped_events = 7, .first_timestamp = 11, .last_timestamp = 17};
  const auto forged = event::drop_marker_header(marker);
  EXPECT_FALSE(producer->write_event(forged, std::as_bytes(std::span(&marker, 1))));
  const auto payload = test::make_payload(1, 8);
  ASSERT_TRUE(producer->write_event(test::header_for(1, 8), payload));
  ASSERT_TRUE(producer->write_drop_marker(marker));
  ASSERT_TRUE(producer->write_event(test::header_for(2, 8), payload));
  ring->add_overflow({.dropped = 7, .marked = 7});

  std::vector<std::uint64_t> read;
  std::optional<event::DropMarker> seen;
  while (const auto view = consumer->read_event()) {
    if (const auto dropped = event::as_drop_marker(*view)) seen = dropped;
    read.push_back(view->header.timestamp);
  }
  EXPECT_EQ(read, (std::vector<std::uint64_t>{1, 11, 2}));
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->dropped_events, 7u);
  EXPECT_EQ(seen->last_timestamp, 17u);
  const auto counts = SharedRing::open(ring->path())->overflow_counts();
  EXPECT_EQ(counts.dropped, 7u);
  EXPECT_EQ(counts.marked, 7u);
  EXPECT_EQ(counts.failed, 0u);
}

// A publisher counts each event it drops in the ring's header at once, and the drops into a
// marker later. Killed with drops pending, or with a marker committed but its count not yet
// added to `marked`, what it dropped less what the markers drained count is exactly what no
// marker tells of: the figure the journal service marks at detach.
TEST(shared_ring, drops_no_drained_marker_counts_are_told_exactly_however_the_producer_died) {
  for (const bool marker_committed : {false, true}) {
    SCOPED_TRACE(marker_committed ? "killed after its marker's commit" : "killed before it");
    auto ring = SharedRing::create({}, capacity);
    ASSERT_TRUE(ring.has_value());
    auto consumer = ring->consumer();
    ASSERT_TRUE(consumer.has_value());
    const std::filesystem::path path = ring->path();
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ring::Producer producer = producer_in_child(path);
      auto counts = SharedRing::open(path);
      if (!counts) _exit(12);
      for (int i = 0; i < 9; ++i) counts->add_overflow({.dropped = 1});
      if (marker_committed && !producer.write_drop_marker({.dropped_events = 9})) _exit(13);
      _exit(0);  // before the marker's count reaches `marked`, if ever
    }
    expect_exit_zero(child);
    dispatch::EventDispatcher dispatcher;
    const dispatch::DrainStats drained = dispatcher.drain(*consumer);
    EXPECT_EQ(drained.marked_dropped, marker_committed ? 9u : 0u);
    EXPECT_EQ(ring->overflow_counts().dropped - drained.marked_dropped,
              marker_committed ? 0u : 9u);
  }
}
