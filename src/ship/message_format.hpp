// The forms events take in a JetStream stream, and reading them back.
//
// A block (the default) is one message carrying a run of consecutive journal events in the
// journal's own framing: per event a 16-byte header (timestamp u64, event type u8, flags u8,
// payload length u16, 4 bytes of 0), the payload, zeros to the next multiple of 8; all little-
// endian. Its headers, each a decimal number unless said:
//   Nats-Msg-Id             the first event's sequence number: a resend reproduces it, and
//                           the stream's duplicate window drops it
//   Ringlog-Block           the format's version, 1
//   Ringlog-First-Sequence  the first event's sequence number; the others follow it, one apart
//   Ringlog-Count           how many events
//   Ringlog-Body-Bytes      the body's length before compression
//   Ringlog-Crc32c          CRC-32C (Castagnoli) of the body before compression
//   Ringlog-Compression     "lz4" (an LZ4 frame) or "zstd" (a Zstandard frame); absent: none.
//                           A body that would not shrink travels uncompressed.
// An event (--format events) is one message whose data is the event's payload, with
// Nats-Msg-Id (its sequence number), Ringlog-Timestamp, Ringlog-Event-Type and Ringlog-Flags.
#pragma once

#include "ship/nats_link.hpp"
#include "ship/ship_format.hpp"

#include <ringlog/journal.hpp>

#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringlog::ship {

// Gathers consecutive events into a block's body, up to a size.
class BlockBuilder {
 public:
  explicit BlockBuilder(std::size_t limit_bytes);

  // Whether `event` fits beside those already in; an empty block takes any event.
  bool fits(const journal::JournalEvent&) const noexcept;
  // Copies `event` in. Contract: it fits, and follows the last one (sequence one more).
  void add(const journal::JournalEvent&);
  void clear() noexcept;

  bool empty() const noexcept { return count_ == 0; }
  std::uint64_t first() const noexcept { return first_; }
  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t end() const noexcept { return first_ + count_; }  // after the last event
  std::span<const std::byte> body() const noexcept { return {body_.data(), used_}; }
  std::size_t limit() const noexcept { return body_.size(); }

 private:
  std::vector<std::byte> body_;  // sized once: adding never allocates
  std::size_t used_ = 0;
  std::uint64_t first_ = 0;
  std::uint64_t count_ = 0;
};

// The message for one event (--format events), or the client's error.
std::expected<NatsMessage, std::string> encode_event(const std::string& subject,
                                                     const journal::JournalEvent&);

// Turns blocks into messages: compresses, checksums and labels them. Keeps its compression
// context and buffer from one block to the next.
class BlockEncoder {
 public:
  explicit BlockEncoder(Compression);
  ~BlockEncoder();
  BlockEncoder(const BlockEncoder&) = delete;
  BlockEncoder& operator=(const BlockEncoder&) = delete;

  std::expected<NatsMessage, std::string> encode(const std::string& subject,
                                                 const BlockBuilder&);

 private:
  struct Context;
  Compression compression_;
  std::unique_ptr<Context> context_;
  std::vector<std::byte> compressed_;
};

// The events a message of either form carries: its first sequence number and its count (1 for
// an event); nullopt when it is not a ringlog message. Headers only: the body is not read.
struct ShippedRange {
  std::uint64_t first = 0;
  std::uint64_t count = 0;
  std::uint64_t journal_bytes = 0;  // the events' size in the journal's framing
  std::uint64_t end() const noexcept { return first + count; }
};
std::optional<ShippedRange> shipped_range(natsMsg*);

// A message's place in its stream, whether a consumer delivered it or the stream's leader was
// asked for it: what errors name, and where a hole before it ends.
std::uint64_t stream_sequence_of(natsMsg*);

// An event read back from a message: its sequence number, header and payload (which points
// into the message, or into the decoder's buffer).
struct ShippedEvent {
  std::uint64_t sequence = 0;
  event::EventHeader header{};
  std::span<const std::byte> payload;
};

// Reads messages of either form back into events, checking what each carries: for a block, its
// version, checksum, length and count, and every event's framing. An error names the stream
// message and the events it should have held; no event of a damaged block is handed out.
class MessageDecoder {
 public:
  MessageDecoder();
  ~MessageDecoder();
  MessageDecoder(const MessageDecoder&) = delete;
  MessageDecoder& operator=(const MessageDecoder&) = delete;

  // on_event(const ShippedEvent&) for each event of `message`, in order, once all are checked.
  std::expected<void, std::string> decode(
      natsMsg* message, const std::function<void(const ShippedEvent&)>& on_event);

 private:
  std::expected<std::span<const std::byte>, std::string> block_body(natsMsg*,
                                                                    const ShippedRange&);
  struct Context;
  std::unique_ptr<Context> context_;
  std::vector<std::byte> decompressed_;
  std::vector<ShippedEvent> events_;
};

}  // namespace ringlog::ship
