#include "service/service_config.hpp"

#include "ship/nats_endpoint.hpp"
#include "service_client/service_protocol.hpp"
#include "schema/payload_schema.hpp"

#include <ringlog/detail/assert.hpp>
#include <ringlog/journal.hpp>

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <ranges>
#include <type_traits>
#include <set>
#include <sstream>

namespace ringlog::service {

namespace {

using HugePages = ring::MemoryOptions::HugePages;

bool is_known_key(std::string_view path);  // in the key tables below

std::string type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number with a fraction";
    case toml::node_type::boolean: return "true or false";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date or time";
  }
}

// Reads one file's values into a ServiceConfig, stopping at the first error.
class Reader {
 public:
  Reader(const toml::table& root, std::string source) : root_(root), source_(std::move(source)) {}

  std::string error(const toml::node& node, std::string_view key, std::string_view what) const {
    return fmt::format("{}:{}: {}: {}", source_, node.source().begin.line, key, what);
  }

  // Keys nowhere in the key tables, with their line: a typo must not pass for a default.
  std::optional<std::string> unknown_key(const toml::table& table, const std::string& prefix) {
    for (const auto& [name, node] : table) {
      const std::string key = prefix.empty() ? std::string(name.str())
                                             : fmt::format("{}.{}", prefix, name.str());
      if (const toml::table* inner = node.as_table()) {
        if (auto unknown = unknown_key(*inner, key)) return unknown;
        continue;
      }
      if (key == "channels") {  // channels() says what is wrong with one of another type
        if (!node.is_array_of_tables()) continue;
        for (const toml::node& channel : *node.as_array()) {
          RINGLOG_CHECK(channel.is_table(), "an array of tables holds only tables");
          if (auto unknown = unknown_key(*channel.as_table(), key)) return unknown;
        }
        continue;
      }
      if (!is_known_key(key)) {
        return error(node, key, "unknown key (tuning/ringlog.toml lists every key)");
      }
    }
    return std::nullopt;
  }

  std::optional<std::string> string(std::string_view key, std::string& out,
                                    bool may_be_empty = false) {
    return read(key, [&](const toml::node& node) -> std::optional<std::string> {
      if (!node.is_string()) return "expected a string, got " + type_name(node);
      out = node.as_string()->get();
      if (out.empty() && !may_be_empty) return std::string("must not be empty");
      return std::nullopt;
    });
  }
  std::optional<std::string> path(std::string_view key, std::filesystem::path& out,
                                  bool may_be_empty = false) {
    return read(key, [&](const toml::node& node) -> std::optional<std::string> {
      if (!node.is_string()) return "expected a string, got " + type_name(node);
      if (node.as_string()->get().empty() && !may_be_empty) return "must not be empty";
      out = node.as_string()->get();
      return std::nullopt;
    });
  }
  template <class Integer>
  std::optional<std::string> integer(std::string_view key, Integer& out, long long least,
                                     long long most = INT64_MAX) {
    return read(key, [&](const toml::node& node) -> std::optional<std::string> {
      if (!node.is_integer()) return "expected an integer, got " + type_name(node);
      const long long value = node.as_integer()->get();
      if (value < least) return fmt::format("{} is below the least allowed, {}", value, least);
      if (value > most) return fmt::format("{} is above the largest allowed, {}", value, most);
      out = static_cast<Integer>(value);
      return std::nullopt;
    });
  }
  std::optional<std::string> boolean(std::string_view key, bool& out) {
    return read(key, [&](const toml::node& node) -> std::optional<std::string> {
      if (!node.is_boolean()) return "expected true or false, got " + type_name(node);
      out = node.as_boolean()->get();
      return std::nullopt;
    });
  }
  std::optional<std::string> cpus(std::string_view key, std::vector<int>& out) {
    return read(key, [&](const toml::node& node) -> std::optional<std::string> {
      const toml::array* array = node.as_array();
      if (array == nullptr) return "expected an array of CPU numbers, got " + type_name(node);
      out.clear();
      for (const toml::node& item : *array) {
        if (!item.is_integer() || item.as_integer()->get() < 0) {
          return std::string("expected CPU numbers (integers from 0)");
        }
        out.push_back(static_cast<int>(item.as_integer()->get()));
      }
      return std::nullopt;
    });
  }
  std::optional<std::string> strings(std::string_view key, std::vector<std::string>& out) {
    return read(key, [&](const toml::node& node) -> std::optional<std::string> {
      const toml::array* array = node.as_array();
      if (array == nullptr) return "expected an array of strings, got " + type_name(node);
      out.clear();
      for (const toml::node& item : *array) {
        if (!item.is_string() || item.as_string()->get().empty()) {
          return std::string("expected non-empty strings");
        }
        out.push_back(item.as_string()->get());
      }
      return std::nullopt;
    });
  }
  // One of `names`, read as the enumerator of the same index.
  template <class Enum, std::size_t N>
  std::optional<std::string> one_of(std::string_view key, Enum& out,
                                    const std::array<std::string_view, N>& names) {
    return read(key, [&](const toml::node& node) -> std::optional<std::string> {
      const std::optional<std::string_view> text = node.value<std::string_view>();
      for (std::size_t i = 0; text && i < N; ++i) {
        if (names[i] == *text) {
          out = static_cast<Enum>(i);
          return std::nullopt;
        }
      }
      return fmt::format("expected one of \"{}\"", fmt::join(names, "\", \""));
    });
  }
  std::optional<std::string> huge_pages(std::string_view key, HugePages& out) {
    return read(key, [&](const toml::node& node) -> std::optional<std::string> {
      const std::optional<std::string_view> text = node.value<std::string_view>();
      if (text == "try") out = HugePages::Try;
      else if (text == "always") out = HugePages::Always;
      else if (text == "never") out = HugePages::Never;
      else return std::string(R"(expected "try", "always" or "never")");
      return std::nullopt;
    });
  }
  // A ring's capacity: a power of two of at least 64 KiB, or 0 where `zero_is_default`.
  std::optional<std::string> ring_size(std::string_view key, std::size_t& out,
                                       bool zero_is_default = false) {
    return read(key, [&](const toml::node& node) -> std::optional<std::string> {
      const std::optional<long long> value = node.value_exact<long long>();
      if (!value) return "expected an integer, got " + type_name(node);
      if (*value == 0 && zero_is_default) {
        out = 0;
        return std::nullopt;
      }
      if (*value < (64 << 10) || !std::has_single_bit(static_cast<unsigned long long>(*value))) {
        return fmt::format("{} is not a power of two of at least 65536{}", *value,
                           zero_is_default ? " (or 0 for the [rings] default)" : "");
      }
      out = static_cast<std::size_t>(*value);
      return std::nullopt;
    });
  }

  // An amount with a unit suffix, or a plain integer: "7d", "12h", "30m", "45s" with `units`
  // naming the suffixes and what each multiplies by; "" (or 0) for none.
  template <class Integer, std::size_t N>
  std::optional<std::string> with_unit(
      std::string_view key, Integer& out,
      const std::array<std::pair<char, std::uint64_t>, N>& units) {
    return read(key, [&](const toml::node& node) -> std::optional<std::string> {
      if (const auto plain = node.value_exact<long long>(); plain && *plain >= 0) {
        out = static_cast<Integer>(*plain);
        return std::nullopt;
      }
      const std::optional<std::string> text = node.value_exact<std::string>();
      std::uint64_t amount = 0;
      const char* end = text ? text->data() + text->size() : nullptr;
      const auto [last, failed] =
          text ? std::from_chars(text->data(), end, amount) : std::from_chars_result{};
      const auto unit = std::find_if(units.begin(), units.end(), [&](const auto& u) {
        return text && last + 1 == end && *last == u.first;
      });
      if (!text || failed != std::errc() || unit == units.end()) {
        std::vector<char> suffixes;
        for (const auto& u : units) suffixes.push_back(u.first);
        return fmt::format("expected an integer, or a number and a unit ({})",
                           fmt::join(suffixes, ", "));
      }
      out = static_cast<Integer>(amount * unit->second);
      return std::nullopt;
    });
  }

  // An address to listen on: "HOST:PORT" ("[V6]:PORT"), or "PORT" for the loopback interface
  // alone; "" for nowhere.
  std::optional<std::string> listen_address(std::string_view key, std::string& out) {
    return read(key, [&](const toml::node& node) -> std::optional<std::string> {
      const std::optional<std::string> text = node.value<std::string>();
      if (!text) return "expected \"HOST:PORT\", got " + type_name(node);
      if (text->empty()) {
        out.clear();
        return std::nullopt;
      }
      const std::size_t colon = text->rfind(':');
      const std::string host = colon == std::string::npos ? "127.0.0.1" : text->substr(0, colon);
      const std::string port = colon == std::string::npos ? *text : text->substr(colon + 1);
      int number = 0;
      const auto [end, failed] = std::from_chars(port.data(), port.data() + port.size(), number);
      if (failed != std::errc() || end != port.data() + port.size() || number < 1 ||
          number > 65535 || host.empty()) {
        return fmt::format("\"{}\" is no HOST:PORT (a port from 1 to 65535)", *text);
      }
      out = host + ":" + port;
      return std::nullopt;
    });
  }

  // Every [[channels]] table, read through channel_keys.
  std::optional<std::string> channels(std::vector<ChannelConfig>& out);

 private:
  // Runs `check` on the value at `key` when the file has one.
  template <class Check>
  std::optional<std::string> read(std::string_view key, Check check) {
    const toml::node* node = root_.at_path(key).node();
    if (node == nullptr) return std::nullopt;
    if (auto what = check(*node)) return error(*node, key, *what);
    return std::nullopt;
  }
  // Errors inside a [[channels]] table name the key as channels.<key>.
  std::string prefixed(const std::string& failed) const {
    const std::size_t key_at = failed.find(": ", source_.size() + 1);
    // error() wrote "source:line: key: what": without the ": " after the line, the text below
    // would be cut in the wrong place.
    RINGLOG_CHECK(key_at != std::string::npos, "an error names its line before its key");
    return failed.substr(0, key_at + 2) + "channels." + failed.substr(key_at + 2);
  }

  const toml::table& root_;
  std::string source_;
};

// A value as TOML text: strings quoted and escaped the way toml++ reads them back.
template <class Value>
std::string toml_text(Value&& value) {
  constexpr auto basic_strings_only = toml::format_flags::none;
  std::ostringstream text;
  if constexpr (std::is_same_v<std::remove_cvref_t<Value>, toml::array>) {
    text << toml::toml_formatter{value, basic_strings_only};
  } else {
    text << toml::toml_formatter{toml::value(std::forward<Value>(value)), basic_strings_only};
  }
  return text.str();
}

std::string toml_text(const std::filesystem::path& path) { return toml_text(path.string()); }

template <class Item>
std::string toml_array(const std::vector<Item>& items) {
  toml::array array;
  for (const Item& item : items) array.push_back(item);
  return toml_text(array);
}

std::string_view huge_pages_name(HugePages pages) {
  return pages == HugePages::Always ? "always" : pages == HugePages::Never ? "never" : "try";
}

// Suffixes for journal.keep_bytes and journal.keep_for.
constexpr std::array<std::pair<char, std::uint64_t>, 4> byte_units = {
    {{'K', 1ull << 10}, {'M', 1ull << 20}, {'G', 1ull << 30}, {'T', 1ull << 40}}};
constexpr std::array<std::pair<char, std::uint64_t>, 4> duration_units = {
    {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}}};

// The one list of configuration keys, in the order to_toml prints them. Parsing, printing and
// the unknown-key check all walk it, and a test holds tuning/ringlog.toml to it: a key added
// here is a key documented there.
struct Key {
  std::string_view path;  // "journal.flush.every_us": its table, then its name
  std::optional<std::string> (*read)(Reader&, std::string_view path, ServiceConfig&);
  std::string (*value)(const ServiceConfig&);  // as TOML
};

using Config = ServiceConfig;
using Path = std::string_view;

const Key service_keys[] = {
    {"service.name", [](Reader& r, Path k, Config& c) { return r.string(k, c.name); },
     [](const Config& c) { return toml_text(c.name); }},
    {"service.runtime_dir", [](Reader& r, Path k, Config& c) { return r.path(k, c.runtime_dir); },
     [](const Config& c) { return toml_text(c.runtime_dir); }},
    {"service.group",
     [](Reader& r, Path k, Config& c) { return r.string(k, c.group, /*may_be_empty=*/true); },
     [](const Config& c) { return toml_text(c.group); }},
    {"service.latency_sample_every",
     [](Reader& r, Path k, Config& c) {
       return r.integer(k, c.latency_sample_every, 0, 1ll << 40);
     },
     [](const Config& c) { return fmt::format("{}", c.latency_sample_every); }},
    {"journal.directory", [](Reader& r, Path k, Config& c) { return r.path(k, c.journal_dir); },
     [](const Config& c) { return toml_text(c.journal_dir); }},
    {"journal.schema",
     [](Reader& r, Path k, Config& c) { return r.path(k, c.journal_schema, true); },
     [](const Config& c) { return toml_text(c.journal_schema); }},
    {"journal.segment_bytes",
     [](Reader& r, Path k, Config& c) {
       return r.integer(k, c.journal.segment_bytes, journal::JournalOptions::min_segment_bytes,
                        journal::JournalOptions::max_segment_bytes);
     },
     [](const Config& c) { return fmt::format("{}", c.journal.segment_bytes); }},
    {"journal.keep_segments",
     [](Reader& r, Path k, Config& c) { return r.integer(k, c.journal.keep_segments, 0); },
     [](const Config& c) { return fmt::format("{}", c.journal.keep_segments); }},
    {"journal.keep_bytes",
     [](Reader& r, Path k, Config& c) { return r.with_unit(k, c.journal.keep_bytes, byte_units); },
     [](const Config& c) { return fmt::format("{}", c.journal.keep_bytes); }},
    {"journal.keep_for",
     [](Reader& r, Path k, Config& c) {
       std::uint64_t seconds = static_cast<std::uint64_t>(c.journal.keep_for.count());
       auto failed = r.with_unit(k, seconds, duration_units);
       c.journal.keep_for = std::chrono::seconds(seconds);
       return failed;
     },
     [](const Config& c) { return fmt::format("{}", c.journal.keep_for.count()); }},
    {"journal.recycle",
     [](Reader& r, Path k, Config& c) { return r.boolean(k, c.journal.recycle); },
     [](const Config& c) { return fmt::format("{}", c.journal.recycle); }},
    {"journal.reader_hold_seconds",
     [](Reader& r, Path k, Config& c) {
       std::int64_t seconds = c.journal.reader_hold_limit.count();
       auto failed = r.integer(k, seconds, 0);
       c.journal.reader_hold_limit = std::chrono::seconds(seconds);
       return failed;
     },
     [](const Config& c) { return fmt::format("{}", c.journal.reader_hold_limit.count()); }},
    {"journal.writeback_every_bytes",
     [](Reader& r, Path k, Config& c) { return r.integer(k, c.journal.writeback_every_bytes, 0); },
     [](const Config& c) { return fmt::format("{}", c.journal.writeback_every_bytes); }},
    {"journal.flush.every_bytes",
     [](Reader& r, Path k, Config& c) { return r.integer(k, c.journal.flush.every_bytes, 0); },
     [](const Config& c) { return fmt::format("{}", c.journal.flush.every_bytes); }},
    {"journal.flush.every_us",
     [](Reader& r, Path k, Config& c) {
       std::int64_t every_us = c.journal.flush.every.count();
       auto failed = r.integer(k, every_us, 0, 60'000'000);
       c.journal.flush.every = std::chrono::microseconds(every_us);
       return failed;
     },
     [](const Config& c) { return fmt::format("{}", c.journal.flush.every.count()); }},
    {"placement.consumer_cpu",
     [](Reader& r, Path k, Config& c) { return r.integer(k, c.consumer_cpu, -1, 4095); },
     [](const Config& c) { return fmt::format("{}", c.consumer_cpu); }},
    {"placement.housekeeping_cpus",
     [](Reader& r, Path k, Config& c) { return r.cpus(k, c.housekeeping_cpus); },
     [](const Config& c) { return toml_array(c.housekeeping_cpus); }},
    {"rings.bytes", [](Reader& r, Path k, Config& c) { return r.ring_size(k, c.ring_bytes); },
     [](const Config& c) { return fmt::format("{}", c.ring_bytes); }},
    {"rings.huge_pages",
     [](Reader& r, Path k, Config& c) { return r.huge_pages(k, c.ring_memory.huge_pages); },
     [](const Config& c) { return toml_text(huge_pages_name(c.ring_memory.huge_pages)); }},
    {"rings.lock", [](Reader& r, Path k, Config& c) { return r.boolean(k, c.ring_memory.lock); },
     [](const Config& c) { return fmt::format("{}", c.ring_memory.lock); }},
    {"ship.nats", [](Reader& r, Path k, Config& c) { return r.strings(k, c.ship.nats.servers); },
     [](const Config& c) { return toml_array(c.ship.nats.servers); }},
    {"ship.stream", [](Reader& r, Path k, Config& c) { return r.string(k, c.ship.nats.stream); },
     [](const Config& c) { return toml_text(c.ship.nats.stream); }},
    {"ship.subject", [](Reader& r, Path k, Config& c) { return r.string(k, c.ship.nats.subject); },
     [](const Config& c) { return toml_text(c.ship.nats.subject); }},
    {"ship.credentials_file",
     [](Reader& r, Path k, Config& c) {
       return r.path(k, c.ship.nats.credentials_file, /*may_be_empty=*/true);
     },
     [](const Config& c) { return toml_text(c.ship.nats.credentials_file); }},
    {"ship.format",
     [](Reader& r, Path k, Config& c) {
       return r.one_of(k, c.ship.format, ship::ship_format_names);
     },
     [](const Config& c) { return toml_text(ship::name_of(c.ship.format)); }},
    {"ship.compress",
     [](Reader& r, Path k, Config& c) {
       return r.one_of(k, c.ship.compression, ship::compression_names);
     },
     [](const Config& c) { return toml_text(ship::name_of(c.ship.compression)); }},
    {"ship.block_bytes",
     [](Reader& r, Path k, Config& c) {
       return r.integer(k, c.ship.block_bytes, ship::min_block_bytes, ship::max_block_bytes);
     },
     [](const Config& c) { return fmt::format("{}", c.ship.block_bytes); }},
    {"ship.linger_us",
     [](Reader& r, Path k, Config& c) {
       std::int64_t linger_us = c.ship.linger.count();
       auto failed = r.integer(k, linger_us, 0, 10'000'000);
       c.ship.linger = std::chrono::microseconds(linger_us);
       return failed;
     },
     [](const Config& c) { return fmt::format("{}", c.ship.linger.count()); }},
    {"ship.max_in_flight",
     [](Reader& r, Path k, Config& c) { return r.integer(k, c.ship.max_in_flight, 0, 1'000'000); },
     [](const Config& c) { return fmt::format("{}", c.ship.max_in_flight); }},
    {"ship.replicas",
     [](Reader& r, Path k, Config& c) {
       int replicas = c.ship.create_replicas.value_or(0);
       auto failed = r.integer(k, replicas, 0, 5);
       c.ship.create_replicas = replicas > 0 ? std::optional(replicas) : std::nullopt;
       return failed;
     },
     [](const Config& c) { return fmt::format("{}", c.ship.create_replicas.value_or(0)); }},
    {"metrics.listen",
     [](Reader& r, Path k, Config& c) { return r.listen_address(k, c.metrics_listen); },
     [](const Config& c) { return toml_text(c.metrics_listen); }},
};

// The keys of each [[channels]] table, the same way.
struct ChannelKey {
  std::string_view name;
  std::optional<std::string> (*read)(Reader&, std::string_view name, ChannelConfig&);
  std::string (*value)(const ChannelConfig&);
};

const ChannelKey channel_keys[] = {
    {"name", [](Reader& r, Path k, ChannelConfig& c) { return r.string(k, c.name); },
     [](const ChannelConfig& c) { return toml_text(c.name); }},
    {"ring_bytes",
     [](Reader& r, Path k, ChannelConfig& c) {
       return r.ring_size(k, c.ring_bytes, /*zero_is_default=*/true);
     },
     [](const ChannelConfig& c) { return fmt::format("{}", c.ring_bytes); }},
    {"overflow",
     [](Reader& r, Path k, ChannelConfig& c) {
       return r.one_of(k, c.overflow, service::overflow_policy_names);
     },
     [](const ChannelConfig& c) { return toml_text(std::string(service::to_string(c.overflow))); }},
    {"block_timeout_us",
     [](Reader& r, Path k, ChannelConfig& c) {
       std::int64_t micros = c.block_timeout.count();
       auto failed = r.integer(k, micros, 0, 60'000'000);
       c.block_timeout = std::chrono::microseconds(micros);
       return failed;
     },
     [](const ChannelConfig& c) { return fmt::format("{}", c.block_timeout.count()); }},
};

bool is_known_key(std::string_view path) {
  const auto named = [&](const Key& key) { return key.path == path; };
  if (std::ranges::any_of(service_keys, named)) return true;
  constexpr std::string_view channel_prefix = "channels.";
  return path.starts_with(channel_prefix) &&
         std::ranges::any_of(channel_keys, [&](const ChannelKey& key) {
           return key.name == path.substr(channel_prefix.size());
         });
}

std::optional<std::string> Reader::channels(std::vector<ChannelConfig>& out) {
  const toml::node* node = root_.get("channels");
  if (node == nullptr) return std::nullopt;
  if (!node->is_array_of_tables()) {
    return error(*node, "channels", "expected [[channels]] tables, got " + type_name(*node));
  }
  out.clear();
  for (const toml::node& item : *node->as_array()) {
    RINGLOG_CHECK(item.is_table(), "an array of tables holds only tables");
    Reader channel(*item.as_table(), source_);
    ChannelConfig config;
    if (item.as_table()->get("name") == nullptr) {
      return error(item, "channels.name", "every channel needs a name");
    }
    for (const ChannelKey& key : channel_keys) {
      if (auto failed = key.read(channel, key.name, config)) return prefixed(*failed);
    }
    const bool repeated = std::any_of(out.begin(), out.end(), [&](const ChannelConfig& c) {
      return c.name == config.name;
    });
    if (repeated) return error(item, "channels.name", "\"" + config.name + "\" is repeated");
    out.push_back(std::move(config));
  }
  if (out.empty()) return error(*node, "channels", "at least one channel is needed");
  return std::nullopt;
}

}  // namespace

namespace {

// A setting refused: its text names the file, the line and the key (`file:line: key: what`).
std::unexpected<Error> refused(std::string what) {
  return std::unexpected(Error::because(SetupErrc::invalid_setting, std::move(what)));
}

}  // namespace

std::expected<ServiceConfig, Error> parse_service_config(std::string_view text,
                                                         const std::string& source) {
  toml::table root;
  try {  // Debian's toml++ reports syntax errors by exception
    root = toml::parse(text, source);
  } catch (const toml::parse_error& failure) {
    return refused(fmt::format("{}:{}:{}: {}", source, failure.source().begin.line,
                               failure.source().begin.column, failure.description()));
  }
  Reader reader(root, source);
  if (auto unknown = reader.unknown_key(root, "")) return refused(*unknown);

  ServiceConfig config;
  for (const Key& key : service_keys) {
    if (auto failed = key.read(reader, key.path, config)) return refused(*failed);
  }
  if (auto failed = reader.channels(config.channels)) return refused(*failed);
  return config;
}

std::expected<ServiceConfig, Error> load_service_config(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    return std::unexpected(Error::from_os(errno, "cannot read configuration " + path.string()));
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse_service_config(text.str(), path.string());
}

std::string ServiceConfig::to_toml() const {
  std::string text;
  std::string_view table;
  for (const Key& key : service_keys) {
    const std::size_t name_at = key.path.rfind('.');
    if (key.path.substr(0, name_at) != table) {
      table = key.path.substr(0, name_at);
      text += fmt::format("{}[{}]\n", text.empty() ? "" : "\n", table);
    }
    text += fmt::format("{} = {}\n", key.path.substr(name_at + 1), key.value(*this));
  }
  for (const ChannelConfig& channel : channels) {
    text += "\n[[channels]]\n";
    for (const ChannelKey& key : channel_keys) {
      text += fmt::format("{} = {}\n", key.name, key.value(channel));
    }
  }
  return text;
}

namespace {

// Why this process cannot make `directory` or write in it. Found by doing both and undoing
// them: access(2) answers yes to root wherever the file system says no. The write is an unnamed
// file (O_TMPFILE), never seen by a journal's readers listing the directory.
std::optional<std::string> unwritable(const std::filesystem::path& directory) {
  std::vector<std::filesystem::path> missing;  // deepest first
  std::error_code error;
  for (std::filesystem::path part = std::filesystem::absolute(directory);
       !std::filesystem::exists(part, error) && part.has_relative_path();
       part = part.parent_path()) {
    missing.push_back(part);
  }
  std::optional<std::string> problem;
  for (auto part = missing.rbegin(); part != missing.rend() && !problem; ++part) {
    if (::mkdir(part->c_str(), 0755) != 0) {
      problem = fmt::format("cannot create {}: {}", part->string(), std::strerror(errno));
    }
  }
  if (!problem) {
    const int probe = ::open(directory.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (probe >= 0) {
      ::close(probe);
    } else if (errno != EOPNOTSUPP || ::access(directory.c_str(), W_OK | X_OK) != 0) {
      problem = fmt::format("cannot write in {}: {}", directory.string(), std::strerror(errno));
    }
  }
  for (const auto& part : missing) ::rmdir(part.c_str());  // what this check made, undone
  return problem;
}

std::optional<std::string> journal_problem(const ServiceConfig& config) {
  if (const auto invalid = journal::check_options(config.journal)) {
    return "journal.segment_bytes: " + invalid->context;
  }
  if (auto problem = unwritable(config.journal_dir)) {
    return fmt::format("journal.directory {}: {}", config.journal_dir.string(), *problem);
  }
  if (!config.journal_schema.empty()) {
    if (auto loaded = schema::Schema::load(config.journal_schema); !loaded) {
      return "journal.schema: " + loaded.error().message();
    }
  }
  std::error_code error;
  if (std::filesystem::exists(config.journal_dir, error)) {
    // What opening it would find, read-only: no journal, damage it refuses, another writer.
    if (auto opening = journal::preview_open(config.journal_dir); !opening) {
      return "journal.directory: " + opening.error().message();
    }
  }
  return std::nullopt;
}

std::optional<std::string> runtime_problem(const ServiceConfig& config) {
  if (auto problem = unwritable(config.runtime_dir)) {
    return fmt::format("service.runtime_dir {}: {}", config.runtime_dir.string(), *problem);
  }
  const std::string socket = service::detail::socket_path(config.runtime_dir, config.name).string();
  if (socket.size() >= sizeof(sockaddr_un::sun_path)) {
    return fmt::format("service.runtime_dir and service.name: the control socket {} is {} "
                       "characters long, the kernel takes at most {}", socket, socket.size(),
                       sizeof(sockaddr_un::sun_path) - 1);
  }
  if (!config.group.empty() && ::getgrnam(config.group.c_str()) == nullptr) {
    return fmt::format("service.group \"{}\" is no group on this host", config.group);
  }
  return std::nullopt;
}

std::optional<std::string> cpu_problem(const ServiceConfig& config) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0) return std::nullopt;
  const auto may_use = [&](int cpu) { return cpu < CPU_SETSIZE && CPU_ISSET(cpu, &allowed); };
  if (config.consumer_cpu >= 0 && !may_use(config.consumer_cpu)) {
    return fmt::format("placement.consumer_cpu: CPU {} is not one this process may use",
                       config.consumer_cpu);
  }
  for (const int cpu : config.housekeeping_cpus) {
    if (!may_use(cpu)) {
      return fmt::format("placement.housekeeping_cpus: CPU {} is not one this process may use",
                         cpu);
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> check_before_serving(const ServiceConfig& config) {
  std::string problems;
  for (const auto& problem : {journal_problem(config), runtime_problem(config),
                              cpu_problem(config)}) {
    if (problem) problems += *problem + "\n";
  }
  if (!config.ship.nats.servers.empty()) {
    if (auto checked = ship::check_endpoint(config.ship.nats); !checked) {
      problems += "[ship]: " + checked.error() + "\n";
    }
  }
  if (problems.empty()) return std::nullopt;
  problems.pop_back();
  return problems;
}

}  // namespace ringlog::service
