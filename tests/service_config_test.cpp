// The service's configuration file: the documented example is the defaults, every key is read,
// and every kind of mistake names the file, the line and the key.
#include "service/service_config.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

using ringlog::service::ServiceConfig;
using ringlog::service::parse_service_config;

namespace {

// The error a text gives, or "accepted". Every refusal is an invalid setting.
std::string error_of(const std::string& text) {
  const auto config = parse_service_config(text, "test.toml");
  if (config) return "accepted";
  EXPECT_EQ(config.error().code, ringlog::make_error_code(ringlog::SetupErrc::invalid_setting));
  return config.error().message();
}

// Every "table.key" a TOML text assigns, one per `key = value` line under a [table] or
// [[table]] header: enough for the files these tests compare.
std::set<std::string> keys_in(const std::string& text) {
  std::set<std::string> keys;
  std::istringstream lines(text);
  std::string line;
  std::string table;
  while (std::getline(lines, line)) {
    if (line.starts_with("[")) {
      table = line.substr(line.find_first_not_of('['));
      table = table.substr(0, table.find(']'));
    } else if (const auto equals = line.find(" = ");
               equals != std::string::npos && !line.starts_with("#")) {
      keys.insert(table + "." + line.substr(0, equals));
    }
  }
  return keys;
}

std::string source_file(const char* relative) {
  std::ifstream in(std::string(RINGLOG_SOURCE_DIR) + "/" + relative);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST(service_config, the_documented_example_is_the_defaults) {
  const auto example =
      ringlog::service::load_service_config(std::string(RINGLOG_SOURCE_DIR) +
                                            "/tuning/ringlog.toml");
  ASSERT_TRUE(example.has_value()) << example.error();
  const ServiceConfig defaults;
  EXPECT_EQ(example->to_toml(), defaults.to_toml());
  const auto empty = parse_service_config("", "empty.toml");
  ASSERT_TRUE(empty.has_value()) << empty.error();
  EXPECT_EQ(empty->to_toml(), defaults.to_toml());
}

TEST(service_config, the_documented_example_lists_every_key_and_no_other) {
  const ServiceConfig defaults;
  const std::set<std::string> printed = keys_in(defaults.to_toml());
  EXPECT_EQ(keys_in(source_file("tuning/ringlog.toml")), printed);
  EXPECT_TRUE(printed.contains("journal.flush.every_us"));
  EXPECT_TRUE(printed.contains("channels.ring_bytes"));
  EXPECT_GE(printed.size(), 23u);
}

TEST(service_config, printed_strings_are_escaped_and_read_back) {
  ServiceConfig config;
  config.name = "quote\" back\\slash\ttab";
  config.ship.nats.servers = {"nats://a:4222", "nats://b:4222"};
  config.housekeeping_cpus = {2, 3};
  const auto again = parse_service_config(config.to_toml(), "printed.toml");
  ASSERT_TRUE(again.has_value()) << again.error() << "\n" << config.to_toml();
  EXPECT_EQ(again->name, config.name);
  EXPECT_EQ(again->ship.nats.servers, config.ship.nats.servers);
  EXPECT_EQ(again->housekeeping_cpus, config.housekeeping_cpus);
}

TEST(service_config, every_key_is_read) {
  const auto config = parse_service_config(R"(
[service]
name = "desk-7"
runtime_dir = "/run/ringlog"
group = "trading"
[journal]
directory = "/var/lib/ringlog"
segment_bytes = 1073741824
keep_segments = 48
keep_bytes = "100G"
keep_for = "7d"
reader_hold_seconds = 3600
recycle = false
writeback_every_bytes = 8388608
[journal.flush]
every_bytes = 65536
every_us = 200
[placement]
consumer_cpu = 3
housekeeping_cpus = [0, 1]
[rings]
bytes = 4194304
huge_pages = "always"
lock = true
[metrics]
listen = "0.0.0.0:9464"
[[channels]]
name = "orders"
[[channels]]
name = "market-data"
ring_bytes = 16777216
)", "full.toml");
  ASSERT_TRUE(config.has_value()) << config.error();
  EXPECT_EQ(config->name, "desk-7");
  EXPECT_EQ(config->runtime_dir, "/run/ringlog");
  EXPECT_EQ(config->group, "trading");
  EXPECT_EQ(config->journal_dir, "/var/lib/ringlog");
  EXPECT_EQ(config->journal.segment_bytes, std::size_t{1} << 30);
  EXPECT_EQ(config->journal.keep_segments, 48u);
  EXPECT_EQ(config->journal.keep_bytes, 100ull << 30);
  EXPECT_EQ(config->journal.keep_for, std::chrono::hours(24 * 7));
  EXPECT_EQ(config->journal.reader_hold_limit, std::chrono::hours(1));
  EXPECT_FALSE(config->journal.recycle);
  EXPECT_EQ(config->journal.writeback_every_bytes, 8u << 20);
  EXPECT_EQ(config->journal.flush.every_bytes, 64u << 10);
  EXPECT_EQ(config->journal.flush.every.count(), 200);
  EXPECT_EQ(config->consumer_cpu, 3);
  EXPECT_EQ(config->housekeeping_cpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(config->ring_bytes, 4u << 20);
  EXPECT_EQ(config->ring_memory.huge_pages, ringlog::ring::MemoryOptions::HugePages::Always);
  EXPECT_TRUE(config->ring_memory.lock);
  EXPECT_EQ(config->metrics_listen, "0.0.0.0:9464");
  ASSERT_EQ(config->channels.size(), 2u);
  EXPECT_EQ(config->channels[0].name, "orders");
  EXPECT_EQ(config->channels[0].ring_bytes, 0u);
  EXPECT_EQ(config->channels[1].ring_bytes, 16u << 20);
  // What check-config prints reads back as the same configuration.
  const auto again = parse_service_config(config->to_toml(), "printed.toml");
  ASSERT_TRUE(again.has_value()) << again.error();
  EXPECT_EQ(again->to_toml(), config->to_toml());
}

TEST(service_config, mistakes_name_the_line_and_the_key) {
  EXPECT_EQ(error_of("[journal]\nsegmnet_bytes = 1048576\n"),
            "test.toml:2: journal.segmnet_bytes: unknown key (tuning/ringlog.toml lists every "
            "key)");
  EXPECT_EQ(error_of("\n[journal]\nsegment_bytes = \"1 GiB\"\n"),
            "test.toml:3: journal.segment_bytes: expected an integer, got a string");
  EXPECT_EQ(error_of("[journal]\nsegment_bytes = 4096\n"),
            "test.toml:2: journal.segment_bytes: 4096 is below the least allowed, 1048576");
  EXPECT_EQ(error_of("[placement]\nconsumer_cpu = -2\n"),
            "test.toml:2: placement.consumer_cpu: -2 is below the least allowed, -1");
  // Too large is said as too large.
  EXPECT_EQ(error_of("[journal]\nsegment_bytes = 1099511627776\n"),
            "test.toml:2: journal.segment_bytes: 1099511627776 is above the largest allowed, "
            "68719476736");
  EXPECT_EQ(error_of("[placement]\nhousekeeping_cpus = [0, \"one\"]\n"),
            "test.toml:2: placement.housekeeping_cpus: expected CPU numbers (integers from 0)");
  EXPECT_EQ(error_of("[rings]\nbytes = 100000\n"),
            "test.toml:2: rings.bytes: 100000 is not a power of two of at least 65536");
  EXPECT_EQ(error_of("[rings]\nhuge_pages = \"sometimes\"\n"),
            "test.toml:2: rings.huge_pages: expected \"try\", \"always\" or \"never\"");
  EXPECT_EQ(error_of("[rings]\nlock = 1\n"),
            "test.toml:2: rings.lock: expected true or false, got an integer");
  EXPECT_EQ(error_of("[service]\nname = \"\"\n"), "test.toml:2: service.name: must not be empty");
  EXPECT_EQ(error_of("[journal]\nkeep_for = \"7 days\"\n"),
            "test.toml:2: journal.keep_for: expected an integer, or a number and a unit (s, m, "
            "h, d)");
  EXPECT_EQ(error_of("[journal]\nkeep_bytes = \"100GB\"\n"),
            "test.toml:2: journal.keep_bytes: expected an integer, or a number and a unit (K, M, "
            "G, T)");
  EXPECT_EQ(error_of("[metrics]\nlisten = 9464\n"),
            "test.toml:2: metrics.listen: expected \"HOST:PORT\", got an integer");
  EXPECT_EQ(error_of("[metrics]\nlisten = \"127.0.0.1:http\"\n"),
            "test.toml:2: metrics.listen: \"127.0.0.1:http\" is no HOST:PORT (a port from 1 to "
            "65535)");
  EXPECT_EQ(error_of("[metrics]\nlisten = \":9464\"\n"),
            "test.toml:2: metrics.listen: \":9464\" is no HOST:PORT (a port from 1 to 65535)");
  // Syntax errors give the column too.
  EXPECT_EQ(error_of("[journal\n").rfind("test.toml:1:9: ", 0), 0u) << error_of("[journal\n");
}

TEST(service_config, a_metrics_port_alone_listens_on_loopback) {
  const auto config = parse_service_config("[metrics]\nlisten = \"9464\"\n", "test.toml");
  ASSERT_TRUE(config.has_value()) << config.error();
  EXPECT_EQ(config->metrics_listen, "127.0.0.1:9464");
  const ServiceConfig defaults;
  EXPECT_EQ(defaults.metrics_listen, "") << "the endpoint is off by default";
}

TEST(service_config, channels_are_named_once_each) {
  EXPECT_EQ(error_of("[[channels]]\nring_bytes = 65536\n"),
            "test.toml:1: channels.name: every channel needs a name");
  EXPECT_EQ(error_of("[[channels]]\nname = \"a\"\n[[channels]]\nname = \"a\"\n"),
            "test.toml:3: channels.name: \"a\" is repeated");
  EXPECT_EQ(error_of("[[channels]]\nname = \"a\"\nring_bytes = 1000\n"),
            "test.toml:3: channels.ring_bytes: 1000 is not a power of two of at least 65536 "
            "(or 0 for the [rings] default)");
  EXPECT_EQ(error_of("[[channels]]\nname = \"a\"\ncolour = \"red\"\n"),
            "test.toml:3: channels.colour: unknown key (tuning/ringlog.toml lists every key)");
  EXPECT_EQ(error_of("channels = 3\n"),
            "test.toml:1: channels: expected [[channels]] tables, got an integer");
}

TEST(service_config, a_missing_file_is_named) {
  const auto missing = ringlog::service::load_service_config("/nonexistent/ringlog.toml");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, std::errc::no_such_file_or_directory);
  EXPECT_EQ(missing.error().message(),
            "cannot read configuration /nonexistent/ringlog.toml: No such file or directory");
}

TEST(service_config, what_serve_refuses_is_refused_before_it_starts) {
  ServiceConfig config;
  config.journal.segment_bytes = std::size_t{1} << 40;  // as a program could set it, unparsed
  config.journal_dir = "/proc/ringlog-journal";  // under a directory no one may create in
  config.runtime_dir = std::filesystem::path("/tmp") / std::string(120, 'r');
  config.consumer_cpu = 4000;
  const auto problems = ringlog::service::check_before_serving(config);
  ASSERT_TRUE(problems.has_value());
  EXPECT_NE(problems->find("journal.segment_bytes: segment size 1099511627776 is above the "
                           "largest, 68719476736"), std::string::npos) << *problems;
  EXPECT_NE(problems->find("the control socket"), std::string::npos) << *problems;
  EXPECT_NE(problems->find("placement.consumer_cpu: CPU 4000"), std::string::npos) << *problems;

  const ServiceConfig defaults;
  config.journal.segment_bytes = defaults.journal.segment_bytes;
  const auto journal_only = ringlog::service::check_before_serving(config);
  ASSERT_TRUE(journal_only.has_value());
  EXPECT_NE(journal_only->find("journal.directory /proc/ringlog-journal: cannot create "
                               "/proc/ringlog-journal"), std::string::npos) << *journal_only;

  EXPECT_FALSE(ringlog::service::check_before_serving(defaults).has_value())
      << "the defaults serve as they are";
}
