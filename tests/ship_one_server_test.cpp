// Shipping a journal into one nats-server on loopback and fetching it back, in each form a
// stream may take: every event once and in order, a shipper killed at random moments, a segment
// of another journal, a message gone from the stream, a stream ahead of the journal, the metrics
// file, the server's max_payload, a stream that changes form, credentials, and a stalled stream
// in the service's stage timings. Skipped, with the reason, where nats-server is not installed.
#include "service/service.hpp"
#include "service/service_config.hpp"
#include "ship/fetcher.hpp"
#include "ship/shipper.hpp"
#include "ship_support.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <ringlog/publisher.hpp>

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace ringlog::ship {
namespace {

using namespace ship_test;

INSTANTIATE_TEST_SUITE_P(in_each_form, ship_to_one_server, ::testing::ValuesIn(every_form),
                         name_of_form);

// Tier: suite (200,000 events, four segments); soak (a million).
TEST_P(ship_to_one_server, every_event_reaches_the_stream_once_in_order_and_fetch_rebuilds_them) {
  const std::uint64_t count = test::suite_or_soak(200'000, 1'000'000);
  auto shipper = Shipper::start(shipping(journal(count)));
  ASSERT_TRUE(shipper.has_value()) << shipper.error();
  ASSERT_TRUE(eventually([&] { return (*shipper)->status().shipped == count; }, 240s))
      << to_text((*shipper)->status());
  const ShipStatus status = (*shipper)->status();
  EXPECT_EQ(status.lag_events, 0u);
  EXPECT_EQ(status.journal_end, count);
  EXPECT_FALSE(status.problem) << *status.problem;
  // What the stream acknowledged is the journal's named reader "ship.<stream>": retention keeps
  // what it has not taken yet.
  EXPECT_TRUE(eventually([&] {
    auto readers = journal::list_readers(dir.path() / "journal");
    return readers && readers->size() == 1 && readers->front().name == "ship." + endpoint.stream &&
           readers->front().position == count;
  }, 60s)) << "the shipped position was not recorded";
  (*shipper)->stop();
  EXPECT_TRUE(exactly_once_in_order(shipped_sequences(endpoint), count));

  auto fetched = fetch_journal({endpoint, dir.path() / "copy", {}});
  ASSERT_TRUE(fetched.has_value()) << fetched.error();
  EXPECT_EQ(fetched->fetched, count);
  EXPECT_EQ(fetched->next_sequence, count);
  auto check = journal::check_journal(dir.path() / "copy");  // what `ringlog verify` reports
  ASSERT_TRUE(check.has_value());
  EXPECT_TRUE(check->problem.empty()) << check->problem;
  EXPECT_EQ(check->intact_events, count);
  expect_same_events(dir.path() / "journal", dir.path() / "copy", count);

  // A second fetch finds nothing new; a longer journal shipped again extends the copy.
  auto again = fetch_journal({endpoint, dir.path() / "copy", {}});
  ASSERT_TRUE(again.has_value()) << again.error();
  EXPECT_EQ(again->fetched, 0u);
}

// Tier: suite (8 kills); soak (20 kills, in a journal 2.5 times as long).
TEST_P(ship_to_one_server, a_shipper_killed_at_random_moments_resumes_without_gap_or_duplicate) {
  // Blocks go many times faster: more events, in small blocks one at a time, so that every
  // kill still lands mid-shipping.
  const bool blocks = GetParam().format == ShipFormat::blocks;
  const int rounds = test::suite_or_soak(8, 20);
  const std::uint64_t count = (blocks ? 150'000 : 50'000) * std::uint64_t(rounds);
  std::vector<std::string> ship = ship_command(journal(count));
  if (blocks) {
    ship.insert(ship.end(), {"--block-bytes", std::to_string(min_block_bytes),
                             "--max-in-flight", "1"});
  }

  // Each round kills the shipper once the stream has grown by a random number of events (0
  // included: before it connected, or while it asks the stream where to go on).
  std::mt19937_64 random(20261126);
  std::uniform_int_distribution<std::uint64_t> growth(0, 40'000);
  for (int round = 0; round < rounds; ++round) {
    const std::uint64_t target = stream_events(endpoint) + growth(random);
    const pid_t shipper = spawn(ship, dir.path() / "ship.log");
    ASSERT_GT(shipper, 0);
    ASSERT_TRUE(eventually([&] { return stream_events(endpoint) >= target; }));
    ::kill(shipper, SIGKILL);
    ASSERT_EQ(exit_status_of(shipper), 128 + SIGKILL) << "round " << round << " ended itself";
  }
  ASSERT_LT(stream_events(endpoint), count) << "every kill should land mid-shipping";
  const pid_t last = spawn(ship, dir.path() / "ship.log");
  ASSERT_EQ(exit_status_of(last), 0) << log_of(dir.path() / "ship.log");
  EXPECT_TRUE(exactly_once_in_order(shipped_sequences(endpoint), count));
}

// Tier: suite (three segments); soak (eleven).
TEST_P(ship_to_one_server, a_segment_of_another_journal_is_refused_not_shipped) {
  const std::uint64_t count = test::suite_or_soak(150'000, 600'000);
  const std::filesystem::path ours = journal(count);
  const std::filesystem::path theirs = dir.path() / "theirs";
  write_journal(theirs, count);  // the same events: the same segment names
  std::vector<std::filesystem::path> segments;
  for (const auto& entry : std::filesystem::directory_iterator(ours)) {
    if (entry.path().extension() == ".evtl") segments.push_back(entry.path());
  }
  std::sort(segments.begin(), segments.end());
  ASSERT_GE(segments.size(), 3u);
  std::filesystem::copy_file(theirs / segments.back().filename(), segments.back(),
                             std::filesystem::copy_options::overwrite_existing);
  const std::uint64_t ours_before_it = std::stoull(segments.back().stem().string());

  auto shipper = Shipper::start(shipping(ours));
  ASSERT_TRUE(shipper.has_value()) << shipper.error();
  const auto refused = [&] {
    const ShipStatus status = (*shipper)->status();
    return status.shipped == ours_before_it && status.problem &&
           status.problem->find("refusing to ship") != std::string::npos;
  };
  ASSERT_TRUE(eventually(refused, 120s)) << to_text((*shipper)->status());
  EXPECT_NE((*shipper)->status().problem->find("belongs to journal"), std::string::npos);
  (*shipper)->stop();
  EXPECT_TRUE(exactly_once_in_order(shipped_sequences(endpoint), ours_before_it));
}

TEST_P(ship_to_one_server, the_metrics_file_tells_what_the_shipper_did_once_it_has_exited) {
  constexpr std::uint64_t count = 100'000;
  std::vector<std::string> ship = ship_command(journal(count));
  const std::filesystem::path metrics = dir.path() / "ship.prom";
  ship.insert(ship.end(), {"--metrics-file", metrics.string()});
  const pid_t shipper = spawn(ship, dir.path() / "ship.log");
  ASSERT_EQ(exit_status_of(shipper), 0) << log_of(dir.path() / "ship.log");
  const std::string text = log_of(metrics);
  const auto value = [&](const std::string& name) {
    const std::string key = name + "{stream=\"" + endpoint.stream + "\"} ";
    const std::size_t at = text.find(key);
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + key.size()));
  };
  EXPECT_EQ(value("ringlog_ship_connected"), 0) << "it has exited:\n" << text;
  EXPECT_EQ(value("ringlog_ship_shipped_events_total"), double(count)) << text;
  EXPECT_EQ(value("ringlog_ship_lag_events"), 0) << text;
  const double messages = value("ringlog_ship_messages_total");
  const double ratio = value("ringlog_ship_compression_ratio");
  if (GetParam().format == ShipFormat::events) {
    EXPECT_EQ(messages, double(count)) << text;
  } else {
    EXPECT_GT(messages, 0) << text;
    EXPECT_LT(messages, double(count) / 1000) << "blocks of thousands of events:\n" << text;
  }
  if (GetParam().compression == Compression::none) {
    EXPECT_EQ(ratio, 1) << text;
  } else {
    EXPECT_GT(ratio, 1.5) << text;
  }
}

// A message removed from the middle of the stream: the consumer skips it, the stream's leader
// holds none there either, and the fetch names the events lost at once, keeping those before.
TEST_P(ship_to_one_server, fetch_names_the_events_a_stream_lost_from_its_middle) {
  constexpr std::uint64_t count = 20'000;  // several blocks of 256 KiB
  auto shipper = Shipper::start(shipping(journal(count)));
  ASSERT_TRUE(shipper.has_value()) << shipper.error();
  ASSERT_TRUE(eventually([&] { return (*shipper)->status().shipped == count; }));
  (*shipper)->stop();
  auto link = NatsLink::connect(endpoint, "ringlog-test");
  ASSERT_TRUE(link.has_value());
  const std::uint64_t middle = stream_messages(endpoint) / 2 + 1;
  ASSERT_GT(middle, 1u);
  // What a fetch reads from the leader where its replica skipped a message: the same events.
  StreamCursor cursor = StreamCursor::open(**link, endpoint);
  EXPECT_EQ(cursor.oldest_at_leader(), 1u);
  auto held = cursor.read_at_leader(middle);
  ASSERT_TRUE(held.has_value() && held->has_value()) << (held ? "none there" : held.error());
  const std::optional<ShippedRange> lost = shipped_range((**held).get());
  ASSERT_TRUE(lost.has_value());
  MessageDecoder decoder;
  std::uint64_t next = lost->first;
  ASSERT_TRUE(decoder.decode((**held).get(), [&](const ShippedEvent& event) {
    EXPECT_EQ(event.sequence, next++);
    EXPECT_EQ(event.payload.size(), payload_size_of(event.sequence));
  }));
  EXPECT_EQ(next, lost->end());
  ASSERT_EQ(js_DeleteMsg((*link)->jetstream(), endpoint.stream.c_str(), middle, nullptr, nullptr),
            NATS_OK);

  auto fetched = fetch_journal({endpoint, dir.path() / "copy", {}});
  ASSERT_FALSE(fetched.has_value());
  EXPECT_EQ(fetched.error().code, ringlog::SetupErrc::stream_unavailable);
  EXPECT_NE(fetched.error().message().find(
                fmt::format("lacks events {} to {}", lost->first, lost->end() - 1)),
            std::string::npos) << fetched.error();
  auto check = journal::check_journal(dir.path() / "copy");
  ASSERT_TRUE(check.has_value());
  EXPECT_TRUE(check->problem.empty()) << check->problem;
  EXPECT_EQ(check->intact_events, lost->first);
}

TEST_P(ship_to_one_server, a_stream_ahead_of_the_journal_is_reported_not_shipped_into) {
  ShipConfig config = shipping(journal(2000));
  auto first = Shipper::start(config);
  ASSERT_TRUE(first.has_value()) << first.error();
  ASSERT_TRUE(eventually([&] { return (*first)->status().shipped == 2000; }));
  (*first)->stop();

  config.journal_dir = dir.path() / "another";  // started afresh: 1000 events
  write_journal(config.journal_dir, 1000);
  auto second = Shipper::start(config);
  ASSERT_TRUE(second.has_value()) << second.error();
  ASSERT_TRUE(eventually([&] { return (*second)->status().problem.has_value(); }));
  EXPECT_NE((*second)->status().problem->find("another journal's stream"), std::string::npos)
      << *(*second)->status().problem;
  (*second)->stop();
  EXPECT_TRUE(exactly_once_in_order(shipped_sequences(endpoint), 2000));
}

TEST(ship, blocks_stay_under_the_servers_max_payload) {
  SKIP_WITHOUT_NATS_SERVER();
  test::TempDir dir;
  constexpr std::uint64_t count = 100'000;
  write_journal(dir.path() / "journal", count);
  NatsServer server(dir.path() / "nats", "small");
  constexpr std::int64_t max_payload = 100'000;  // below the 256 KiB blocks asked for
  server.configure(fmt::format("max_payload: {}", max_payload));
  ASSERT_TRUE(server.start()) << log_of(server.log());
  const NatsEndpoint endpoint = endpoint_of({server.url()});
  auto shipper = Shipper::start(shipping(dir.path() / "journal", endpoint,
                                         {ShipFormat::blocks, Compression::none}));
  ASSERT_TRUE(shipper.has_value()) << shipper.error();
  ASSERT_TRUE(eventually([&] { return (*shipper)->status().shipped == count; }))
      << to_text((*shipper)->status());
  (*shipper)->stop();
  EXPECT_TRUE(exactly_once_in_order(shipped_sequences(endpoint), count));
  // Every message under the limit, headers included, and so more of them than 256 KiB needs.
  auto link = NatsLink::connect(endpoint, "ringlog-test");
  ASSERT_TRUE(link.has_value());
  auto cursor = StreamCursor::open(**link, endpoint);
  const std::uint64_t messages = stream_messages(endpoint);
  for (std::uint64_t i = 0; i < messages; ++i) {
    auto message = cursor.next(10'000);
    ASSERT_TRUE(message.has_value()) << message.error();
    ASSERT_LT(natsMsg_GetDataLength(message->get()), max_payload - 1024) << "message " << i;
  }
  EXPECT_GT(messages, (*shipper)->status().acknowledged_bytes / (std::size_t{256} << 10));
}

TEST(ship, a_stream_that_changes_form_midway_continues_exactly_once_and_fetches_whole) {
  SKIP_WITHOUT_NATS_SERVER();
  test::TempDir dir;
  NatsServer server(dir.path() / "nats", "solo");
  ASSERT_TRUE(server.start()) << log_of(server.log());
  const NatsEndpoint endpoint = endpoint_of({server.url()});
  const std::filesystem::path journal = dir.path() / "journal";
  // Events one a message first (as before blocks were the default), then blocks, then events.
  std::uint64_t count = 0;
  for (const Form form : {Form{ShipFormat::events, Compression::none},
                          Form{ShipFormat::blocks, Compression::zstd},
                          Form{ShipFormat::events, Compression::none}}) {
    count += 3000;
    write_journal(journal, count);
    auto shipper = Shipper::start(shipping(journal, endpoint, form));
    ASSERT_TRUE(shipper.has_value()) << shipper.error();
    ASSERT_TRUE(eventually([&] { return (*shipper)->status().shipped == count; }))
        << to_text((*shipper)->status());
  }
  EXPECT_TRUE(exactly_once_in_order(shipped_sequences(endpoint), count));
  auto fetched = fetch_journal({endpoint, dir.path() / "copy", {}});
  ASSERT_TRUE(fetched.has_value()) << fetched.error();
  EXPECT_EQ(fetched->fetched, count);
  expect_same_events(journal, dir.path() / "copy", count);
}

TEST(ship, credentials_in_a_url_or_in_a_file_others_may_read_are_refused) {
  test::TempDir dir;
  ShipConfig config;
  config.journal_dir = dir.path();
  config.nats = endpoint_of({"nats://trader:secret@127.0.0.1:4222"});
  auto in_url = Shipper::start(config);
  ASSERT_FALSE(in_url.has_value());
  EXPECT_EQ(in_url.error().code, ringlog::SetupErrc::invalid_setting);
  EXPECT_NE(in_url.error().message().find("not in the URL"), std::string::npos) << in_url.error();

  const std::filesystem::path credentials = dir.path() / "nats.credentials";
  std::ofstream(credentials) << "trader:secret\n";
  std::filesystem::permissions(credentials, std::filesystem::perms::owner_read |
                                                std::filesystem::perms::group_read);
  config.nats = endpoint_of({"nats://127.0.0.1:4222"});
  config.nats.credentials_file = credentials;
  auto readable = Shipper::start(config);
  ASSERT_FALSE(readable.has_value());
  EXPECT_NE(readable.error().message().find("chmod 600"), std::string::npos) << readable.error();

  std::filesystem::permissions(credentials, std::filesystem::perms::owner_read);
  std::ofstream(credentials) << "no password here\n";
  auto malformed = Shipper::start(config);
  ASSERT_FALSE(malformed.has_value());
  EXPECT_NE(malformed.error().message().find("user:password"), std::string::npos) << malformed.error();
}

TEST(ship, the_server_checks_the_user_and_password_from_the_credentials_file) {
  SKIP_WITHOUT_NATS_SERVER();
  test::TempDir dir;
  constexpr std::uint64_t count = 1000;
  write_journal(dir.path() / "journal", count);
  NatsServer server(dir.path() / "nats", "solo");
  server.configure("authorization { user: trader, password: \"s3cret\" }");
  ASSERT_TRUE(server.start()) << log_of(server.log());
  const std::filesystem::path credentials = dir.path() / "nats.credentials";
  const auto ship_with = [&](const std::string& line) {
    std::ofstream(credentials, std::ios::trunc) << line << "\n";
    std::filesystem::permissions(credentials, std::filesystem::perms::owner_read |
                                                  std::filesystem::perms::owner_write);
    ShipConfig config;
    config.journal_dir = dir.path() / "journal";
    config.nats = endpoint_of({server.url()});
    config.nats.credentials_file = credentials;
    return Shipper::start(config);
  };
  auto wrong = ship_with("trader:guess");
  ASSERT_TRUE(wrong.has_value()) << wrong.error();
  ASSERT_TRUE(eventually([&] { return (*wrong)->status().problem.has_value(); }, 20s));
  EXPECT_NE((*wrong)->status().problem->find("uthorization"), std::string::npos)
      << *(*wrong)->status().problem;
  EXPECT_EQ((*wrong)->status().shipped, 0u);
  (*wrong)->stop();

  auto right = ship_with("trader:s3cret");
  ASSERT_TRUE(right.has_value()) << right.error();
  EXPECT_TRUE(eventually([&] { return (*right)->status().shipped == count; }, 60s))
      << to_text((*right)->status());
}

}  // namespace
// The service's sampled stage timings with a shipper: a stream that takes nothing for a second
// shows in durable_to_shipped, not in the stages before it.
TEST(ship, a_stalled_stream_shows_in_the_durable_to_shipped_stage) {
  SKIP_WITHOUT_NATS_SERVER();
  test::TempDir dir;
  NatsServer server(dir.path() / "nats", "solo");
  ASSERT_TRUE(server.start()) << log_of(server.log());
  service::ServiceConfig config;
  config.name = "stages";
  config.runtime_dir = dir.path() / "run";
  config.journal_dir = dir.path() / "journal";
  config.latency_sample_every = 1;
  config.ship.nats = endpoint_of({server.url()});
  auto service = service::Service::start(config);
  ASSERT_TRUE(service.has_value()) << service.error().message();
  auto publisher = service::Publisher::attach({config.name, config.runtime_dir, "default"});
  ASSERT_TRUE(publisher.has_value()) << publisher.error().message();
  const auto write = [&](std::uint64_t sequence) {
    const auto payload = test::make_payload(sequence, 16);
    return publisher->write_event(event::EventHeader(sequence, 1, 16), payload);
  };
  const auto shipped = [&] { return (*service)->status().ship->shipped; };
  ASSERT_TRUE(write(0));
  ASSERT_TRUE(eventually([&] { return shipped() >= 1; }, 30s)) << "the shipper never got going";

  server.freeze();
  constexpr std::uint64_t events = 32;
  for (std::uint64_t sequence = 1; sequence <= events; ++sequence) ASSERT_TRUE(write(sequence));
  ASSERT_TRUE(publisher->wait_durable(events + 1, 30s));
  std::this_thread::sleep_for(1s);  // the injected delay, not a wait
  server.thaw();
  const auto stage = [&](service::Stage which) {
    return (*service)->status().channels.at(0).stages[std::size_t(which)];
  };
  ASSERT_TRUE(eventually(
      [&] { return stage(service::Stage::durable_to_shipped).count >= events + 1; }, 30s));
  const auto over_half_a_second = [](const service::DurationCounts& counts) {
    std::uint64_t over = counts.per_bucket.back();
    for (std::size_t bucket = 0; bucket < service::latency_bounds_ns.size(); ++bucket) {
      if (service::latency_bounds_ns[bucket] > 500'000'000) over += counts.per_bucket[bucket];
    }
    return over;
  };
  EXPECT_GE(over_half_a_second(stage(service::Stage::durable_to_shipped)), events);
  EXPECT_LT(over_half_a_second(stage(service::Stage::journaled_to_durable)), events);
  EXPECT_EQ(over_half_a_second(stage(service::Stage::commit_to_journaled)), 0u);
  ASSERT_TRUE((*service)->stop().has_value());
}

}  // namespace ringlog::ship
