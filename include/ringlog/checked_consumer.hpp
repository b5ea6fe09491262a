// The consumer's side of a shared ring whose producer is not trusted: a publisher process of
// the journal service, which may be any process of a user in the service's group, with any bug.
//
// Trust: every byte of the ring is the other process's to write at any moment. This side keeps
// its own facts (the ring's base, capacity and mask, its position) in its own memory, fixed when
// the ring was made, and reads the ring's bytes as untrusted input: each commit word is loaded
// once and checked before its length is used, the run of records found is copied into this
// consumer's memory, and the copy is checked again, so that what it hands out cannot change
// under the caller. A producer that breaks the protocol stops the consumer at the last whole
// record before the fault: violation() says where and what, and nothing more is read.
//
// The protocol checked (ring.hpp, detail/ring_geometry.hpp): a record is an event or a drop
// marker whose length stays within its lap and within max_payload_len(); a padding record
// stands only where the record after it, at the next lap's start, could not fit; no other
// framing record stands in a ring. Every call that finds a committed record makes progress.
//
// Threads: one thread uses it, as a Consumer. Memory ordering: as Consumer's (ring.hpp).
#pragma once

#include <ringlog/detail/ring_geometry.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace ringlog::ring {

// Where and how a producer broke its ring's protocol.
struct RingViolation {
  std::uint64_t offset = 0;  // the byte of the ring (0 to capacity - 1) where the fault was found
  std::string what;
  std::string describe() const;  // "ring byte <offset>: <what>"
};

// Whole records copied out of a ring and checked: events and drop markers, in ring order.
struct CheckedRecords {
  std::span<const std::byte> records;  // in the consumer's own memory
  std::uint64_t events = 0;            // drop markers included
  std::uint64_t dropped = 0;           // the events that the drop markers among them count
};

class CheckedConsumer {
 public:
  CheckedConsumer(CheckedConsumer&& other) noexcept = default;
  CheckedConsumer& operator=(CheckedConsumer&& other) noexcept;
  ~CheckedConsumer();  // hands back everything it has read

  // Up to `max_events` committed records lying one after another from position() on (at most
  // an eighth of the ring, or one larger record), checked and copied. Empty when nothing is
  // committed there, or once the producer broke the protocol. Valid until the next call.
  CheckedRecords peek_records(std::uint64_t max_events = UINT64_MAX);
  // Hands the first `bytes` of the last peek back to the producer: whole records.
  void release_records(std::size_t bytes) noexcept;

  // Bytes through the ring since its creation that this side has read.
  std::uint64_t position() const noexcept { return tail_; }
  // Nothing committed waits at position(), or nothing more will be read (a violation).
  bool is_empty() const noexcept;
  const std::optional<RingViolation>& violation() const noexcept { return violation_; }

 private:
  friend class SharedRing;
  CheckedConsumer(ringlog::detail::RingGeometry geometry,
                  ringlog::detail::SharedIndices* indices);

  struct Record {  // a sound committed record: where, and its header's second half as checked
    std::uint64_t at = 0;
    std::uint64_t half = 0;
  };
  struct Run {  // committed records found in the ring: [start, end)
    std::uint64_t start = 0;
    std::uint64_t end = 0;
  };
  // The first record at or after the position, past a padding record; a violation, or nothing
  // committed yet, gives nothing.
  std::optional<Record> first_record();
  // The run from `first` on; every length in it is one that was checked.
  Run find_run(const Record& first, std::uint64_t max_events) const noexcept;
  // Copies the run and checks the copy; a record changed since it was read is a violation.
  CheckedRecords copy_and_check(const Run& run);
  void fail(std::uint64_t position, std::string what);
  void release() noexcept;

  // The ring's indices, for this consumer alone: a moved-from one no longer speaks for the ring.
  struct Indices {
    ringlog::detail::SharedIndices* shared;
    Indices(ringlog::detail::SharedIndices* indices) noexcept : shared(indices) {}
    Indices(Indices&& other) noexcept : shared(std::exchange(other.shared, nullptr)) {}
  };

  ringlog::detail::RingGeometry geometry_;
  Indices indices_;
  std::uint64_t release_every_bytes_;
  std::uint64_t tail_;           // start of the next unread record (or of padding)
  std::uint64_t released_tail_;  // the tail the producer has been shown
  std::vector<std::byte> copy_;  // the last peek's records: sized once, grown only for a large one
  std::optional<RingViolation> violation_;
};

}  // namespace ringlog::ring
