#include "service/service_config.hpp"

#include "ship/nats_endpoint.hpp"
#include "service/service_protocol.hpp"

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
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <ranges>
#include <set>
#include <sstream>

namespace ringlog::app {

namespace {

using HugePages = ring::MemoryOptions::HugePages;

// Every key a file may hold; those of [[channels]] tables are prefixed "channels.".
const std::set<std::string, std::less<>> known_keys = {
    "service.name",           "service.runtime_dir",          "service.group",
    "journal.directory",      "journal.segment_bytes",        "journal.keep_segments",
    "journal.recycle",        "journal.writeback_every_bytes", "journal.flush.every_bytes",
    "journal.flush.every_us", "placement.consumer_cpu",       "placement.housekeeping_cpus",
    "rings.bytes",            "rings.huge_pages",             "rings.lock",
    "channels.name",          "channels.ring_bytes",          "ship.nats",
    "ship.stream",            "ship.subject",                 "ship.credentials_file",
    "ship.max_in_flight",     "ship.replicas",
};

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

  // Keys nowhere in known_keys, with their line: a typo must not pass for a default.
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
          if (auto unknown = unknown_key(*channel.as_table(), key)) return unknown;
        }
        continue;
      }
      if (!known_keys.contains(key)) {
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

  std::optional<std::string> channels(std::vector<ChannelConfig>& out) {
    const toml::node* node = root_.get("channels");
    if (node == nullptr) return std::nullopt;
    if (!node->is_array_of_tables()) {
      return error(*node, "channels", "expected [[channels]] tables, got " + type_name(*node));
    }
    out.clear();
    for (const toml::node& item : *node->as_array()) {
      Reader channel(*item.as_table(), source_);
      ChannelConfig config;
      if (item.as_table()->get("name") == nullptr) {
        return error(item, "channels.name", "every channel needs a name");
      }
      if (auto failed = channel.string("name", config.name)) return prefixed(*failed);
      if (auto failed = channel.ring_size("ring_bytes", config.ring_bytes, true)) {
        return prefixed(*failed);
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
    return failed.substr(0, key_at + 2) + "channels." + failed.substr(key_at + 2);
  }

  const toml::table& root_;
  std::string source_;
};

}  // namespace

std::expected<ServiceConfig, std::string> parse_service_config(std::string_view text,
                                                               const std::string& source) {
  toml::table root;
  try {  // Debian's toml++ reports syntax errors by exception
    root = toml::parse(text, source);
  } catch (const toml::parse_error& failure) {
    return std::unexpected(fmt::format("{}:{}:{}: {}", source, failure.source().begin.line,
                                       failure.source().begin.column, failure.description()));
  }
  Reader reader(root, source);
  if (auto unknown = reader.unknown_key(root, "")) return std::unexpected(*unknown);

  ServiceConfig config;
  storage::JournalOptions& journal = config.journal;
  std::int64_t every_us = journal.flush.every.count();
  ShipConfig& ship = config.ship;
  int replicas = ship.create_replicas.value_or(0);
  for (auto failed : {
           reader.string("service.name", config.name),
           reader.path("service.runtime_dir", config.runtime_dir),
           reader.string("service.group", config.group, /*may_be_empty=*/true),
           reader.path("journal.directory", config.journal_dir),
           reader.integer("journal.segment_bytes", journal.segment_bytes,
                          storage::JournalOptions::min_segment_bytes,
                          storage::JournalOptions::max_segment_bytes),
           reader.integer("journal.keep_segments", journal.keep_segments, 0),
           reader.boolean("journal.recycle", journal.recycle),
           reader.integer("journal.writeback_every_bytes", journal.writeback_every_bytes, 0),
           reader.integer("journal.flush.every_bytes", journal.flush.every_bytes, 0),
           reader.integer("journal.flush.every_us", every_us, 0, 60'000'000),
           reader.integer("placement.consumer_cpu", config.consumer_cpu, -1, 4095),
           reader.cpus("placement.housekeeping_cpus", config.housekeeping_cpus),
           reader.ring_size("rings.bytes", config.ring_bytes),
           reader.huge_pages("rings.huge_pages", config.ring_memory.huge_pages),
           reader.boolean("rings.lock", config.ring_memory.lock),
           reader.channels(config.channels),
           reader.strings("ship.nats", ship.nats.servers),
           reader.string("ship.stream", ship.nats.stream),
           reader.string("ship.subject", ship.nats.subject),
           reader.path("ship.credentials_file", ship.nats.credentials_file,
                       /*may_be_empty=*/true),
           reader.integer("ship.max_in_flight", ship.max_in_flight, 1, 1'000'000),
           reader.integer("ship.replicas", replicas, 0, 5),
       }) {
    if (failed) return std::unexpected(*failed);
  }
  ship.create_replicas = replicas > 0 ? std::optional(replicas) : std::nullopt;
  journal.flush.every = std::chrono::microseconds(every_us);
  return config;
}

std::expected<ServiceConfig, std::string> load_service_config(
    const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    return std::unexpected(fmt::format("cannot read configuration {}: {}", path.string(),
                                       std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse_service_config(text.str(), path.string());
}

std::string ServiceConfig::to_toml() const {
  const char* pages = ring_memory.huge_pages == HugePages::Always ? "always"
                      : ring_memory.huge_pages == HugePages::Never ? "never"
                                                                  : "try";
  std::string text = fmt::format(
      "[service]\nname = \"{}\"\nruntime_dir = \"{}\"\ngroup = \"{}\"\n\n"
      "[journal]\ndirectory = \"{}\"\nsegment_bytes = {}\nkeep_segments = {}\nrecycle = {}\n"
      "writeback_every_bytes = {}\n\n[journal.flush]\nevery_bytes = {}\nevery_us = {}\n\n"
      "[placement]\nconsumer_cpu = {}\nhousekeeping_cpus = [{}]\n\n"
      "[rings]\nbytes = {}\nhuge_pages = \"{}\"\nlock = {}\n",
      name, runtime_dir.string(), group, journal_dir.string(), journal.segment_bytes,
      journal.keep_segments, journal.recycle, journal.writeback_every_bytes,
      journal.flush.every_bytes, journal.flush.every.count(), consumer_cpu,
      fmt::join(housekeeping_cpus, ", "), ring_bytes, pages, ring_memory.lock);
  text += fmt::format("\n[ship]\nnats = [{}]\nstream = \"{}\"\nsubject = \"{}\"\n"
                      "credentials_file = \"{}\"\nmax_in_flight = {}\nreplicas = {}\n",
                      fmt::join(ship.nats.servers | std::views::transform([](const auto& url) {
                                  return "\"" + url + "\"";
                                }), ", "),
                      ship.nats.stream, ship.nats.subject, ship.nats.credentials_file.string(),
                      ship.max_in_flight, ship.create_replicas.value_or(0));
  for (const ChannelConfig& channel : channels) {
    text += fmt::format("\n[[channels]]\nname = \"{}\"\nring_bytes = {}\n", channel.name,
                        channel.ring_bytes);
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
  if (const auto invalid = storage::check_options(config.journal)) {
    return "journal.segment_bytes: " + invalid->second;
  }
  if (auto problem = unwritable(config.journal_dir)) {
    return fmt::format("journal.directory {}: {}", config.journal_dir.string(), *problem);
  }
  std::error_code error;
  if (std::filesystem::exists(config.journal_dir, error)) {
    // What opening it would find, read-only: no journal, damage it refuses, another writer.
    if (auto opening = storage::preview_open(config.journal_dir); !opening) {
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
    if (auto checked = check_endpoint(config.ship.nats); !checked) {
      problems += "[ship]: " + checked.error() + "\n";
    }
  }
  if (problems.empty()) return std::nullopt;
  problems.pop_back();
  return problems;
}

}  // namespace ringlog::app
