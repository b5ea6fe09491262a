// Tier: suite (50 rogue rounds); soak: RINGLOG_ROGUE_ROUNDS=1000 (scripts/soak).
//
// `ringlog serve` survives any publisher. Rogue processes attach through the public API and then
// do what a stray pointer or a hostile user does to their own ring's mapping: a padding word
// where none belongs, impossible commit samples and overflow counts, random words over the whole
// mapping (its header page included), an attempt to shrink the file, and death. Each is detached
// with a reason that names the byte and what was wrong, and counted; the service stays up and
// answers status; a well-behaved publisher beside them has every event durable, in order and
// byte-exact; the journal verifies intact; and the service's memory stays flat.
#include "service/service.hpp"

#include "forked_service.hpp"
#include "test_support.hpp"

#include <ringlog/journal.hpp>
#include <ringlog/publisher.hpp>

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>

using namespace ringlog;
using service::ServiceConfig;

namespace {

constexpr std::uint8_t good_type = 1;
constexpr std::size_t rogue_ring_bytes = 1 << 16;
constexpr std::size_t header_page = 4096;  // the shared ring's header, before its bytes

ServiceConfig config_in(const test::TempDir& dir) {
  ServiceConfig config;
  config.name = "rogue-test";
  config.runtime_dir = dir / "run";
  config.journal_dir = dir / "journal";
  config.journal.segment_bytes = journal::JournalOptions::min_segment_bytes;
  // Small pages: a read past a ring's end would fault at once, not land in rounding.
  config.ring_memory.huge_pages = ring::MemoryOptions::HugePages::Never;
  config.channels = {{.name = "default"}, {.name = "rogue", .ring_bytes = rogue_ring_bytes}};
  return config;
}

std::optional<service::Publisher> attach(const ServiceConfig& config, const char* channel) {
  auto publisher = service::Publisher::attach({config.name, config.runtime_dir, channel});
  if (!publisher) return std::nullopt;
  return std::move(*publisher);
}

// The whole file of the ring this process mapped last: its start and size, found as the one
// ringlog ring in /proc/self/maps that was not there before (`before`).
using Range = std::pair<std::uintptr_t, std::uintptr_t>;
std::set<Range> ring_mappings() {
  std::set<Range> ranges;
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    if (line.find("memfd:ringlog-ring") == std::string::npos) continue;
    std::uintptr_t start = 0, end = 0;
    char dash = 0;
    std::istringstream(line) >> std::hex >> start >> dash >> end;
    ranges.insert({start, end});
  }
  return ranges;
}
std::optional<Range> new_mapping(const std::set<Range>& before) {
  for (const Range& range : ring_mappings()) {
    if (!before.contains(range)) return range;
  }
  return std::nullopt;
}

void store_word(const Range& file, std::size_t at, std::uint64_t word) {
  std::memcpy(reinterpret_cast<void*>(file.first + at), &word, sizeof word);
}
std::uint64_t commit_word(std::uint8_t type, std::uint8_t flags, std::uint16_t payload_len) {
  event::EventHeader header(0, type, payload_len);
  header.flags = flags;
  return ringlog::detail::commit_word(header);
}

// Waits, in a rogue child, until the service has detached it; then its exit code: 0 when the
// reason came, writes fail, and the reason mentions `expected`.
int detached_exit_code(service::Publisher& publisher, const std::string& expected) {
  if (!test::wait_until(std::chrono::minutes(1), [&] { return !publisher.connected(); })) {
    return 29;
  }
  const std::optional<std::string> reason = publisher.detach_reason();
  if (!reason) return 30;
  if (reason->find("broke its ring's protocol") == std::string::npos) return 31;
  if (reason->find(expected) == std::string::npos) return 32;
  const std::byte payload[8] = {};
  if (publisher.write_event(event::EventHeader(0, 9, 8), payload)) return 33;
  return 0;
}

// Forks a rogue that attaches to the rogue channel and runs `act(publisher, its ring's file)`,
// exiting with its result (10s: the attach failed).
template <class Act>
pid_t fork_rogue(const ServiceConfig& config, Act act) {
  const pid_t child = ::fork();
  if (child != 0) return child;
  const std::set<Range> before = ring_mappings();
  auto publisher = attach(config, "rogue");
  if (!publisher) _exit(10);
  const std::optional<Range> file = new_mapping(before);
  if (!file) _exit(11);
  _exit(act(*publisher, *file));
}

int exit_code_of(pid_t child) {
  int status = 0;
  if (::waitpid(child, &status, 0) != child) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

nlohmann::json status_of(const ServiceConfig& config) {
  const auto text = service::query_status(config.runtime_dir, config.name, "json");
  EXPECT_TRUE(text.has_value()) << text.error();
  return text ? nlohmann::json::parse(*text) : nlohmann::json();
}

// The well-behaved publisher: events of good_type numbered from 0, each payload a function of
// its number.
class GoodPublisher {
 public:
  explicit GoodPublisher(const ServiceConfig& config) : publisher_(attach(config, "default")) {}
  bool attached() const { return publisher_.has_value(); }
  void write(std::uint64_t count) {
    for (std::uint64_t i = 0; i < count; ++i, ++written_) {
      const auto payload = test::make_payload(written_, 8 + written_ % 50);
      while (!publisher_->write_event(test::header_for(written_, payload.size(), good_type),
                                      payload)) {
        ASSERT_TRUE(publisher_->connected()) << "the service dropped the good publisher";
      }
    }
  }
  void expect_all_durable() {
    EXPECT_TRUE(publisher_->wait_durable(written_, std::chrono::seconds(60)));
  }
  std::uint64_t written() const { return written_; }

 private:
  std::optional<service::Publisher> publisher_;
  std::uint64_t written_ = 0;
};

// The good publisher's events in the journal: each in order and byte-exact, none missing (a
// rogue's records, whatever they hold, never match a good event's payload).
std::uint64_t good_events_in(const std::filesystem::path& journal) {
  auto reader = journal::JournalReader::open(journal);
  if (!reader) {
    ADD_FAILURE() << reader.error().message();
    return 0;
  }
  std::uint64_t next = 0;
  reader->replay([&](const journal::JournalEvent& event) {
    const event::EventHeader& header = event.view.header;
    if (header.event_type != good_type || header.timestamp != next ||
        !test::payload_matches(next, event.view.payload) ||
        event.view.payload.size() != 8 + next % 50) {
      return;
    }
    ++next;
  });
  return next;
}

void expect_journal_intact(const std::filesystem::path& journal) {
  const auto check = journal::check_journal(journal);
  ASSERT_TRUE(check.has_value()) << check.error().message();
  EXPECT_TRUE(check->problem.empty()) << check->problem;
}

// The service's anonymous and shared memory (its heap, and the rings it maps), in KiB.
std::uint64_t service_memory_kib(pid_t service) {
  std::ifstream status(fmt::format("/proc/{}/status", service));
  std::uint64_t total = 0;
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("RssAnon:") || line.starts_with("RssShmem:")) {
      total += std::stoull(line.substr(line.find_first_of("0123456789")));
    }
  }
  return total;
}

// A service in a child process of its own (its memory measured apart from the test's), and a
// well-behaved publisher attached to it.
struct Served {
  test::TempDir dir;
  ServiceConfig config = config_in(dir);
  test::ForkedService service{config};
  GoodPublisher good{config};
  bool ready() const { return service.started() && good.attached(); }
};

// Waits until the service's status counts `violations`; false after a minute.
bool wait_for_violations(const ServiceConfig& config, std::uint64_t violations) {
  return test::wait_until(std::chrono::minutes(1), [&] {
    return status_of(config).value("violations", std::uint64_t{0}) >= violations;
  });
}

}  // namespace

TEST(service, a_publisher_that_breaks_its_ring_is_detached_told_why_and_the_others_go_on) {
  Served served;
  ASSERT_TRUE(served.ready());
  const ServiceConfig& config = served.config;
  GoodPublisher& good = served.good;
  good.write(5000);
  // One 8-byte store: a committed padding word at ring offset 0. On the main of before, the
  // drain thread followed it round and round, and no publisher was journaled again.
  const pid_t rogue = fork_rogue(config, [](service::Publisher& publisher, const Range& file) {
    store_word(file, header_page + 8, commit_word(0, ringlog::detail::framing_flag, 0));
    return detached_exit_code(publisher, "ring byte 0: padding at the ring's start");
  });
  EXPECT_EQ(exit_code_of(rogue), 0)
      << "29: still connected; 30: no reason came; 31-32: another reason; 33: wrote";
  good.write(5000);
  good.expect_all_durable();
  const nlohmann::json status = status_of(config);
  EXPECT_EQ(status["violations"], 1);
  ASSERT_EQ(status["latest_violations"].size(), 1u);
  EXPECT_EQ(status["latest_violations"][0]["pid"], rogue);
  EXPECT_EQ(status["latest_violations"][0]["uid"], ::getuid());
  EXPECT_EQ(status["channels"][1]["violations"], 1);
  EXPECT_EQ(served.service.stop(), 0);
  EXPECT_EQ(good_events_in(config.journal_dir), good.written());
  expect_journal_intact(config.journal_dir);
}

TEST(service, a_publisher_whose_samples_or_counts_are_impossible_is_detached) {
  Served served;
  ASSERT_TRUE(served.ready());
  const ServiceConfig& config = served.config;
  // The library's own calls on the rogue's ring, with what no honest publisher writes: a sample
  // past anything written (its memory grew without bound before), then counts going down.
  const auto through_its_ring = [](auto scribble, const char* expected) {
    return [=](service::Publisher& publisher, const Range& file) {
      auto ring = ring::SharedRing::open(
          fmt::format("/proc/self/map_files/{:x}-{:x}", file.first, file.second));
      if (!ring) return 20;
      scribble(*ring);
      return detached_exit_code(publisher, expected);
    };
  };
  const pid_t sampler = fork_rogue(config, through_its_ring([](ring::SharedRing& ring) {
    for (int i = 0; i < 1000; ++i) ring.record_commit_sample({UINT64_MAX, 1});
  }, "commit sample"));
  EXPECT_EQ(exit_code_of(sampler), 0);
  const pid_t counter = fork_rogue(config, through_its_ring([](ring::SharedRing& ring) {
    ring.add_overflow({.dropped = 5});
    ring.add_overflow({.marked = 6});
  }, "drop markers count 6 events"));
  EXPECT_EQ(exit_code_of(counter), 0);
  EXPECT_TRUE(wait_for_violations(config, 2));
  EXPECT_EQ(served.service.stop(), 0);
}

TEST(service, rogue_publishers_never_take_the_service_down) {
  const char* asked = std::getenv("RINGLOG_ROGUE_ROUNDS");
  const int rounds = asked != nullptr ? std::atoi(asked) : 50;
  ASSERT_GE(rounds, 20) << "the memory is compared from round 10 on";
  Served served;
  ASSERT_TRUE(served.ready());
  const ServiceConfig& config = served.config;
  GoodPublisher& good = served.good;
  std::uint64_t memory_at_round_10 = 0;
  for (int round = 0; round < rounds; ++round) {
    good.write(1000);
    const pid_t rogue = fork_rogue(config, [round](service::Publisher& publisher,
                                                   const Range& file) {
      return [&]() -> int {
        std::mt19937_64 random(round);
        ring::Producer& producer = publisher.producer();
        // Honest at first: some events, journaled.
        const std::byte payload[32] = {};
        std::uint64_t written = 0;
        for (; written < 100; ++written) {
          if (!producer.write_event(event::EventHeader(written, 200, 32), payload)) break;
        }
        if (!publisher.wait_durable(written, std::chrono::seconds(30))) return 21;
        // Then random words over the header page, and committed-looking ones over the ring
        // (away from where the consumer stands), and a shrink that must fail.
        // The header slot the consumer reads next (at the lap's start when too little is left).
        std::uint64_t standing = producer.position() & (rogue_ring_bytes - 1);
        if (rogue_ring_bytes - standing < sizeof(event::EventHeader)) standing = 0;
        for (int i = 0; i < 2000; ++i) {
          const std::size_t at = random() % (header_page + rogue_ring_bytes) & ~std::size_t{7};
          if (at >= header_page && at - header_page == standing + 8) continue;
          const std::uint64_t word = random();
          store_word(file, at, at < header_page ? word : (word & 0xffff'ffff) |
                                                             commit_word(0, 0, 0));
        }
        const std::string path =
            fmt::format("/proc/self/map_files/{:x}-{:x}", file.first, file.second);
        const int fd = ::open(path.c_str(), O_RDWR);
        if (fd >= 0 && ::ftruncate(fd, 0) == 0) return 22;
        // The certain fault, where the consumer stands, in case the words above were not one.
        store_word(file, header_page + standing + 8,
                   commit_word(9, ringlog::detail::framing_flag, 0));
        const int code = detached_exit_code(publisher, "ring");
        if (code == 0 && round % 2 == 1) ::raise(SIGKILL);  // and die, one way or the other
        return code;
      }();
    });
    const int code = exit_code_of(rogue);
    EXPECT_TRUE(code == 0 || code == 128 + SIGKILL) << "round " << round << ": exit " << code;
    ASSERT_TRUE(wait_for_violations(config, round + 1)) << "round " << round;
    if (round == 10) memory_at_round_10 = service_memory_kib(served.service.pid());
  }
  good.write(1000);
  good.expect_all_durable();
  const nlohmann::json status = status_of(config);
  EXPECT_EQ(status["violations"], rounds);
  EXPECT_EQ(status["failure"], nullptr);
  const std::uint64_t memory_at_end = service_memory_kib(served.service.pid());
  std::printf("rogue rounds: %d, violations %d, good events durable %llu, service memory "
              "(anonymous and shared) at round 10 %llu KiB, at the end %llu KiB\n",
              rounds, status["violations"].get<int>(),
              static_cast<unsigned long long>(good.written()),
              static_cast<unsigned long long>(memory_at_round_10),
              static_cast<unsigned long long>(memory_at_end));
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  std::printf("memory not judged: the sanitizer keeps freed memory, and shadows what it uses\n");
#else
  EXPECT_LT(memory_at_end, memory_at_round_10 + 4096) << "the service's memory grew";
#endif
  EXPECT_EQ(served.service.stop(), 0);
  EXPECT_EQ(good_events_in(config.journal_dir), good.written());
  expect_journal_intact(config.journal_dir);
}
