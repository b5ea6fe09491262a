// Shipping into a cluster of three nats-servers with a stream of three replicas, in both
// formats: shipping goes on while one server is down, and a fetch begun while the restarted
// server catches up rebuilds the whole journal. Skipped, with the reason, where nats-server is
// not installed.
#include "ship/fetcher.hpp"
#include "ship/shipper.hpp"
#include "ship_support.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace ringlog::ship {
namespace {

using namespace ship_test;

// True when the stream holds `events` and every server has stored all of its messages, as each
// server's own monitoring endpoint says (raft's "current", as the leader reports it, can be
// true of a follower still catching up).
bool every_replica_stored(const NatsEndpoint& endpoint, std::uint64_t events,
                          const std::vector<std::unique_ptr<NatsServer>>& servers) {
  if (stream_events(endpoint) != events) return false;
  const std::uint64_t messages = stream_messages(endpoint);
  return messages != 0 && std::ranges::all_of(servers, [&](const auto& server) {
           return server->stored_through(endpoint.stream) == messages;
         });
}

class ship_to_three_servers : public ::testing::TestWithParam<Form> {};
INSTANTIATE_TEST_SUITE_P(in_each_format, ship_to_three_servers,
                         ::testing::Values(Form{ShipFormat::events, Compression::none},
                                           Form{ShipFormat::blocks, Compression::none}),
                         name_of_form);

// Tier: suite; soak (four to thirteen times the events).
TEST_P(ship_to_three_servers, shipping_continues_while_one_of_three_servers_is_down) {
  SKIP_WITHOUT_NATS_SERVER();
  test::TempDir dir;
  const bool blocks = GetParam().format == ShipFormat::blocks;
  // Long enough that the server stops mid-shipping: blocks go many times faster, even small
  // ones sent one at a time, as here.
  const std::uint64_t count = blocks ? test::suite_or_soak(150'000, 2'000'000)
                                     : test::suite_or_soak(80'000, 300'000);
  write_journal(dir.path() / "journal", count);
  const int cluster_ports[3] = {free_port(), free_port(), free_port()};
  std::vector<std::unique_ptr<NatsServer>> servers;
  std::vector<std::string> urls;
  for (int i = 0; i < 3; ++i) {
    std::vector<int> routes;
    for (int j = 0; j < 3; ++j) {
      if (j != i) routes.push_back(cluster_ports[j]);
    }
    servers.push_back(std::make_unique<NatsServer>(dir.path() / fmt::format("nats{}", i),
                                                   fmt::format("n{}", i), cluster_ports[i],
                                                   routes));
    ASSERT_TRUE(servers.back()->start()) << log_of(servers.back()->log());
    urls.push_back(servers.back()->url());
  }
  const NatsEndpoint endpoint = endpoint_of(urls);

  ShipConfig config = shipping(dir.path() / "journal", endpoint, GetParam());
  config.create_replicas = 3;
  if (blocks) {  // and slowed: small blocks, one at a time
    config.block_bytes = min_block_bytes;
    config.max_in_flight = 1;
  }
  auto shipper = Shipper::start(config);
  ASSERT_TRUE(shipper.has_value()) << shipper.error();
  ASSERT_TRUE(eventually([&] { return (*shipper)->status().shipped > count / 4; }, 120s))
      << to_text((*shipper)->status());
  servers[1]->stop();
  const std::uint64_t when_stopped = (*shipper)->status().shipped;
  ASSERT_TRUE(eventually([&] { return (*shipper)->status().shipped == count; }, 180s))
      << to_text((*shipper)->status());
  EXPECT_LT(when_stopped, count) << "the server should stop while shipping goes on";

  ASSERT_TRUE(servers[1]->start()) << log_of(servers[1]->log());
  // Fetched at once, while the restarted server is still catching up: the fetch's consumer may
  // be placed there, and must then wait for it or move off it.
  // Its stored count may run ahead of what the stream's leader reported a moment before.
  const std::uint64_t in_stream = stream_messages(endpoint);
  const std::uint64_t stored = servers[1]->stored_through(endpoint.stream).value_or(0);
  const std::uint64_t behind = in_stream > stored ? in_stream - stored : 0;
  auto fetched = fetch_journal({endpoint, dir.path() / "copy", {}});
  ASSERT_TRUE(fetched.has_value()) << fetched.error() << " (the restarted server was " << behind
                                   << " messages behind when the fetch began)";
  EXPECT_EQ(fetched->next_sequence, count);
  std::printf("the restarted server was %llu messages behind when the fetch began; the fetch "
              "read %llu messages from the stream's leader\n",
              static_cast<unsigned long long>(behind),
              static_cast<unsigned long long>(fetched->read_at_leader));
  // Read back only once the restarted server has stored it all: the reading's consumer may be
  // placed on any replica.
  ASSERT_TRUE(eventually([&] { return every_replica_stored(endpoint, count, servers); }, 120s))
      << "stored through: " << servers[0]->stored_through(endpoint.stream).value_or(0) << ", "
      << servers[1]->stored_through(endpoint.stream).value_or(0) << ", "
      << servers[2]->stored_through(endpoint.stream).value_or(0) << " of "
      << stream_messages(endpoint);
  (*shipper)->stop();
  EXPECT_TRUE(exactly_once_in_order(shipped_sequences(endpoint), count));
}

}  // namespace
}  // namespace ringlog::ship
