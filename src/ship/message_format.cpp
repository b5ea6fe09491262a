#include "ship/message_format.hpp"

#include <ringlog/detail/assert.hpp>
#include <ringlog/detail/crc32c.hpp>
#include <ringlog/detail/framing.hpp>

#include <fmt/format.h>
#include <lz4frame.h>
#include <zstd.h>

#include <charconv>
#include <cstring>

namespace ringlog::ship {
namespace {

constexpr const char* message_id_header = "Nats-Msg-Id";
constexpr const char* timestamp_header = "Ringlog-Timestamp";
constexpr const char* event_type_header = "Ringlog-Event-Type";
constexpr const char* flags_header = "Ringlog-Flags";
constexpr const char* block_header = "Ringlog-Block";
constexpr const char* first_header = "Ringlog-First-Sequence";
constexpr const char* count_header = "Ringlog-Count";
constexpr const char* body_bytes_header = "Ringlog-Body-Bytes";
constexpr const char* crc_header = "Ringlog-Crc32c";
constexpr const char* compression_header = "Ringlog-Compression";
constexpr std::uint64_t block_version = 1;
// Fast: the link's bandwidth is rarely worth more than the shipper's core (zstd -1).
constexpr int zstd_level = 1;

std::optional<std::uint64_t> parse_number(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

std::optional<std::string_view> header_text(natsMsg* message, const char* key) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(message, key, &value) != NATS_OK || value == nullptr) return std::nullopt;
  return value;
}

std::optional<std::uint64_t> header_number(natsMsg* message, const char* key) {
  const auto text = header_text(message, key);
  return text ? parse_number(*text) : std::nullopt;
}

// Decimal text: what NATS tools show, and what a person searching the stream types.
natsStatus set_number(natsMsg* message, const char* key, std::uint64_t value) {
  char text[24];
  *std::to_chars(text, text + sizeof text - 1, value).ptr = '\0';
  return natsMsgHeader_Set(message, key, text);
}

std::span<const std::byte> data_of(natsMsg* message) {
  return {reinterpret_cast<const std::byte*>(natsMsg_GetData(message)),
          std::size_t(natsMsg_GetDataLength(message))};
}

}  // namespace

std::uint64_t stream_sequence_of(natsMsg* message) {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, message) == NATS_OK) {
    const std::uint64_t sequence = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
    return sequence;
  }
  return natsMsg_GetSequence(message);
}

// ---- blocks

BlockBuilder::BlockBuilder(std::size_t limit_bytes) : body_(limit_bytes) {
  // Once a connection: add() copies an event that fits() an empty block without a bound of
  // its own, and readers refuse a body larger than max_block_bytes.
  RINGLOG_CHECK(limit_bytes >= min_block_bytes, "a block takes the largest event");
  RINGLOG_CHECK(limit_bytes <= max_block_bytes, "a block is no larger than readers take");
}

bool BlockBuilder::fits(const journal::JournalEvent& event) const noexcept {
  return used_ + detail::record_size(event.view.header.payload_len) <= body_.size();
}

void BlockBuilder::add(const journal::JournalEvent& event) {
  RINGLOG_ASSERT(fits(event), "add() takes an event that fits");
  RINGLOG_ASSERT(empty() || event.sequence == end(), "a block's events are consecutive");
  if (empty()) first_ = event.sequence;
  event::EventHeader header = event.view.header;
  header.reserved = 0;  // the journal's checksum there is the file's; the block has its own
  const std::size_t size = detail::record_size(header.payload_len);
  std::byte* record = body_.data() + used_;
  std::memcpy(record, &header, event::EventHeader::SIZE);
  std::memcpy(record + event::EventHeader::SIZE, event.view.payload.data(), header.payload_len);
  std::memset(record + header.total_size(), 0, size - header.total_size());
  used_ += size;
  ++count_;
}

void BlockBuilder::clear() noexcept {
  used_ = 0;
  count_ = 0;
}

struct BlockEncoder::Context {
  ZSTD_CCtx* zstd = nullptr;
  ~Context() { ZSTD_freeCCtx(zstd); }
};

BlockEncoder::BlockEncoder(Compression compression)
    : compression_(compression), context_(std::make_unique<Context>()) {
  if (compression_ == Compression::zstd) context_->zstd = ZSTD_createCCtx();
}

BlockEncoder::~BlockEncoder() = default;

std::expected<NatsMessage, std::string> BlockEncoder::encode(const std::string& subject,
                                                             const BlockBuilder& block) {
  // A message of no events names none (Ringlog-Count 0), and every reader refuses it.
  RINGLOG_CHECK(!block.empty(), "only a block with events is encoded");
  const std::span<const std::byte> body = block.body();
  std::span<const std::byte> data = body;
  Compression used = Compression::none;
  if (compression_ != Compression::none) {
    LZ4F_preferences_t lz4{};
    lz4.frameInfo.contentSize = body.size();
    const std::size_t bound = compression_ == Compression::lz4
                                  ? LZ4F_compressFrameBound(body.size(), &lz4)
                                  : ZSTD_compressBound(body.size());
    if (compressed_.size() < bound) compressed_.resize(bound);
    const std::size_t size =
        compression_ == Compression::lz4
            ? LZ4F_compressFrame(compressed_.data(), bound, body.data(), body.size(), &lz4)
            : ZSTD_compressCCtx(context_->zstd, compressed_.data(), bound, body.data(),
                                body.size(), zstd_level);
    const bool failed = compression_ == Compression::lz4 ? LZ4F_isError(size) : ZSTD_isError(size);
    if (failed) {
      return std::unexpected(fmt::format("{} compression of events {} to {} failed",
                                         name_of(compression_), block.first(), block.end() - 1));
    }
    if (size < body.size()) {  // else it travels as it is
      data = {compressed_.data(), size};
      used = compression_;
    }
  }
  natsMsg* raw = nullptr;
  natsStatus s = natsMsg_Create(&raw, subject.c_str(), nullptr,
                                reinterpret_cast<const char*>(data.data()), int(data.size()));
  NatsMessage message(raw);
  for (const auto& [key, value] :
       {std::pair{message_id_header, block.first()}, std::pair{block_header, block_version},
        std::pair{first_header, block.first()}, std::pair{count_header, block.count()},
        std::pair{body_bytes_header, std::uint64_t(body.size())},
        std::pair{crc_header, std::uint64_t(detail::crc32c(0, body.data(), body.size()))}}) {
    if (s == NATS_OK) s = set_number(message.get(), key, value);
  }
  if (s == NATS_OK && used != Compression::none) {
    s = natsMsgHeader_Set(message.get(), compression_header, name_of(used).data());
  }
  if (s != NATS_OK) {
    return std::unexpected(nats_error(
        fmt::format("message for events {} to {}", block.first(), block.end() - 1), s));
  }
  return message;
}

// ---- events, one a message

std::expected<NatsMessage, std::string> encode_event(const std::string& subject,
                                                     const journal::JournalEvent& event) {
  const event::EventHeader& header = event.view.header;
  natsMsg* raw = nullptr;
  natsStatus s = natsMsg_Create(&raw, subject.c_str(), nullptr,
                                reinterpret_cast<const char*>(event.view.payload.data()),
                                int(event.view.payload.size()));
  NatsMessage message(raw);
  for (const auto& [key, value] : {std::pair{message_id_header, event.sequence},
                                   std::pair{timestamp_header, header.timestamp},
                                   std::pair{event_type_header, std::uint64_t(header.event_type)},
                                   std::pair{flags_header, std::uint64_t(header.flags)}}) {
    if (s == NATS_OK) s = set_number(message.get(), key, value);
  }
  if (s != NATS_OK) {
    return std::unexpected(nats_error(fmt::format("message for event {}", event.sequence), s));
  }
  return message;
}

std::optional<ShippedRange> shipped_range(natsMsg* message) {
  if (header_text(message, block_header)) {
    const auto first = header_number(message, first_header);
    const auto count = header_number(message, count_header);
    const auto body_bytes = header_number(message, body_bytes_header);
    if (!first || !count || !body_bytes) return std::nullopt;
    return ShippedRange{*first, *count, *body_bytes};
  }
  const auto sequence = header_number(message, message_id_header);
  if (!sequence) return std::nullopt;
  return ShippedRange{*sequence, 1, detail::record_size(data_of(message).size())};
}

// ---- reading back

struct MessageDecoder::Context {
  LZ4F_dctx* lz4 = nullptr;
  ZSTD_DCtx* zstd = nullptr;
  ~Context() {
    LZ4F_freeDecompressionContext(lz4);
    ZSTD_freeDCtx(zstd);
  }
};

MessageDecoder::MessageDecoder() : context_(std::make_unique<Context>()) {
  (void)LZ4F_createDecompressionContext(&context_->lz4, LZ4F_VERSION);
  context_->zstd = ZSTD_createDCtx();
}

MessageDecoder::~MessageDecoder() = default;

namespace {

std::expected<ShippedEvent, std::string> decode_event(natsMsg* message) {
  const std::optional<std::uint64_t> sequence = header_number(message, message_id_header);
  const std::optional<std::uint64_t> timestamp = header_number(message, timestamp_header);
  const std::optional<std::uint64_t> type = header_number(message, event_type_header);
  const std::optional<std::uint64_t> flags = header_number(message, flags_header);
  const std::span<const std::byte> payload = data_of(message);
  if (!sequence || !timestamp || !type || *type > 0xff || !flags || *flags > 0xff ||
      payload.size() > 0xffff) {
    return std::unexpected(fmt::format(
        "stream message {} on {} is not a ringlog event: it lacks the {}, {}, {} and {} headers "
        "or one is out of range", stream_sequence_of(message), natsMsg_GetSubject(message),
        message_id_header, timestamp_header, event_type_header, flags_header));
  }
  ShippedEvent event;
  event.sequence = *sequence;
  event.header = event::EventHeader(*timestamp, std::uint8_t(*type), std::uint16_t(payload.size()));
  event.header.flags = std::uint8_t(*flags);
  event.payload = payload;
  return event;
}

}  // namespace

std::expected<void, std::string> MessageDecoder::decode(
    natsMsg* message, const std::function<void(const ShippedEvent&)>& on_event) {
  if (!header_text(message, block_header)) {
    auto event = decode_event(message);
    if (!event) return std::unexpected(event.error());
    on_event(*event);
    return {};
  }
  const std::optional<ShippedRange> range = shipped_range(message);
  const auto damaged = [&](std::string_view what) {
    return std::unexpected(fmt::format(
        "stream message {} (a block of events {} to {}) is damaged: {}",
        stream_sequence_of(message), range->first, range->end() - 1, what));
  };
  const auto version = header_number(message, block_header);
  const auto said_crc = header_number(message, crc_header);
  if (!range || range->count == 0 || !said_crc || !version) {
    return std::unexpected(fmt::format(
        "stream message {} on {} is not a ringlog block: it lacks the {}, {}, {} or {} header, "
        "or one is out of range", stream_sequence_of(message), natsMsg_GetSubject(message),
        first_header, count_header, body_bytes_header, crc_header));
  }
  if (*version != block_version) {
    return damaged(fmt::format("it is of block version {}; this reader knows {}", *version,
                               block_version));
  }
  auto body = block_body(message, *range);
  if (!body) return damaged(body.error());
  const std::uint64_t crc = detail::crc32c(0, body->data(), body->size());
  if (crc != *said_crc) {
    return damaged(fmt::format("its body's CRC-32C is {}, its {} header says {}", crc,
                               crc_header, *said_crc));
  }
  // Every event checked before the first is handed out: a damaged block yields none.
  events_.clear();
  std::size_t at = 0;
  for (std::uint64_t i = 0; i < range->count; ++i) {
    event::EventHeader header;
    if (body->size() - at < event::EventHeader::SIZE) return damaged("it ends inside an event");
    std::memcpy(&header, body->data() + at, event::EventHeader::SIZE);
    const std::size_t size = detail::record_size(header.payload_len);
    if (body->size() - at < size) return damaged("it ends inside an event");
    if (detail::is_framing(header)) return damaged("it holds a journal framing record");
    events_.push_back({range->first + i, header,
                       body->subspan(at + event::EventHeader::SIZE, header.payload_len)});
    at += size;
  }
  // Each step was bounded by the bytes left: what follows subtracts `at` from the body's size.
  RINGLOG_CHECK(at <= body->size(), "decoding stays within the block's body");
  if (at != body->size()) {
    return damaged(fmt::format("it holds {} bytes past its {} events", body->size() - at,
                               range->count));
  }
  for (const ShippedEvent& event : events_) on_event(event);
  return {};
}

std::expected<std::span<const std::byte>, std::string> MessageDecoder::block_body(
    natsMsg* message, const ShippedRange& range) {
  const std::span<const std::byte> data = data_of(message);
  const std::uint64_t body_bytes = range.journal_bytes;
  const auto compression_text = header_text(message, compression_header);
  if (!compression_text) {
    if (data.size() != body_bytes) {
      return std::unexpected(fmt::format("its body has {} bytes, its {} header says {}",
                                         data.size(), body_bytes_header, body_bytes));
    }
    return data;
  }
  const std::optional<Compression> compression = compression_named(*compression_text);
  if (!compression || *compression == Compression::none) {
    return std::unexpected(fmt::format("unknown compression \"{}\"", *compression_text));
  }
  if (body_bytes > max_block_bytes) {
    return std::unexpected(fmt::format("its {} header says {}, more than a block may hold",
                                       body_bytes_header, body_bytes));
  }
  decompressed_.resize(body_bytes);
  std::size_t produced = 0;
  bool failed = false;
  if (*compression == Compression::zstd) {
    produced = ZSTD_decompressDCtx(context_->zstd, decompressed_.data(), body_bytes, data.data(),
                                   data.size());
    failed = ZSTD_isError(produced);
  } else {
    LZ4F_resetDecompressionContext(context_->lz4);
    std::size_t taken = 0;
    std::size_t more = 1;  // LZ4F_decompress's hint: 0 once the frame is whole
    while (more != 0 && !failed && taken < data.size()) {
      std::size_t out = body_bytes - produced;
      std::size_t in = data.size() - taken;
      more = LZ4F_decompress(context_->lz4, decompressed_.data() + produced, &out,
                             data.data() + taken, &in, nullptr);
      failed = LZ4F_isError(more) || (in == 0 && out == 0);
      produced += out;
      taken += in;
    }
    failed = failed || more != 0 || taken != data.size();
  }
  if (failed || produced != body_bytes) {
    return std::unexpected(fmt::format("its {} body does not decompress to the {} bytes its {} "
                                       "header says", *compression_text, body_bytes,
                                       body_bytes_header));
  }
  return std::span<const std::byte>(decompressed_.data(), body_bytes);
}

}  // namespace ringlog::ship
