// An SPSC ring that two processes share: a producer in one, a consumer in the other (or both in
// one). The ring's bytes and its two indices live in one file: an anonymous memfd (on
// hugetlbfs when MemoryOptions ask for hugepages), or a named file on a hugetlbfs or tmpfs
// mount such as /dev/hugepages or /dev/shm. One process creates it; another opens the same
// path (for a memfd: /proc/<pid>/fd/<fd>, or the descriptor handed over by fork or SCM_RIGHTS).
//
// The Producer and Consumer are the in-process ring's, with the same hot path: no system call,
// lock, allocation or page fault (every process prefaults its own mapping when it opens it).
// Each side is held by one process at a time. A process that dies leaves its side to be taken
// again: a new producer continues after the last committed event, a new consumer at the last
// released one, so events read and not released are read again.
//
// Trust: every byte of the file is writable by every process that maps it. A process that
// does not trust the other side (the journal service, draining its publishers) keeps the ring's
// facts (capacity, where the bytes start) as it made them, in its own memory: SharedRing reads
// them from the file once, at create() or open(), and never again. It reads the ring through a
// CheckedConsumer, and every other figure the producer's side writes (overflow counts, commit
// samples, the indices) only as a number to check before use. A memfd it hands out is sealed
// against shrinking and growing, so the other side cannot take pages from under its mapping.
#pragma once

#include <ringlog/checked_consumer.hpp>
#include <ringlog/ring.hpp>

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <span>

namespace ringlog::ring {

namespace detail {
struct SharedRingHeader;
}

// What a publisher did on finding its ring full, under its channel's overflow policy
// (ringlog::service::OverflowPolicy). Counted by the producer's side on that slow path only;
// read by the consumer's side for its status.
struct OverflowCounts {
  std::uint64_t waits = 0;     // writes that waited for room (block)
  std::uint64_t timeouts = 0;  // of those, the ones given up at the deadline
  std::uint64_t failed = 0;    // writes refused at once (fail)
  std::uint64_t dropped = 0;   // events dropped (drop)
  std::uint64_t marked = 0;    // of those, the ones counted in a drop marker in the ring
};

// A sampled event's commit, for timing the stages it goes through after: where its record
// ends in the ring (Producer::position() once it is committed) and the TSC then
// (detail::read_tsc).
struct CommitSample {
  std::uint64_t ring_end = 0;
  std::uint64_t tsc = 0;
};
// The newest samples the ring keeps for the consumer's side; older ones not yet read are lost.
inline constexpr std::size_t commit_sample_slots = 64;

// The least capacity of a shared ring: a drop marker (the record a publisher under the drop
// policy writes once room comes back) must fit once the ring has drained, wherever the producer
// stands. The worst place leaves a gap just short of the marker: padding, the marker, and the
// header slot the producer keeps clear after it.
inline constexpr std::size_t min_shared_capacity = 128;
static_assert(2 * ringlog::detail::record_size(sizeof(event::DropMarker)) +
                  event::EventHeader::SIZE <= min_shared_capacity);
static_assert(min_shared_capacity >= min_capacity);

class SharedRing {
 public:
  // A new ring of `capacity` bytes (a power of two, at least min_shared_capacity) at `path`,
  // which must not exist; an empty path makes an anonymous memfd, sealed against resizing. HugePages::Always needs a hugetlbfs path (or an empty one);
  // Try takes explicit hugepages for a memfd where free, else transparent ones where the kernel
  // gives them to shared memory (/sys/kernel/mm/transparent_hugepage/shmem_enabled). The whole
  // file is allocated up front, so a full /dev/shm is an error here, never a SIGBUS later.
  static std::expected<SharedRing, RingError> create(const std::filesystem::path& path,
                                                     std::size_t capacity, MemoryOptions = {});
  // An existing ring, checked: a file that is not a whole ringlog ring is refused.
  static std::expected<SharedRing, RingError> open(const std::filesystem::path& path);

  SharedRing(SharedRing&&) noexcept;
  SharedRing& operator=(SharedRing&&) noexcept;
  ~SharedRing();  // gives back the sides this process took

  // This process's side of the ring, once each; an error names the process holding it. The
  // Producer or Consumer must not outlive this SharedRing.
  std::expected<Producer, RingError> producer();
  // For a producer this process trusts (its own, or one of the same program).
  std::expected<Consumer, RingError> consumer();
  // For a producer this process does not trust: every record checked before it is handed out.
  std::expected<CheckedConsumer, RingError> checked_consumer();

  // The consumer's side gives the producer's up (the service detached it, say, for breaking the
  // ring's protocol): the producer's side stops writing (service::Publisher checks it).
  void mark_detached() noexcept;
  // Inline: the producer's side asks on every write (a line nobody writes but that once).
  bool detached() const noexcept { return detached_->load(std::memory_order_relaxed) != 0; }

  int fd() const noexcept { return fd_; }
  // The path a process can open the ring by: the file, or /proc/<pid>/fd/<fd> for a memfd.
  std::filesystem::path path() const;
  std::size_t capacity() const noexcept { return capacity_; }
  // Written and not yet released: a monitoring figure, from any thread. However the other side
  // wrote the indices, it reads at most one lap of records and is at most capacity().
  std::size_t used() const noexcept;
  // The consumer's side tells the producer's how many of its events are durable (the journal
  // service does, once a flush covers them); counted from the ring's creation.
  void publish_durable_events(std::uint64_t events) noexcept;
  std::uint64_t durable_events() const noexcept;
  // Sleeps (futex(2), not spinning) until durable_events() reaches `events`; false when
  // `timeout` passed first. The consumer's side wakes it from publish_durable_events, with a
  // system call only while someone waits.
  bool wait_durable_events(std::uint64_t events, std::chrono::nanoseconds timeout) const noexcept;
  // The producer's side adds to the overflow counts (one writer: no read-modify-write).
  void add_overflow(const OverflowCounts& more) noexcept;
  OverflowCounts overflow_counts() const noexcept;
  // The producer's side records a sampled commit; the consumer's side reads those recorded since
  // sample number `next` (which it advances), oldest first, into `out`: how many it wrote. Ones
  // overwritten before they were read are skipped.
  void record_commit_sample(const CommitSample&) noexcept;
  std::size_t read_commit_samples(std::uint64_t& next, std::span<CommitSample> out) const noexcept;
  MemoryReport memory_report() const { return detail::read_memory_report(memory_); }

 private:
  SharedRing(ringlog::detail::Mapping memory, int fd, std::filesystem::path path,
             std::size_t capacity) noexcept;
  std::expected<void, RingError> take(bool producer_side);

  ringlog::detail::Mapping memory_;
  int fd_ = -1;
  std::filesystem::path path_;  // empty for a memfd
  detail::SharedRingHeader* header_ = nullptr;
  // Fixed at create() or open(), never read from the file again.
  std::size_t capacity_ = 0;
  ringlog::detail::RingGeometry geometry_;
  const std::atomic<std::uint32_t>* detached_ = nullptr;  // in the file's header
  bool took_producer_ = false;
  bool took_consumer_ = false;
};

}  // namespace ringlog::ring
