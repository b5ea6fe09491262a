// Making the journal's events durable: waiting for a flush, the flush backends (io_uring, or a
// flusher thread where io_uring is forbidden) and the CPUs their threads run on, and a disk that
// fills up.
#include <ringlog/journal.hpp>

#include "journal_support.hpp"

#include <gtest/gtest.h>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

using namespace ringlog;
using journal::FlushPolicy;
using journal::Journal;
using journal::JournalOptions;
using test::append_events, test::expect_events, test::payload_size_of, test::segment_bytes,
    test::small_segments;

TEST(journal, wait_durable_sleeps_until_a_flush_covers_the_sequence) {
  test::TempDir dir;
  auto journal = Journal::open(dir.path(), small_segments(FlushPolicy::on_request()));
  ASSERT_TRUE(journal.has_value());
  append_events(*journal, 1'000);
  std::atomic<bool> returned{false};
  bool reached = false;
  std::thread gateway([&] {  // acknowledges the 1000th event once it is durable
    reached = journal->wait_durable(1'000, std::chrono::seconds(60));
    returned.store(true);
  });
  // Nothing flushes until asked: the waiter cannot have been let go yet.
  EXPECT_FALSE(returned.load());
  EXPECT_EQ(journal->durable_sequence(), 0u);
  ASSERT_TRUE(journal->sync().has_value());
  gateway.join();
  EXPECT_TRUE(reached);
  // A sequence not appended is never durable: the wait ends at its timeout, false.
  EXPECT_FALSE(journal->wait_durable(1'001, std::chrono::milliseconds(50)));
  EXPECT_TRUE(journal->wait_durable(1'000, std::chrono::milliseconds(0))) << "already durable";
}

// Tier: suite. Flushes move the segment's header checkpoint at most once a millisecond; one a
// flush deferred is written once the journal has been idle that long, so that a reader of durable
// events (the shipper's) reaches every durable event without a later append to carry it.
TEST(journal, a_reader_of_durable_events_reaches_the_last_one_while_the_journal_idles) {
  test::TempDir dir;
  auto journal = Journal::open(dir.path(), small_segments({0, std::chrono::microseconds(1)}));
  ASSERT_TRUE(journal.has_value());
  auto reader = journal::JournalReader::open(dir.path(), journal::ReadLimit::durable);
  ASSERT_TRUE(reader.has_value()) << reader.error().message();
  std::uint64_t read = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (std::uint64_t round = 0; round < 50; ++round) {  // each event durable alone, by a flush
    append_events(*journal, 1);
    while (journal->durable_sequence() < round + 1) journal->flush_if_due();
    // The appending thread idles as a service's drain loop does: flush_if_due() and nothing new.
    while (read < round + 1 && std::chrono::steady_clock::now() < deadline) {
      journal->flush_if_due();
      while (reader->next()) ++read;
    }
    ASSERT_EQ(read, round + 1) << "the durable reader never saw event " << round;
  }
}

namespace {

// Makes io_uring_setup fail with EPERM in this process from now on, as a container's seccomp
// profile does; false when the filter cannot be installed.
bool forbid_io_uring() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{static_cast<unsigned short>(std::size(filter)), filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
}

}  // namespace

TEST(journal, falls_back_to_a_flusher_thread_where_io_uring_is_forbidden) {
  test::TempDir dir;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (!forbid_io_uring()) _exit(10);
    JournalOptions demanding = small_segments();
    demanding.flush_backend = journal::FlushBackend::io_uring;
    if (Journal::open(dir / "demanding", demanding).has_value()) _exit(11);  // must say no
    auto journal = Journal::open(dir / "journal", small_segments());
    if (!journal) _exit(12);
    if (journal->flush_backend() != journal::FlushBackend::thread) _exit(13);
    if (journal->flush_backend_note().find("io_uring unavailable") == std::string::npos) _exit(14);
    for (std::uint64_t seq = 0; seq < 30'000; ++seq) {
      const auto payload = test::make_payload(seq, payload_size_of(seq));
      if (!journal->append(test::header_for(seq, payload.size()), payload)) _exit(15);
    }
    // The flusher thread, not sync(), makes everything durable.
    while (journal->durable_sequence() != journal->next_sequence()) {
      journal->sync_async();
      if (journal->failure()) _exit(16);
    }
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 10) GTEST_SKIP() << "cannot install a seccomp filter here";
  ASSERT_EQ(WEXITSTATUS(status), 0) << "see the exit codes in the child above";
  expect_events(dir / "journal", 0, 30'000);
}

namespace {

// Cpus_allowed_list of each of this process's threads, by thread name.
std::multimap<std::string, std::string> allowed_cpus_by_thread() {
  std::multimap<std::string, std::string> allowed;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::ifstream status(task.path() / "status");
    std::string name;
    std::getline(comm, name);
    for (std::string line; std::getline(status, line);) {
      if (line.starts_with("Cpus_allowed_list:")) {
        allowed.emplace(name, line.substr(line.find_first_not_of(" \t", 18)));
      }
    }
  }
  return allowed;
}

// The journal's own threads, and io_uring's workers where fsync runs, stay on the housekeeping
// CPUs, away from the producer's and consumer's cores; with `flushes_apart`, the flushes on
// flush_cpus instead (the consumer's CPU here, as stress places them on two CPUs).
void check_background_cpus(journal::FlushBackend backend, bool flushes_apart) {
  cpu_set_t usable;
  ASSERT_EQ(sched_getaffinity(0, sizeof usable, &usable), 0);
  if (CPU_COUNT(&usable) < 2) GTEST_SKIP() << "needs 2 CPUs: this process may use 1";
  int housekeeping = CPU_SETSIZE - 1;
  while (!CPU_ISSET(housekeeping, &usable)) --housekeeping;
  int consumer_cpu = 0;
  while (!CPU_ISSET(consumer_cpu, &usable)) ++consumer_cpu;
  const int flush_cpu = flushes_apart ? consumer_cpu : housekeeping;
  test::TempDir dir;
  JournalOptions options = small_segments(FlushPolicy::on_request());
  options.flush_backend = backend;
  options.housekeeping_cpus = {housekeeping};
  if (flushes_apart) options.flush_cpus = {flush_cpu};
  auto journal = Journal::open(dir / "journal", options);
  if (!journal && backend == journal::FlushBackend::io_uring) {
    GTEST_SKIP() << "io_uring is not available here: " << journal.error().message();
  }
  ASSERT_TRUE(journal.has_value()) << journal.error().message();
  EXPECT_NE(journal->flush_backend_note().find("CPUs " + std::to_string(flush_cpu)),
            std::string::npos) << journal->flush_backend_note();
  // Enough for a segment roll, so the housekeeper has worked, and flushes that the workers run
  // (sync() would call fdatasync itself). Appended and flushed from another thread, pinned to
  // another CPU, as a consumer thread is: io-wq belongs to the thread that submits, and its
  // workers would start on that thread's CPU. They end with it: looked at before it ends.
  std::multimap<std::string, std::string> allowed;
  std::thread consumer([&] {
    cpu_set_t only;
    CPU_ZERO(&only);
    CPU_SET(consumer_cpu, &only);
    ASSERT_EQ(sched_setaffinity(0, sizeof only, &only), 0);
    append_events(*journal, 20'000);
    while (journal->durable_sequence() != journal->next_sequence()) {
      journal->sync_async();
      ASSERT_FALSE(journal->failure().has_value()) << journal->failure()->message();
    }
    allowed = allowed_cpus_by_thread();
  });
  consumer.join();

  const std::string flusher =
      backend == journal::FlushBackend::io_uring ? "iou-wrk-" : "ringlog-flush";
  std::size_t flushers = 0;
  std::size_t housekeepers = 0;
  for (const auto& [name, cpus] : allowed) {
    if (name.starts_with(flusher)) {
      ++flushers;
      EXPECT_EQ(cpus, std::to_string(flush_cpu)) << "thread " << name;
    } else if (name == "ringlog-segment") {
      ++housekeepers;
      EXPECT_EQ(cpus, std::to_string(housekeeping)) << "thread " << name;
    }
  }
  EXPECT_EQ(housekeepers, 1U);
  EXPECT_GE(flushers, 1U) << "no " << flusher << " thread ran the flushes";
}

// An appending thread with nothing to append rests instead of spinning: it sleeps until the
// flush in flight ends, and finds it collected, its events durable.
void check_rest_while_flushing(journal::FlushBackend backend) {
  test::TempDir dir;
  JournalOptions options = small_segments(FlushPolicy::on_request());
  options.flush_backend = backend;
  auto journal = Journal::open(dir / "journal", options);
  if (!journal && backend == journal::FlushBackend::io_uring) {
    GTEST_SKIP() << "io_uring is not available here: " << journal.error().message();
  }
  ASSERT_TRUE(journal.has_value()) << journal.error().message();
  // No flush in flight: back at once (an hour's wait would outlast the test's timeout).
  journal->rest_while_flushing(std::chrono::hours(1));
  append_events(*journal, 1000);
  // The first flush may stop at the last page the writer left; the next covers the rest.
  for (int flushes = 0; journal->durable_sequence() < journal->next_sequence(); ++flushes) {
    ASSERT_LT(flushes, 3) << "durable at " << journal->durable_sequence();
    const std::uint64_t before = journal->durable_sequence();
    journal->sync_async();  // starts a flush; only a later call collects it
    journal->rest_while_flushing(std::chrono::hours(1));
    ASSERT_GT(journal->durable_sequence(), before) << "back before the flush was collected";
  }
  EXPECT_FALSE(journal->failure().has_value());
}

}  // namespace

TEST(journal, rest_while_flushing_wakes_when_the_io_uring_flush_ends) {
  check_rest_while_flushing(journal::FlushBackend::io_uring);
}

TEST(journal, rest_while_flushing_wakes_when_the_flusher_thread_is_done) {
  check_rest_while_flushing(journal::FlushBackend::thread);
}

TEST(journal, io_uring_workers_and_its_threads_run_on_the_housekeeping_cpus) {
  check_background_cpus(journal::FlushBackend::io_uring, false);
}

TEST(journal, the_flusher_thread_runs_on_the_housekeeping_cpus) {
  check_background_cpus(journal::FlushBackend::thread, false);
}

TEST(journal, io_uring_workers_run_on_the_flush_cpus_apart_from_the_housekeeper) {
  check_background_cpus(journal::FlushBackend::io_uring, true);
}

TEST(journal, the_flusher_thread_runs_on_the_flush_cpus_apart_from_the_housekeeper) {
  check_background_cpus(journal::FlushBackend::thread, true);
}

TEST(journal, a_full_disk_stops_it_with_a_clear_error_and_keeps_what_was_written) {
  test::SmallFileSystem disk(3 * segment_bytes + (256 << 10));
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a small tmpfs here: " << disk.error();
  std::uint64_t appended = 0;
  {
    auto journal = Journal::open(disk.path(), small_segments());
    ASSERT_TRUE(journal.has_value()) << journal.error().message();
    for (;;) {
      const std::uint64_t seq = journal->next_sequence();
      const auto payload = test::make_payload(seq, payload_size_of(seq));
      if (!journal->append(test::header_for(seq, payload.size()), payload)) break;
      if (seq % 256 == 0) journal->flush_if_due();
      ASSERT_LT(seq, 1'000'000u) << "the file system never filled";
    }
    ASSERT_TRUE(journal->failure().has_value());
    EXPECT_EQ(journal->failure()->code, std::errc::no_space_on_device)
        << journal->failure()->message();
    EXPECT_NE(journal->failure()->message().find("takes no more events"), std::string::npos)
        << journal->failure()->message();
    appended = journal->next_sequence();
    EXPECT_FALSE(journal->sync().has_value()) << "a failed journal does not claim durability";
    const auto payload = test::make_payload(appended, 8);
    EXPECT_FALSE(journal->append(test::header_for(appended, 8), payload));
  }
  ASSERT_GT(appended, 0u);
  expect_events(disk.path(), 0, appended);
  auto reopened = Journal::open(disk.path(), small_segments());
  ASSERT_TRUE(reopened.has_value()) << reopened.error().message();
  EXPECT_EQ(reopened->next_sequence(), appended);
}
