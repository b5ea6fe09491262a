// Payload schemas (tier: suite): parsing with each refusal at its line, decoding every field type
// at unaligned offsets, the field filter, and the tools' event printer on short payloads.
#include "programs/ringlog/event_printer.hpp"
#include "programs/ringlog/market_data.hpp"
#include "schema/payload_decode.hpp"
#include "schema/payload_schema.hpp"
#include "schema/time_text.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace ringlog::schema {
namespace {

std::string refusal(std::string_view text) {
  const auto parsed = Schema::parse(text, "s.toml");
  return parsed ? std::string("accepted") : parsed.error().message();
}

TEST(schema, the_demo_schema_names_quotes_and_trades_field_by_field) {
  const auto parsed = Schema::parse(programs::market_data_schema, "market_data.toml");
  ASSERT_TRUE(parsed) << parsed.error().message();
  const EventSchema* quote = parsed->find("quote");
  ASSERT_NE(quote, nullptr);
  EXPECT_EQ(parsed->find(std::uint8_t{1}), quote);
  const EventSchema* trade = parsed->find(std::uint8_t{2});
  ASSERT_NE(trade, nullptr);
  EXPECT_EQ(trade->name, "trade");
  EXPECT_EQ(parsed->find(std::uint8_t{3}), nullptr);
  EXPECT_EQ(quote->payload_len, sizeof(programs::Tick));
  const Field* price = quote->field("price_ticks");
  ASSERT_NE(price, nullptr);
  EXPECT_EQ(price->offset, offsetof(programs::Tick, price_ticks));
  EXPECT_EQ(price->type, FieldType::i64);
  EXPECT_EQ(price->unit, "ticks");
  EXPECT_EQ(quote->field("instrument")->offset, offsetof(programs::Tick, instrument));
  EXPECT_EQ(quote->field("side")->offset, offsetof(programs::Tick, side));
}

TEST(schema, each_mistake_is_refused_with_its_file_and_line) {
  constexpr std::string_view head = "[quote]\nevent_type = 1\npayload_len = 16\nfields = [\n";
  const auto with_fields = [&](std::string_view fields) {
    return refusal(std::string(head) + std::string(fields) + "]\n");
  };
  EXPECT_EQ(with_fields("  { name = \"a\", type = \"u64\", offset = 0 },\n"
                        "  { name = \"b\", type = \"u32\", offset = 6 },\n"),
            "s.toml:6: field \"b\" (bytes 6 to 9) overlaps field \"a\" (bytes 0 to 7)");
  EXPECT_EQ(with_fields("  { name = \"a\", type = \"u64\", offset = 12 },\n"),
            "s.toml:5: field \"a\" (bytes 12 to 19) reaches past payload_len 16 of [quote]");
  EXPECT_EQ(with_fields("  { name = \"a\", type = \"u128\", offset = 0 },\n"),
            "s.toml:5: field \"a\": unknown type \"u128\" (known: u8, u16, u32, u64, i8, i16, "
            "i32, i64, f32, f64, char[N], bytes[N], timestamp_ns)");
  EXPECT_EQ(with_fields("  { name = \"a\", type = \"char[0]\", offset = 0 },\n"),
            "s.toml:5: field \"a\": char[0]: N is from 1 to 65535");
  EXPECT_EQ(with_fields("  { name = \"a\", type = \"u8\", offset = 0 },\n"
                        "  { name = \"a\", type = \"u8\", offset = 1 },\n"),
            "s.toml:6: field \"a\" is named twice in [quote]");
  EXPECT_EQ(with_fields("  { name = \"sequence\", type = \"u8\", offset = 0 },\n"),
            "s.toml:5: field \"sequence\": the name is reserved for what the tools print of "
            "every event (sequence, timestamp, time, type, flags, damaged)");
  EXPECT_EQ(with_fields("  { name = \"a\", type = \"u8\", offset = 0, units = \"ns\" },\n"),
            "s.toml:5: unknown key \"units\" (known: name, type, offset, unit)");
  EXPECT_EQ(with_fields("  { name = \"a\", type = \"u8\" },\n"), "s.toml:5: offset is missing");
  EXPECT_EQ(refusal("[quote]\nevent_type = 256\npayload_len = 8\nfields = []\n"),
            "s.toml:2: event_type: expected an integer from 0 to 255");
  EXPECT_EQ(refusal("[quote]\npayload_len = 8\nfields = []\n"), "s.toml:1: event_type is missing");
  EXPECT_EQ(refusal("[a]\nevent_type = 1\npayload_len = 8\nfields = []\n"
                    "[b]\nevent_type = 1\npayload_len = 8\nfields = []\n"),
            "s.toml:5: [b]: event_type 1 is [a]'s already");
  // In the file's order, whatever the names' order: the second one is blamed.
  EXPECT_EQ(refusal("[b]\nevent_type = 1\npayload_len = 8\nfields = []\n"
                    "[a]\nevent_type = 1\npayload_len = 8\nfields = []\n"),
            "s.toml:5: [a]: event_type 1 is [b]'s already");
  EXPECT_EQ(with_fields("  { name = \"a\", type = \"char[99999999999]\", offset = 0 },\n"),
            "s.toml:5: field \"a\": char[99999999999]: N is from 1 to 65535");
  EXPECT_EQ(refusal("# nothing\n"), "s.toml:1: names no event type ([name] tables with "
                                    "event_type, payload_len and fields)");
  EXPECT_EQ(refusal("[quote\n"), refusal("[quote\n"));  // deterministic
  EXPECT_TRUE(refusal("[quote\n").starts_with("s.toml:1: ")) << refusal("[quote\n");
  EXPECT_EQ(with_fields("  { name = \"a\", type = \"u8\", offset = 0 },\n"
                        "  { name = \"b\", type = \"u8\", offset = 15 },\n"),
            "accepted");  // gaps are padding
}

// A payload holding every type, each at an odd offset.
struct EveryType {
  Schema schema;
  std::vector<std::byte> payload;
  const EventSchema& event() const { return *schema.find(std::uint8_t{7}); }
};

EveryType every_type() {
  const auto parsed = Schema::load(RINGLOG_SOURCE_DIR "/tests/every_type.schema.toml");
  EXPECT_TRUE(parsed) << parsed.error().message();
  std::vector<std::byte> payload(64, std::byte{0xee});
  const auto put = [&](std::size_t offset, auto value) {
    std::memcpy(payload.data() + offset, &value, sizeof value);
  };
  put(1, std::uint8_t{200});
  put(3, std::uint16_t{60000});
  put(5, std::uint32_t{4000000000u});
  put(9, std::uint64_t{18000000000000000000u});
  put(17, std::int8_t{-100});
  put(19, std::int16_t{-30000});
  put(21, std::int32_t{-2000000000});
  put(25, std::int64_t{-9000000000000000000});
  put(33, 1.5f);
  put(37, -0.1);
  std::memcpy(payload.data() + 45, "ab\"\\\n\0zz", 8);
  put(53, std::array<std::uint8_t, 3>{0x01, 0xab, 0xff});
  put(56, std::uint64_t{1796601600000000001});  // 2026-12-07T00:00:00.000000001Z
  return {*parsed, payload};
}

TEST(schema, every_type_decodes_at_unaligned_offsets) {
  const EveryType sample = every_type();
  const EventSchema& event = sample.event();
  const auto value = [&](std::string_view name) {
    return read_field(*event.field(name), sample.payload);
  };
  EXPECT_EQ(std::get<std::uint64_t>(value("u8v")), 200u);
  EXPECT_EQ(std::get<std::uint64_t>(value("u16v")), 60000u);
  EXPECT_EQ(std::get<std::uint64_t>(value("u32v")), 4000000000u);
  EXPECT_EQ(std::get<std::uint64_t>(value("u64v")), 18000000000000000000u);
  EXPECT_EQ(std::get<std::int64_t>(value("i8v")), -100);
  EXPECT_EQ(std::get<std::int64_t>(value("i16v")), -30000);
  EXPECT_EQ(std::get<std::int64_t>(value("i32v")), -2000000000);
  EXPECT_EQ(std::get<std::int64_t>(value("i64v")), -9000000000000000000);
  EXPECT_EQ(std::get<double>(value("f32v")), 1.5);
  EXPECT_EQ(std::get<double>(value("f64v")), -0.1);
  EXPECT_EQ(std::get<std::string_view>(value("text")), "ab\"\\\n");
  EXPECT_EQ(std::get<std::span<const std::byte>>(value("raw")).size(), 3u);
  EXPECT_EQ(std::get<std::uint64_t>(value("at")), 1796601600000000001u);

  std::string json;
  append_json_fields(json, event, sample.payload, {.utc = true});
  EXPECT_EQ(json, ",\"u8v\":200,\"u16v\":60000,\"u32v\":4000000000,\"u64v\":18000000000000000000,"
                  "\"i8v\":-100,\"i16v\":-30000,\"i32v\":-2000000000,"
                  "\"i64v\":-9000000000000000000,\"f32v\":1.5,\"f64v\":-0.1,"
                  "\"text\":\"ab\\\"\\\\\\u000a\",\"raw\":\"01abff\","
                  "\"at\":\"2026-12-07T00:00:00.000000001Z\"");
  std::string text;
  append_text_fields(text, event, sample.payload, {.utc = false});
  EXPECT_EQ(text, "  u8v=200  u16v=60000  u32v=4000000000  u64v=18000000000000000000  i8v=-100"
                  "  i16v=-30000  i32v=-2000000000  i64v=-9000000000000000000  f32v=1.5"
                  "  f64v=-0.1  text=ab\"\\x5c\\x0a  raw=01abff  at=1796601600000000001 ns");
}

TEST(schema, an_f32_reads_and_matches_as_the_float_it_holds) {
  const auto parsed = Schema::parse(
      "[m]\nevent_type = 3\npayload_len = 4\nfields = [{ name = \"x\", type = \"f32\", offset = 0 }]\n",
      "f.toml");
  ASSERT_TRUE(parsed) << parsed.error().message();
  const EventSchema& event = *parsed->find("m");
  std::array<std::byte, 4> payload;
  const float tenth = 0.1f;
  std::memcpy(payload.data(), &tenth, sizeof tenth);
  std::string text, json;
  append_text_fields(text, event, payload, {});
  append_json_fields(json, event, payload, {});
  EXPECT_EQ(text, "  x=0.1");
  EXPECT_EQ(json, ",\"x\":0.1");
  EXPECT_TRUE(FieldFilter::parse("x=0.1", *parsed)->matches(event, payload));
}

TEST(schema, numbers_json_cannot_hold_are_null) {
  EveryType sample = every_type();
  const double nan = std::nan("");
  std::memcpy(sample.payload.data() + 37, &nan, sizeof nan);
  std::string json;
  append_json_fields(json, sample.event(), sample.payload, {});
  EXPECT_NE(json.find(",\"f64v\":null,"), std::string::npos) << json;
}

TEST(schema, a_field_filter_compares_the_value_as_the_field_holds_it) {
  const EveryType sample = every_type();
  const auto matches = [&](std::string_view where) {
    const auto filter = FieldFilter::parse(where, sample.schema);
    EXPECT_TRUE(filter) << filter.error();
    return filter && filter->matches(sample.event(), sample.payload);
  };
  EXPECT_TRUE(matches("u32v=4000000000"));
  EXPECT_FALSE(matches("u32v=4000000001"));
  EXPECT_TRUE(matches("i16v=-30000"));
  EXPECT_TRUE(matches("f32v=1.5"));
  EXPECT_TRUE(matches("text=ab\"\\\n"));
  EXPECT_FALSE(matches("text=ab"));
  EXPECT_TRUE(matches("raw=01abff"));
  EXPECT_TRUE(matches("at=2026-12-07T00:00:00.000000001Z"));
  EXPECT_TRUE(matches("at=1796601600000000001"));
  // A payload too short for its schema never matches (and is never read).
  const std::vector<std::byte> short_payload(sample.payload.begin(), sample.payload.begin() + 40);
  EXPECT_FALSE(FieldFilter::parse("u8v=200", sample.schema)->matches(sample.event(), short_payload));
  EXPECT_EQ(FieldFilter::parse("u8v=300", sample.schema).error(),
            "--where u8v=300: \"300\" is no value of u8 u8v in [sample]");
  EXPECT_EQ(FieldFilter::parse("nope=1", sample.schema).error(),
            "--where nope=1: no event type of the schema has a field \"nope\"");
  EXPECT_EQ(FieldFilter::parse("u8v", sample.schema).error(), "--where u8v: expected field=value");
  EXPECT_FALSE(FieldFilter::parse("raw=01ab", sample.schema));  // bytes[3] is 6 hex digits
}

TEST(schema, times_read_and_written_as_utc_agree) {
  EXPECT_EQ(utc_text(1796601600000000001), "2026-12-07T00:00:00.000000001Z");
  EXPECT_EQ(parse_time("2026-12-07T00:00:00.000000001Z"), 1796601600000000001u);
  EXPECT_EQ(parse_time("2026-12-07 00:00:00.5"), 1796601600500000000u);
  EXPECT_EQ(parse_time("1796601600000000001"), 1796601600000000001u);
  EXPECT_FALSE(parse_time("yesterday"));
  EXPECT_FALSE(parse_time("2026-13-07T00:00:00Z"));  // no month 13, no hour 25
  EXPECT_FALSE(parse_time("2026-12-07T25:00:00Z"));
  EXPECT_FALSE(parse_time("2300-01-01T00:00:00Z"));  // past 64-bit nanoseconds' datetime64
  EXPECT_FALSE(parse_time("2026-12-07T00:00:00+01:00"));
}

TEST(schema, a_journal_carries_its_schema_and_the_tools_find_it) {
  test::TempDir dir;
  const auto parsed = Schema::parse(programs::market_data_schema, "market_data.toml");
  ASSERT_TRUE(install_schema(*parsed, dir.path()));
  const auto found = schema_for(dir.path(), {});
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->text(), parsed->text());
  EXPECT_FALSE(std::filesystem::exists(dir / "schema.toml.new"));
  // Given explicitly, another file wins; a log file's directory is its journal's; a journal
  // not made yet has none.
  std::ofstream(dir / "00000000000000000000.evtl") << "a segment";
  EXPECT_FALSE(*schema_for(dir / "not-yet", {}));
  const auto other = dir / "other.toml";
  std::ofstream(other) << "[x]\nevent_type = 9\npayload_len = 1\nfields = []\n";
  EXPECT_EQ((*schema_for(dir / "00000000000000000000.evtl", other))->events()[0].name, "x");
  EXPECT_EQ((*schema_for(dir / "00000000000000000000.evtl", {}))->events().size(), 2u);
  test::TempDir empty;
  EXPECT_FALSE(*schema_for(empty.path(), {}));
  std::ofstream(empty / "schema.toml") << "[x]\nevent_type = 1\n";
  EXPECT_EQ(schema_for(empty.path(), {}).error().message(),
            (empty / "schema.toml").string() + ":1: payload_len is missing");
}

std::string printed(programs::EventPrinter& printer, std::uint8_t type,
                    std::span<const std::byte> payload) {
  event::EventHeader header(1000, type, static_cast<std::uint16_t>(payload.size()));
  std::FILE* out = std::tmpfile();
  printer.print(5, {header, payload}, out);
  std::string text(4096, '\0');
  std::rewind(out);
  text.resize(std::fread(text.data(), 1, text.size(), out));
  std::fclose(out);
  return text;
}

TEST(schema, a_payload_shorter_than_its_schema_is_shown_damaged_and_raw) {
  test::TempDir dir;
  install_schema(*Schema::parse(programs::market_data_schema, "m.toml"), dir.path());
  auto json = programs::EventPrinter::make(dir.path(), {.json = true}, {});
  ASSERT_TRUE(json) << json.error();
  // Exactly as long as it says: a read past it is a heap overflow under AddressSanitizer.
  const auto short_payload = std::make_unique<std::byte[]>(20);
  std::memset(short_payload.get(), 0xab, 20);
  std::string hex;
  for (int i = 0; i < 20; ++i) hex += "ab";
  EXPECT_EQ(printed(*json, 1, {short_payload.get(), 20}),
            "{\"sequence\":5,\"timestamp\":1000,\"type\":\"quote\",\"damaged\":\"payload_len 20 "
            "is shorter than the schema's 32\",\"event_type\":1,\"flags\":0,\"payload_len\":20,"
            "\"payload\":\"" + hex + "\"}\n");
  auto text = programs::EventPrinter::make(dir.path(), {}, {});
  EXPECT_NE(printed(*text, 1, {short_payload.get(), 20}).find("  quote  DAMAGED: payload_len 20 "
                                                               "is shorter than the schema's 32"),
            std::string::npos);
  // A type the schema does not name stays hex.
  EXPECT_EQ(printed(*json, 9, {short_payload.get(), 2}),
            "{\"sequence\":5,\"timestamp\":1000,\"event_type\":9,\"flags\":0,\"payload_len\":2,"
            "\"payload\":\"abab\"}\n");
}

TEST(schema, the_printer_selects_by_type_and_field) {
  test::TempDir dir;
  install_schema(*Schema::parse(programs::market_data_schema, "m.toml"), dir.path());
  std::vector<std::byte> payload(sizeof(programs::Tick));
  programs::fill_tick(0, payload);  // instrument 35
  auto quotes = programs::EventPrinter::make(dir.path(), {}, {{}, "quote", {"instrument=35"}});
  ASSERT_TRUE(quotes) << quotes.error();
  EXPECT_NE(printed(*quotes, 1, payload), "");
  EXPECT_EQ(printed(*quotes, 2, payload), "");  // a trade
  auto other = programs::EventPrinter::make(dir.path(), {}, {{}, "", {"instrument=36"}});
  EXPECT_EQ(printed(*other, 1, payload), "");
  EXPECT_EQ(programs::EventPrinter::make(dir.path(), {}, {{}, "order", {}}).error(),
            "--type order: the schema names no such type");
  test::TempDir bare;
  EXPECT_TRUE(programs::EventPrinter::make(bare.path(), {}, {{}, "7", {}}));
  EXPECT_EQ(programs::EventPrinter::make(bare.path(), {}, {{}, "", {"instrument=1"}}).error(),
            "--where instrument=1: no schema found to read fields with; give --schema FILE");
}

}  // namespace
}  // namespace ringlog::schema
