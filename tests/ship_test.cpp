// Shipping a journal into NATS JetStream and fetching it back, against real nats-server
// processes on loopback: one server, and a cluster of three with a stream of three replicas.
// Skipped, with the reason, where nats-server is not installed.
#include "ship/fetcher.hpp"
#include "ship/nats_link.hpp"
#include "ship/shipper.hpp"
#include "test_support.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <random>
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

// One nats-server with JetStream on a temporary directory, optionally one of a cluster.
class NatsServer {
 public:
  NatsServer(std::filesystem::path directory, std::string name, int cluster_port = 0,
             std::vector<int> route_ports = {})
      : directory_(std::move(directory)), name_(std::move(name)), port_(free_port()) {
    std::filesystem::create_directories(directory_);
    std::ofstream config(directory_ / "server.conf");
    config << "server_name: " << name_ << "\nlisten: 127.0.0.1:" << port_ << "\n"
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

 private:
  std::filesystem::path directory_;
  std::string name_;
  int port_;
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
  options.segment_bytes = std::size_t{16} << 20;  // several segments: shipping crosses rolls
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

// How many messages the stream holds; 0 when it does not exist (yet).
std::uint64_t stream_messages(const NatsEndpoint& endpoint) {
  auto link = NatsLink::connect(endpoint, "ringlog-test");
  if (!link) return 0;
  jsStreamInfo* info = nullptr;
  if (js_GetStreamInfo(&info, (*link)->jetstream(), endpoint.stream.c_str(), nullptr,
                       nullptr) != NATS_OK) {
    return 0;
  }
  const std::uint64_t messages = info->State.Msgs;
  jsStreamInfo_Destroy(info);
  return messages;
}

// Every message of the stream on the endpoint's subject, in stream order: the sequence number
// each carries. The stream holding the journal exactly once, in order, is this being 0..n-1.
std::vector<std::uint64_t> shipped_sequences(const NatsEndpoint& endpoint) {
  std::vector<std::uint64_t> sequences;
  auto link = NatsLink::connect(endpoint, "ringlog-test");
  if (!link) {
    ADD_FAILURE() << link.error();
    return sequences;
  }
  const std::uint64_t messages = stream_messages(endpoint);
  auto cursor = StreamCursor::open(**link, endpoint);
  if (!cursor) {
    ADD_FAILURE() << cursor.error();
    return sequences;
  }
  while (sequences.size() < messages) {
    auto message = cursor->next(10'000);
    if (!message) break;
    sequences.push_back(shipped_sequence(message->get()).value_or(UINT64_MAX));
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

// One server on a free port, and a journal for it in a temporary directory.
class ship_to_one_server : public ::testing::Test {
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

  test::TempDir dir;
  NatsServer server{dir.path() / "nats", "solo"};
  const NatsEndpoint endpoint = endpoint_of({server.url()});
};

TEST_F(ship_to_one_server,
       a_million_events_reach_the_stream_once_each_in_order_and_fetch_rebuilds_them) {
  constexpr std::uint64_t count = 1'000'000;
  ShipConfig config;
  config.journal_dir = journal(count);
  config.nats = endpoint;
  auto shipper = Shipper::start(config);
  ASSERT_TRUE(shipper.has_value()) << shipper.error();
  ASSERT_TRUE(eventually([&] { return (*shipper)->status().shipped == count; }, 240s))
      << to_text((*shipper)->status());
  const ShipStatus status = (*shipper)->status();
  EXPECT_EQ(status.lag_events, 0u);
  EXPECT_EQ(status.journal_end, count);
  EXPECT_FALSE(status.problem) << *status.problem;
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

TEST_F(ship_to_one_server, a_shipper_killed_at_random_moments_resumes_without_gap_or_duplicate) {
  constexpr std::uint64_t count = 1'000'000;
  const std::vector<std::string> ship = {
      RINGLOG_PROGRAM, "ship", journal(count).string(), "--nats", server.url(),
      "--stream", endpoint.stream, "--subject", endpoint.subject, "--until-caught-up"};

  // Each round kills the shipper once the stream has grown by a random number of events (0
  // included: before it connected, or while it asks the stream where to go on).
  std::mt19937_64 random(20261126);
  std::uniform_int_distribution<std::uint64_t> growth(0, 40'000);
  for (int round = 0; round < 20; ++round) {
    const std::uint64_t target = stream_messages(endpoint) + growth(random);
    const pid_t shipper = spawn(ship, dir.path() / "ship.log");
    ASSERT_GT(shipper, 0);
    ASSERT_TRUE(eventually([&] { return stream_messages(endpoint) >= target; }));
    ::kill(shipper, SIGKILL);
    ASSERT_EQ(exit_status_of(shipper), 128 + SIGKILL) << "round " << round << " ended itself";
  }
  ASSERT_LT(stream_messages(endpoint), count) << "every kill should land mid-shipping";
  const pid_t last = spawn(ship, dir.path() / "ship.log");
  ASSERT_EQ(exit_status_of(last), 0) << log_of(dir.path() / "ship.log");
  EXPECT_TRUE(exactly_once_in_order(shipped_sequences(endpoint), count));
}

TEST_F(ship_to_one_server, a_segment_of_another_journal_is_refused_not_shipped) {
  constexpr std::uint64_t count = 600'000;  // three segments
  const std::filesystem::path ours = journal(count);
  const std::filesystem::path theirs = dir.path() / "theirs";
  write_journal(theirs, count);  // the same events: the same segment names
  std::vector<std::filesystem::path> segments;
  for (const auto& entry : std::filesystem::directory_iterator(ours)) {
    if (entry.path().extension() == ".evtl") segments.push_back(entry.path());
  }
  std::sort(segments.begin(), segments.end());
  ASSERT_EQ(segments.size(), 3u);
  std::filesystem::copy_file(theirs / segments.back().filename(), segments.back(),
                             std::filesystem::copy_options::overwrite_existing);
  const std::uint64_t ours_before_it = std::stoull(segments.back().stem().string());

  ShipConfig config;
  config.journal_dir = ours;
  config.nats = endpoint;
  auto shipper = Shipper::start(config);
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

// The replicas of the stream, as its leader reports them: true when every one is current.
bool every_replica_current(const NatsEndpoint& endpoint, std::uint64_t messages) {
  auto link = NatsLink::connect(endpoint, "ringlog-test");
  if (!link) return false;
  jsStreamInfo* info = nullptr;
  if (js_GetStreamInfo(&info, (*link)->jetstream(), endpoint.stream.c_str(), nullptr,
                       nullptr) != NATS_OK) {
    return false;
  }
  bool current = info->State.Msgs == messages && info->Cluster != nullptr &&
                 info->Cluster->Leader != nullptr && info->Cluster->ReplicasLen == 2;
  for (int i = 0; current && i < info->Cluster->ReplicasLen; ++i) {
    const jsPeerInfo* peer = info->Cluster->Replicas[i];
    current = peer->Current && !peer->Offline && peer->Lag == 0;
  }
  jsStreamInfo_Destroy(info);
  return current;
}

TEST_F(ship_to_one_server, a_stream_ahead_of_the_journal_is_reported_not_shipped_into) {
  ShipConfig config;
  config.journal_dir = journal(2000);
  config.nats = endpoint;
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
  EXPECT_EQ(stream_messages(endpoint), 2000u);
}

TEST(ship, shipping_continues_while_one_of_three_servers_is_down) {
  SKIP_WITHOUT_NATS_SERVER();
  test::TempDir dir;
  constexpr std::uint64_t count = 300'000;
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

  ShipConfig config;
  config.journal_dir = dir.path() / "journal";
  config.nats = endpoint;
  config.create_replicas = 3;
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
  EXPECT_TRUE(eventually([&] { return every_replica_current(endpoint, count); }, 120s));
  (*shipper)->stop();
  EXPECT_TRUE(exactly_once_in_order(shipped_sequences(endpoint), count));
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
  EXPECT_TRUE(eventually([&] { return (*wrong)->status().problem.has_value(); }, 20s));
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
}  // namespace ringlog::app
