// Helpers shared by the shipping test files: nats-server processes on loopback ports, the
// journals they ship, what a stream holds read back through the decoder, the forms a stream may
// take, and the fixture of one server with a journal for it.
#pragma once

#include "ship/fetcher.hpp"
#include "ship/message_format.hpp"
#include "ship/nats_link.hpp"
#include "ship/shipper.hpp"
#include "test_support.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace ringlog::ship::ship_test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using journal::Journal;
using journal::JournalEvent;
using journal::JournalReader;

inline constexpr const char* nats_server_binary = "/usr/sbin/nats-server";

// A TCP port nothing listens on now: the kernel's choice for a socket bound to port 0.
inline int free_port() {
  const int socket = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(socket, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(socket, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(socket);
    return -1;
  }
  ::close(socket);
  return ntohs(address.sin_port);
}

// True when the NATS server listening on 127.0.0.1:`port` is the one named `server_name`: its
// greeting (the INFO line it sends every client first) names it. A port free_port() picked can
// be another process's by the time a server binds it.
inline bool nats_server_answers(int port, const std::string& server_name) {
  const int socket = ::socket(AF_INET, SOCK_STREAM, 0);
  const timeval patience{.tv_sec = 2, .tv_usec = 0};  // a greeting is sent at once
  ::setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(std::uint16_t(port));
  std::string greeting;
  if (::connect(socket, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    char chunk[4096];
    for (ssize_t got; greeting.find('\n') == std::string::npos &&
                      (got = ::recv(socket, chunk, sizeof chunk, 0)) > 0;) {
      greeting.append(chunk, std::size_t(got));
    }
  }
  ::close(socket);
  return greeting.starts_with("INFO ") &&
         greeting.find("\"server_name\":\"" + server_name + "\"") != std::string::npos;
}

inline pid_t spawn(const std::vector<std::string>& arguments,
                   const std::filesystem::path& output) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> argv;
  for (const std::string& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

inline int exit_status_of(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Polls `done` until it holds or `limit` passes: the tests wait on what the servers and the
// shipper report, never on a fixed delay.
template <class Condition>
bool eventually(Condition done, Clock::duration limit = 60s) {
  const Clock::time_point deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// The body of an HTTP GET of `path` from 127.0.0.1:`port` (HTTP/1.0: the server closes when
// done); nothing when it cannot be had.
inline std::optional<std::string> http_get(int port, const std::string& path) {
  const int socket = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(std::uint16_t(port));
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  std::string reply;
  if (::connect(socket, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::send(socket, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char chunk[4096];
    for (ssize_t got; (got = ::recv(socket, chunk, sizeof chunk, 0)) > 0;) reply.append(chunk, got);
  }
  ::close(socket);
  const std::size_t body = reply.find("\r\n\r\n");
  if (!reply.starts_with("HTTP/1.") || body == std::string::npos) return std::nullopt;
  return reply.substr(body + 4);
}

inline std::string log_of(const std::filesystem::path& path) {
  const std::vector<char> text = test::read_file(path);
  return std::string(text.begin(), text.end());
}

// One nats-server with JetStream on a temporary directory, optionally one of a cluster.
class NatsServer {
 public:
  NatsServer(std::filesystem::path directory, std::string name, int cluster_port = 0,
             std::vector<int> route_ports = {})
      : directory_(std::move(directory)),
        name_(unique_name(name)),
        cluster_port_(cluster_port),
        route_ports_(std::move(route_ports)),
        port_(free_port()),
        monitor_port_(free_port()) {
    std::filesystem::create_directories(directory_);
    write_config();
  }
  ~NatsServer() { stop(); }
  std::filesystem::path log() const { return directory_ / "server.log"; }
  // A line more for its configuration file, from the next start() on.
  void configure(std::string line) {
    extra_config_.push_back(std::move(line));
    write_config();
  }

  // Starts it and waits until it accepts clients. free_port() only said a port was free a
  // moment before: where another process took it meanwhile, the server exits at once, and is
  // started again on other ports, a few times.
  bool start() {
    for (int attempt = 1; attempt <= 3; ++attempt) {
      pid_ = spawn({nats_server_binary, "-c", (directory_ / "server.conf").string()}, log());
      if (pid_ <= 0) return false;
      if (eventually([&] { return exited() || nats_server_answers(port_, name_); }) &&
          pid_ > 0) {
        return true;
      }
      if (pid_ > 0) {  // neither up nor gone within the wait
        stop();
        return false;
      }
      if (log_of(log()).find("address already in use") == std::string::npos) return false;
      port_ = free_port();
      monitor_port_ = free_port();
      write_config();
    }
    return false;
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    exit_status_of(pid_);
    pid_ = -1;
  }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  // The last stream sequence this server's own replica of `stream` has stored, from its
  // monitoring endpoint (/jsz): what a consumer placed on this server can read, whatever raft
  // calls current. Nothing when the server holds no replica of it, or does not answer.
  std::optional<std::uint64_t> stored_through(const std::string& stream) const {
    const auto body = http_get(monitor_port_, "/jsz?accounts=true&streams=true");
    if (!body) return std::nullopt;
    const auto jsz = nlohmann::json::parse(*body, nullptr, false);
    if (jsz.is_discarded()) return std::nullopt;
    for (const auto& account : jsz.value("account_details", nlohmann::json::array())) {
      for (const auto& detail : account.value("stream_detail", nlohmann::json::array())) {
        if (detail.value("name", "") == stream) {
          return detail["state"].value("last_seq", std::uint64_t{0});
        }
      }
    }
    return std::nullopt;
  }
  // A server that takes connections and answers nothing (SIGSTOP), until thawed.
  // Throws when it did not stop, which ends the test as a failure.
  void freeze() {
    int status = 0;
    if (::kill(pid_, SIGSTOP) != 0 || ::waitpid(pid_, &status, WUNTRACED) != pid_) {
      throw std::runtime_error("nats-server " + std::to_string(pid_) + " did not stop");
    }
  }
  void thaw() { ASSERT_EQ(::kill(pid_, SIGCONT), 0); }

 private:
  // `name`, made unique on this host: the server's greeting then tells it from any other.
  static std::string unique_name(const std::string& name) {
    static std::atomic<int> servers{0};
    return fmt::format("{}-{}-{}", name, ::getpid(), ++servers);
  }
  // The configuration start() runs the server with.
  void write_config() const {
    std::ofstream config(directory_ / "server.conf");
    config << "server_name: " << name_ << "\nlisten: 127.0.0.1:" << port_ << "\n"
           << "http: 127.0.0.1:" << monitor_port_ << "\n"
           << "jetstream { store_dir: \"" << (directory_ / "store").string() << "\" }\n";
    if (cluster_port_ != 0) {
      config << "cluster { name: ringlog_test\n  listen: 127.0.0.1:" << cluster_port_
             << "\n  routes: [";
      for (std::size_t i = 0; i < route_ports_.size(); ++i) {
        config << (i == 0 ? " " : ", ") << "nats-route://127.0.0.1:" << route_ports_[i];
      }
      config << " ] }\n";
    }
    for (const std::string& line : extra_config_) config << line << "\n";
  }
  // True once the server has exited (and it is reaped: pid_ is -1).
  bool exited() {
    int status = 0;
    if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) pid_ = -1;
    return pid_ <= 0;
  }

  std::filesystem::path directory_;
  std::string name_;
  int cluster_port_;
  std::vector<int> route_ports_;
  std::vector<std::string> extra_config_;
  int port_;
  int monitor_port_;
  pid_t pid_ = -1;
};

inline bool nats_server_installed() { return ::access(nats_server_binary, X_OK) == 0; }

#define SKIP_WITHOUT_NATS_SERVER()                                                              \
  if (!nats_server_installed()) {                                                               \
    GTEST_SKIP() << nats_server_binary << " is not installed (scripts/deps installs Debian's "  \
                                           "nats-server package)";                              \
  }

// Payload sizes vary with the sequence number, so that records of every alignment occur.
inline std::size_t payload_size_of(std::uint64_t sequence) { return 8 + sequence % 89; }

// A journal holding events [0, count), each a pure function of its sequence number, durable.
inline void write_journal(const std::filesystem::path& directory, std::uint64_t count) {
  journal::JournalOptions options;
  options.segment_bytes = std::size_t{4} << 20;  // ~55,000 events: shipping crosses rolls
  auto journal = Journal::open(directory, options);
  ASSERT_TRUE(journal.has_value()) << journal.error().message();
  for (std::uint64_t sequence = journal->next_sequence(); sequence < count; ++sequence) {
    const auto payload = test::make_payload(sequence, payload_size_of(sequence));
    auto header = test::header_for(sequence, payload.size());
    header.event_type = std::uint8_t(sequence % 7);
    header.flags = std::uint8_t(sequence % 3);
    ASSERT_TRUE(journal->append(header, payload));
  }
  ASSERT_TRUE(journal->sync().has_value());
}

inline NatsEndpoint endpoint_of(std::vector<std::string> servers) {
  NatsEndpoint endpoint;
  endpoint.servers = std::move(servers);
  endpoint.stream = "SHIPTEST";
  endpoint.subject = "ringlog.test.events";
  return endpoint;
}

// How many messages the stream holds, or why that could not be had.
inline std::expected<std::uint64_t, std::string> stream_message_count(
    const NatsEndpoint& endpoint) {
  auto link = NatsLink::connect(endpoint, "ringlog-test");
  if (!link) return std::unexpected(link.error());
  jsStreamInfo* info = nullptr;
  if (const natsStatus s = js_GetStreamInfo(&info, (*link)->jetstream(), endpoint.stream.c_str(),
                                            nullptr, nullptr);
      s != NATS_OK) {
    return std::unexpected(fmt::format("stream info of {}: {}", endpoint.stream,
                                       natsStatus_GetText(s)));
  }
  const std::uint64_t messages = info->State.Msgs;
  jsStreamInfo_Destroy(info);
  return messages;
}
// The same, 0 when the stream does not exist (yet) or does not answer.
inline std::uint64_t stream_messages(const NatsEndpoint& endpoint) {
  return stream_message_count(endpoint).value_or(0);
}

// The sequence number after the newest event in the stream; 0 when it holds none (or does not
// exist yet).
inline std::uint64_t stream_events(const NatsEndpoint& endpoint) {
  auto link = NatsLink::connect(endpoint, "ringlog-test");
  if (!link) return 0;
  auto position = stream_position(**link, endpoint, std::nullopt);
  return position && position->last_event ? *position->last_event + 1 : 0;
}

// Every event of the stream on the endpoint's subject, in stream order, read back through the
// decoder (which checks each block): the sequence number each carries. The stream holding the
// journal exactly once, in order, is this being 0..n-1.
inline std::vector<std::uint64_t> shipped_sequences(const NatsEndpoint& endpoint) {
  std::vector<std::uint64_t> sequences;
  auto link = NatsLink::connect(endpoint, "ringlog-test");
  if (!link) {
    ADD_FAILURE() << link.error();
    return sequences;
  }
  const auto count = stream_message_count(endpoint);
  if (!count) {
    ADD_FAILURE() << count.error();
    return sequences;
  }
  const std::uint64_t messages = *count;
  auto cursor = StreamCursor::open(**link, endpoint);
  MessageDecoder decoder;
  for (std::uint64_t read = 0; read < messages; ++read) {
    auto message = cursor.next(10'000);
    if (!message) {
      ADD_FAILURE() << "message " << read << " of " << messages << ": " << message.error();
      break;
    }
    auto decoded = decoder.decode(message->get(), [&](const ShippedEvent& event) {
      sequences.push_back(event.sequence);
    });
    if (!decoded) {
      ADD_FAILURE() << decoded.error();
      break;
    }
  }
  return sequences;
}

// Whether `sequences` is exactly 0, 1, ..., count - 1; else where it first differs.
inline ::testing::AssertionResult exactly_once_in_order(
    const std::vector<std::uint64_t>& sequences, std::uint64_t count) {
  for (std::uint64_t i = 0; i < sequences.size(); ++i) {
    if (sequences[i] != i) {
      return ::testing::AssertionFailure() << "message " << i << " of the stream carries event "
                                           << sequences[i];
    }
  }
  if (sequences.size() != count) {
    return ::testing::AssertionFailure() << "the stream holds " << sequences.size()
                                         << " events, not " << count;
  }
  return ::testing::AssertionSuccess();
}

// Both journals hold the same events, header and payload byte for byte (checksums aside: each
// journal computes its own).
inline void expect_same_events(const std::filesystem::path& original,
                               const std::filesystem::path& copy, std::uint64_t count) {
  auto left = JournalReader::open(original);
  auto right = JournalReader::open(copy);
  ASSERT_TRUE(left.has_value() && right.has_value());
  std::uint64_t compared = 0;
  for (;;) {
    const std::optional<JournalEvent> a = left->next();
    const std::optional<JournalEvent> b = right->next();
    ASSERT_EQ(a.has_value(), b.has_value()) << "after " << compared << " events";
    if (!a) break;
    ASSERT_EQ(a->sequence, b->sequence);
    const event::EventHeader& x = a->view.header;
    const event::EventHeader& y = b->view.header;
    ASSERT_TRUE(x.timestamp == y.timestamp && x.event_type == y.event_type &&
                x.flags == y.flags && x.payload_len == y.payload_len)
        << "event " << a->sequence;
    ASSERT_TRUE(std::equal(a->view.payload.begin(), a->view.payload.end(),
                           b->view.payload.begin()))
        << "event " << a->sequence;
    ++compared;
  }
  EXPECT_EQ(compared, count);
}

// A form the stream may take, as the shipper is told it.
struct Form {
  ShipFormat format;
  Compression compression;
};
inline const Form every_form[] = {{ShipFormat::events, Compression::none},
                                  {ShipFormat::blocks, Compression::none},
                                  {ShipFormat::blocks, Compression::lz4},
                                  {ShipFormat::blocks, Compression::zstd}};
inline const std::span<const Form> block_forms = std::span(every_form).subspan(1);
inline std::string name_of_form(const ::testing::TestParamInfo<Form>& info) {
  return info.param.compression == Compression::none
             ? std::string(name_of(info.param.format))
             : fmt::format("{}_{}", name_of(info.param.format), name_of(info.param.compression));
}
inline void PrintTo(const Form& form, std::ostream* out) {  // in test names: "blocks, zstd"
  *out << name_of(form.format) << ", " << name_of(form.compression);
}

// The shipper's configuration: `journal` into `endpoint`, in `form`.
inline ShipConfig shipping(const std::filesystem::path& journal, const NatsEndpoint& endpoint,
                           Form form) {
  ShipConfig config;
  config.journal_dir = journal;
  config.nats = endpoint;
  config.format = form.format;
  config.compression = form.compression;
  return config;
}

// One server on a free port, and a journal for it in a temporary directory; the test runs in
// each form.
class ship_to_one_server : public ::testing::TestWithParam<Form> {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_NATS_SERVER();
    ASSERT_TRUE(server.start()) << log_of(server.log());
  }
  // The journal, holding events [0, count).
  std::filesystem::path journal(std::uint64_t count) {
    write_journal(dir.path() / "journal", count);
    return dir.path() / "journal";
  }
  ShipConfig shipping(const std::filesystem::path& journal) const {
    return ship_test::shipping(journal, endpoint, GetParam());
  }
  // `ringlog ship` of `journal` into the server, in the test's form, until caught up.
  std::vector<std::string> ship_command(const std::filesystem::path& journal) const {
    return {RINGLOG_PROGRAM, "ship", journal.string(), "--nats", server.url(),
            "--stream", endpoint.stream, "--subject", endpoint.subject, "--until-caught-up",
            "--format", std::string(name_of(GetParam().format)),
            "--compress", std::string(name_of(GetParam().compression))};
  }

  test::TempDir dir;
  NatsServer server{dir.path() / "nats", "solo"};
  const NatsEndpoint endpoint = endpoint_of({server.url()});
};

}  // namespace ringlog::ship::ship_test
