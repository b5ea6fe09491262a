// The forms a stream's messages take, encoded and decoded without a server: a block in each
// compression, a block that would not shrink, damaged blocks whose errors name their events, and
// the shipper's metrics text; and, against a nats-server, fetch refusing a damaged block.
#include "ship/message_format.hpp"
#include "ship/shipper.hpp"
#include "ship_support.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <ranges>
#include <string>
#include <utility>
#include <vector>

namespace ringlog::ship {
namespace {

using namespace ship_test;

// The events of `directory` gathered into one block, as the shipper gathers them: from the
// first, until one does not fit or `most` are in.
BlockBuilder block_of(const std::filesystem::path& directory, std::uint64_t most = UINT64_MAX) {
  BlockBuilder block(std::size_t{256} << 10);
  auto reader = JournalReader::open(directory);
  if (!reader) {
    ADD_FAILURE() << reader.error().message();
    return block;
  }
  while (block.count() < most) {
    const std::optional<JournalEvent> event = reader->next();
    if (!event || !block.fits(*event)) break;
    block.add(*event);
  }
  return block;
}

// The events a message decodes to, or the decoder's error.
std::expected<std::vector<ShippedEvent>, std::string> decoded(MessageDecoder& decoder,
                                                              natsMsg* message) {
  std::vector<ShippedEvent> events;
  auto result = decoder.decode(message, [&](const ShippedEvent& event) { events.push_back(event); });
  if (!result) return std::unexpected(result.error());
  return events;
}

// A copy of `message` with other data, or one header changed: a block damaged on its way.
NatsMessage altered(natsMsg* message, std::span<const std::byte> data,
                    const char* changed_key = nullptr, const char* changed_value = nullptr) {
  natsMsg* raw = nullptr;
  if (natsMsg_Create(&raw, natsMsg_GetSubject(message), nullptr,
                     reinterpret_cast<const char*>(data.data()), int(data.size())) != NATS_OK) {
    throw std::runtime_error("natsMsg_Create failed");  // gtest reports it as the failure
  }
  NatsMessage copy(raw);
  const char** keys = nullptr;
  int count = 0;
  EXPECT_EQ(natsMsgHeader_Keys(message, &keys, &count), NATS_OK);
  for (int i = 0; i < count; ++i) {
    const char* value = nullptr;
    natsMsgHeader_Get(message, keys[i], &value);
    const bool changed = changed_key != nullptr && std::string_view(keys[i]) == changed_key;
    natsMsgHeader_Set(copy.get(), keys[i], changed ? changed_value : value);
  }
  std::free(keys);
  return copy;
}

std::span<const std::byte> data_of(natsMsg* message) {
  return {reinterpret_cast<const std::byte*>(natsMsg_GetData(message)),
          std::size_t(natsMsg_GetDataLength(message))};
}

// Messages made and read without a connection: the client library must be opened by hand.
class message_format : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(nats_Open(-1), NATS_OK); }
};

TEST(ship_metrics, each_family_has_help_and_type_and_the_stream_name_is_quoted) {
  ship::ShipStatus status;
  status.stream = "orders \"eu\"\\2";  // orders "eu"\2
  status.shipped = 42;
  const std::string text = ship::to_prometheus(status);
  EXPECT_NE(text.find("ringlog_ship_shipped_events_total{stream=\"orders \\\"eu\\\"\\\\2\"} 42\n"),
            std::string::npos) << text;
  std::size_t families = 0;
  std::size_t samples = 0;
  for (const auto line : std::views::split(text, '\n')) {
    const std::string_view row(line.begin(), line.end());
    if (row.starts_with("# HELP ")) ++families;
    else if (!row.empty() && !row.starts_with("# TYPE ")) ++samples;
  }
  EXPECT_EQ(std::ranges::count(text, '\n'), 3 * families) << text;
  EXPECT_EQ(samples, families) << text;
}

TEST_F(message_format, a_block_decodes_to_its_events_byte_for_byte_in_each_compression) {
  test::TempDir dir;
  write_journal(dir.path() / "journal", 20'000);
  const BlockBuilder block = block_of(dir.path() / "journal");
  ASSERT_GT(block.count(), 1000u);
  ASSERT_LT(block.count(), 20'000u) << "a block holds 256 KiB at most";
  for (const Compression compression : {Compression::none, Compression::lz4, Compression::zstd}) {
    BlockEncoder encoder(compression);
    auto message = encoder.encode("ringlog.test", block);
    ASSERT_TRUE(message.has_value()) << message.error();
    const std::optional<ShippedRange> range = shipped_range(message->get());
    ASSERT_TRUE(range.has_value());
    EXPECT_EQ(range->first, 0u);
    EXPECT_EQ(range->count, block.count());
    EXPECT_EQ(range->journal_bytes, block.body().size());
    if (compression != Compression::none) {
      EXPECT_LT(data_of(message->get()).size(), block.body().size() / 2) << name_of(compression);
    }
    MessageDecoder decoder;
    auto events = decoded(decoder, message->get());
    ASSERT_TRUE(events.has_value()) << events.error();
    ASSERT_EQ(events->size(), block.count());
    for (const ShippedEvent& event : *events) {
      const auto payload = test::make_payload(event.sequence, payload_size_of(event.sequence));
      ASSERT_EQ(event.header.timestamp, event.sequence);
      ASSERT_EQ(event.header.event_type, event.sequence % 7);
      ASSERT_EQ(event.header.flags, event.sequence % 3);
      ASSERT_TRUE(std::ranges::equal(event.payload, payload)) << "event " << event.sequence;
    }
  }
}

TEST_F(message_format, a_damaged_block_yields_no_event_and_its_error_names_the_events) {
  test::TempDir dir;
  write_journal(dir.path() / "journal", 500);
  const BlockBuilder block = block_of(dir.path() / "journal");
  ASSERT_EQ(block.count(), 500u);
  for (const Compression compression : {Compression::none, Compression::zstd}) {
    BlockEncoder encoder(compression);
    auto message = encoder.encode("ringlog.test", block);
    ASSERT_TRUE(message.has_value());
    const std::span<const std::byte> data = data_of(message->get());
    std::vector<std::byte> flipped(data.begin(), data.end());
    flipped[flipped.size() / 2] ^= std::byte{0x10};
    const std::vector<std::pair<std::string, NatsMessage>> damages = [&] {
      std::vector<std::pair<std::string, NatsMessage>> made;
      // A flipped compressed byte may fail decompression, or decompress to other bytes.
      made.emplace_back(compression == Compression::none ? "CRC-32C" : "",
                        altered(message->get(), flipped));
      made.emplace_back("", altered(message->get(), data.first(data.size() - 8)));
      made.emplace_back("", altered(message->get(), data, "Ringlog-Count", "499"));
      made.emplace_back("block version 2", altered(message->get(), data, "Ringlog-Block", "2"));
      made.emplace_back("CRC-32C", altered(message->get(), data, "Ringlog-Crc32c", "12345"));
      return made;
    }();
    for (const auto& [expected, damaged] : damages) {
      MessageDecoder decoder;
      auto events = decoded(decoder, damaged.get());
      ASSERT_FALSE(events.has_value()) << name_of(compression) << ": " << expected;
      EXPECT_NE(events.error().find("(a block of events 0 to"), std::string::npos) << events.error();
      EXPECT_NE(events.error().find(expected), std::string::npos) << events.error();
    }
  }
}

TEST_F(message_format, a_block_that_would_not_shrink_travels_uncompressed) {
  test::TempDir dir;
  journal::JournalOptions options;
  auto journal = Journal::open(dir.path() / "journal", options);
  ASSERT_TRUE(journal.has_value());
  // Large random payloads: what an LZ4 frame saves on the headers, it loses on the noise.
  std::mt19937_64 random(7);
  for (std::uint64_t sequence = 0; sequence < 3; ++sequence) {
    std::vector<std::byte> noise(60'000);
    for (std::byte& b : noise) b = std::byte(random());
    ASSERT_TRUE(journal->append(test::header_for(sequence, noise.size()), noise));
  }
  ASSERT_TRUE(journal->sync().has_value());
  const BlockBuilder block = block_of(dir.path() / "journal");
  BlockEncoder encoder(Compression::lz4);
  auto message = encoder.encode("ringlog.test", block);
  ASSERT_TRUE(message.has_value());
  const char* compression = nullptr;
  EXPECT_NE(natsMsgHeader_Get(message->get(), "Ringlog-Compression", &compression), NATS_OK);
  EXPECT_EQ(data_of(message->get()).size(), block.body().size());
  MessageDecoder decoder;
  auto events = decoded(decoder, message->get());
  ASSERT_TRUE(events.has_value()) << events.error();
  EXPECT_EQ(events->size(), 3u);
}

// The one-server fixture (ship_support.hpp), for what only blocks have.
class ship_blocks_to_one_server : public ship_to_one_server {};
INSTANTIATE_TEST_SUITE_P(in_each_compression, ship_blocks_to_one_server,
                         ::testing::ValuesIn(block_forms), name_of_form);

TEST_P(ship_blocks_to_one_server, fetch_refuses_a_damaged_block_and_names_its_events) {
  constexpr std::uint64_t count = 10'000;
  auto shipper = Shipper::start(shipping(journal(count)));
  ASSERT_TRUE(shipper.has_value()) << shipper.error();
  ASSERT_TRUE(eventually([&] { return (*shipper)->status().shipped == count; }));
  (*shipper)->stop();

  // The next block, damaged on its way into the stream: one flipped byte.
  write_journal(dir.path() / "journal", count + 300);
  auto reader = JournalReader::open(dir.path() / "journal");
  ASSERT_TRUE(reader.has_value());
  reader->seek(count);
  BlockBuilder block(min_block_bytes);
  while (const std::optional<JournalEvent> event = reader->next()) block.add(*event);
  BlockEncoder encoder(GetParam().compression);
  auto message = encoder.encode(endpoint.subject, block);
  ASSERT_TRUE(message.has_value());
  std::vector<std::byte> flipped(data_of(message->get()).begin(), data_of(message->get()).end());
  flipped[flipped.size() / 2] ^= std::byte{0x01};
  NatsMessage damaged = altered(message->get(), flipped);
  auto link = NatsLink::connect(endpoint, "ringlog-test");
  ASSERT_TRUE(link.has_value());
  ASSERT_EQ(js_PublishMsg(nullptr, (*link)->jetstream(), damaged.get(), nullptr, nullptr), NATS_OK);

  auto fetched = fetch_journal({endpoint, dir.path() / "copy", {}});
  ASSERT_FALSE(fetched.has_value());
  EXPECT_EQ(fetched.error().code, ringlog::SetupErrc::stream_unavailable);
  EXPECT_NE(fetched.error().message().find("(a block of events 10000 to 10299) is damaged"),
            std::string::npos) << fetched.error();
}

}  // namespace
}  // namespace ringlog::ship
