// Shipping a journal into NATS JetStream and fetching it back, against real nats-server
// processes on loopback: one server, and a cluster of three with a stream of three replicas,
// in each form a stream may take (blocks, compressed or not, and events one a message). Skipped,
// with the reason, where nats-server is not installed. The forms themselves, encoded and
// decoded and damaged, need no server.
#include "ship/fetcher.hpp"
#include "ship/message_format.hpp"
#include "ship/nats_link.hpp"
#include "service/service.hpp"
#include "service/service_config.hpp"
#include "ship/shipper.hpp"
#include "test_support.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <ringlog/publisher.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <stdexcept>
#include <ranges>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace ringlog::app {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using storage::Journal;
using storage::JournalEvent;
using storage::JournalReader;

constexpr const char* nats_server_binary = "/usr/sbin/nats-server";

// A TCP port nothing listens on now: the kernel's choice for a socket bound to port 0.
int free_port() {
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

bool accepts_connections(int port) {
  const int socket = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(std::uint16_t(port));
  const bool connected =
      ::connect(socket, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(socket);
  return connected;
}

pid_t spawn(const std::vector<std::string>& arguments, const std::filesystem::path& output) {
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

int exit_status_of(pid_t pid) {
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
std::optional<std::string> http_get(int port, const std::string& path) {
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

// One nats-server with JetStream on a temporary directory, optionally one of a cluster.
class NatsServer {
 public:
  NatsServer(std::filesystem::path directory, std::string name, int cluster_port = 0,
             std::vector<int> route_ports = {})
      : directory_(std::move(directory)),
        name_(std::move(name)),
        port_(free_port()),
        monitor_port_(free_port()) {
    std::filesystem::create_directories(directory_);
    std::ofstream config(directory_ / "server.conf");
    config << "server_name: " << name_ << "\nlisten: 127.0.0.1:" << port_ << "\n"
           << "http: 127.0.0.1:" << monitor_port_ << "\n"
           << "jetstream { store_dir: \"" << (directory_ / "store").string() << "\" }\n";
    if (cluster_port != 0) {
      config << "cluster { name: ringlog_test\n  listen: 127.0.0.1:" << cluster_port
             << "\n  routes: [";
      for (std::size_t i = 0; i < route_ports.size(); ++i) {
        config << (i == 0 ? " " : ", ") << "nats-route://127.0.0.1:" << route_ports[i];
      }
      config << " ] }\n";
    }
  }
  ~NatsServer() { stop(); }
  std::filesystem::path log() const { return directory_ / "server.log"; }

  // Starts it and waits until it accepts clients.
  bool start() {
    pid_ = spawn({nats_server_binary, "-c", (directory_ / "server.conf").string()},
                 directory_ / "server.log");
    return pid_ > 0 && eventually([&] { return accepts_connections(port_); }, 20s);
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    exit_status_of(pid_);
    pid_ = -1;
  }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  const std::string& name() const { return name_; }
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
  std::filesystem::path directory_;
  std::string name_;
  int port_;
  int monitor_port_;
  pid_t pid_ = -1;
};

std::string log_of(const std::filesystem::path& path) {
  const std::vector<char> text = test::read_file(path);
  return std::string(text.begin(), text.end());
}

bool nats_server_installed() { return ::access(nats_server_binary, X_OK) == 0; }

#define SKIP_WITHOUT_NATS_SERVER()                                                              \
  if (!nats_server_installed()) {                                                               \
    GTEST_SKIP() << nats_server_binary << " is not installed (scripts/deps installs Debian's "  \
                                           "nats-server package)";                              \
  }

// Payload sizes vary with the sequence number, so that records of every alignment occur.
std::size_t payload_size_of(std::uint64_t sequence) { return 8 + sequence % 89; }

// A journal holding events [0, count), each a pure function of its sequence number, durable.
void write_journal(const std::filesystem::path& directory, std::uint64_t count) {
  storage::JournalOptions options;
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

NatsEndpoint endpoint_of(std::vector<std::string> servers) {
  NatsEndpoint endpoint;
  endpoint.servers = std::move(servers);
  endpoint.stream = "SHIPTEST";
  endpoint.subject = "ringlog.test.events";
  return endpoint;
}

// How many messages the stream holds, or why that could not be had.
std::expected<std::uint64_t, std::string> stream_message_count(const NatsEndpoint& endpoint) {
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
std::uint64_t stream_messages(const NatsEndpoint& endpoint) {
  return stream_message_count(endpoint).value_or(0);
}

// The sequence number after the newest event in the stream; 0 when it holds none (or does not
// exist yet).
std::uint64_t stream_events(const NatsEndpoint& endpoint) {
  auto link = NatsLink::connect(endpoint, "ringlog-test");
  if (!link) return 0;
  auto position = stream_position(**link, endpoint, std::nullopt);
  return position && position->last_event ? *position->last_event + 1 : 0;
}

// Every event of the stream on the endpoint's subject, in stream order, read back through the
// decoder (which checks each block): the sequence number each carries. The stream holding the
// journal exactly once, in order, is this being 0..n-1.
std::vector<std::uint64_t> shipped_sequences(const NatsEndpoint& endpoint) {
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
::testing::AssertionResult exactly_once_in_order(const std::vector<std::uint64_t>& sequences,
                                                 std::uint64_t count) {
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
void expect_same_events(const std::filesystem::path& original,
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

// ---- the forms, without a server

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
  app::ShipStatus status;
  status.stream = "orders \"eu\"\\2";  // orders "eu"\2
  status.shipped = 42;
  const std::string text = app::to_prometheus(status);
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
  storage::JournalOptions options;
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

// ---- shipping into servers

// A form the stream may take, as the shipper is told it.
struct Form {
  ShipFormat format;
  Compression compression;
};
const Form every_form[] = {{ShipFormat::events, Compression::none},
                           {ShipFormat::blocks, Compression::none},
                           {ShipFormat::blocks, Compression::lz4},
                           {ShipFormat::blocks, Compression::zstd}};
const std::span<const Form> block_forms = std::span(every_form).subspan(1);
std::string name_of_form(const ::testing::TestParamInfo<Form>& info) {
  return info.param.compression == Compression::none
             ? std::string(name_of(info.param.format))
             : fmt::format("{}_{}", name_of(info.param.format), name_of(info.param.compression));
}
void PrintTo(const Form& form, std::ostream* out) {  // in test names: "blocks, zstd"
  *out << name_of(form.format) << ", " << name_of(form.compression);
}

// The shipper's configuration: `journal` into `endpoint`, in `form`.
ShipConfig shipping(const std::filesystem::path& journal, const NatsEndpoint& endpoint,
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
    ASSERT_TRUE(server.start());
  }
  // The journal, holding events [0, count).
  std::filesystem::path journal(std::uint64_t count) {
    write_journal(dir.path() / "journal", count);
    return dir.path() / "journal";
  }
  ShipConfig shipping(const std::filesystem::path& journal) const {
    return app::shipping(journal, endpoint, GetParam());
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
INSTANTIATE_TEST_SUITE_P(in_each_form, ship_to_one_server, ::testing::ValuesIn(every_form),
                         name_of_form);
// The same, for what only blocks have.
class ship_blocks_to_one_server : public ship_to_one_server {};
INSTANTIATE_TEST_SUITE_P(in_each_compression, ship_blocks_to_one_server,
                         ::testing::ValuesIn(block_forms), name_of_form);

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
    auto readers = storage::list_readers(dir.path() / "journal");
    return readers && readers->size() == 1 && readers->front().name == "ship." + endpoint.stream &&
           readers->front().position == count;
  }, 60s)) << "the shipped position was not recorded";
  (*shipper)->stop();
  EXPECT_TRUE(exactly_once_in_order(shipped_sequences(endpoint), count));

  auto fetched = fetch_journal({endpoint, dir.path() / "copy", {}});
  ASSERT_TRUE(fetched.has_value()) << fetched.error();
  EXPECT_EQ(fetched->fetched, count);
  EXPECT_EQ(fetched->next_sequence, count);
  auto check = storage::check_journal(dir.path() / "copy");  // what `ringlog verify` reports
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

  ASSERT_TRUE(servers[1]->start());
  // Fetched at once, while the restarted server is still catching up: the fetch's consumer may
  // be placed there, and must then wait for it or move off it.
  const std::uint64_t behind = stream_messages(endpoint) -
                               servers[1]->stored_through(endpoint.stream).value_or(0);
  auto fetched = fetch_journal({endpoint, dir.path() / "copy", {}});
  ASSERT_TRUE(fetched.has_value()) << fetched.error() << " (the restarted server was " << behind
                                   << " messages behind when the fetch began)";
  EXPECT_EQ(fetched->next_sequence, count);
  std::printf("the restarted server was %llu messages behind when the fetch began; the fetch "
              "read %llu gaps again from another replica\n",
              static_cast<unsigned long long>(behind),
              static_cast<unsigned long long>(fetched->gaps_read_again));
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

TEST(ship, blocks_stay_under_the_servers_max_payload) {
  SKIP_WITHOUT_NATS_SERVER();
  test::TempDir dir;
  constexpr std::uint64_t count = 100'000;
  write_journal(dir.path() / "journal", count);
  NatsServer server(dir.path() / "nats", "small");
  constexpr std::int64_t max_payload = 100'000;  // below the 256 KiB blocks asked for
  std::ofstream(dir.path() / "nats" / "server.conf", std::ios::app)
      << "max_payload: " << max_payload << "\n";
  ASSERT_TRUE(server.start());
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
  ASSERT_TRUE(server.start());
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
  std::ofstream(dir.path() / "nats" / "server.conf", std::ios::app)
      << "authorization { user: trader, password: \"s3cret\" }\n";
  ASSERT_TRUE(server.start());
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
  ASSERT_TRUE(server.start());
  ServiceConfig config;
  config.name = "stages";
  config.runtime_dir = dir.path() / "run";
  config.journal_dir = dir.path() / "journal";
  config.latency_sample_every = 1;
  config.ship.nats = endpoint_of({server.url()});
  auto service = Service::start(config);
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
  const auto stage = [&](Stage which) {
    return (*service)->status().channels.at(0).stages[std::size_t(which)];
  };
  ASSERT_TRUE(eventually(
      [&] { return stage(Stage::durable_to_shipped).count >= events + 1; }, 30s));
  const auto over_half_a_second = [](const DurationCounts& counts) {
    std::uint64_t over = counts.per_bucket.back();
    for (std::size_t bucket = 0; bucket < latency_bounds_ns.size(); ++bucket) {
      if (latency_bounds_ns[bucket] > 500'000'000) over += counts.per_bucket[bucket];
    }
    return over;
  };
  EXPECT_GE(over_half_a_second(stage(Stage::durable_to_shipped)), events);
  EXPECT_LT(over_half_a_second(stage(Stage::journaled_to_durable)), events);
  EXPECT_EQ(over_half_a_second(stage(Stage::commit_to_journaled)), 0u);
  ASSERT_TRUE((*service)->stop().has_value());
}

}  // namespace ringlog::app
