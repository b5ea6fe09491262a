// The journal and the machine's page cache: writeback pacing keeps a segment's dirty pages few,
// and the appender takes no page fault while flushes run behind it, as long as the pages ahead
// of it are mapped. They measure machine-wide state: ringlog_machine_tests runs them alone.
#include <ringlog/journal.hpp>

#include "journal_support.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace ringlog;
using journal::FlushPolicy;
using journal::Journal;
using journal::JournalOptions;
using test::ring_records;

namespace {

// cachestat(2), Linux 6.5: how many of a file's cached pages are dirty. Declared here because
// Debian bookworm's headers predate it.
struct CacheStat {
  std::uint64_t cached, dirty, writeback, evicted, recently_evicted;
};
std::optional<CacheStat> cache_stat(const std::filesystem::path& path) {
  constexpr long cachestat_syscall = 451;  // x86_64 and the generic table
  struct {
    std::uint64_t offset, length;  // 0, 0: the whole file
  } range{0, 0};
  CacheStat stat{};
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  const long result = ::syscall(cachestat_syscall, fd, &range, &stat, 0);
  ::close(fd);
  if (result != 0) return std::nullopt;
  return stat;
}

constexpr std::size_t pacing_test_window = std::size_t{4} << 20;

// Appends about `bytes` of events with flushes only on request, calling flush_if_due as a
// consumer does between batches; returns the newest segment's path.
std::filesystem::path append_without_flushing(const std::filesystem::path& dir,
                                              std::size_t pacing, std::size_t bytes) {
  JournalOptions options;
  options.segment_bytes = std::size_t{64} << 20;
  options.prepare_ahead_bytes = pacing_test_window;
  options.flush = FlushPolicy::on_request();
  options.writeback_every_bytes = pacing;
  auto journal = Journal::open(dir, options);
  if (!journal) throw std::runtime_error(journal.error().message());
  const auto payload = test::make_payload(0, 240);
  for (std::size_t written = 0; written < bytes; written += 256) {
    if (!journal->append(test::header_for(written, payload.size()), payload)) {
      throw std::runtime_error("the append at byte " + std::to_string(written) + " failed");
    }
    if (written % (64 << 10) == 0) journal->flush_if_due();
  }
  return test::segment_paths(dir).back();
}

}  // namespace

TEST(journal, writeback_pacing_keeps_dirty_pages_few) {
  constexpr std::size_t appended = std::size_t{32} << 20;
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  test::TempDir unpaced_dir;
  const auto unpaced = append_without_flushing(unpaced_dir.path(), 0, appended);
  const std::optional<CacheStat> left_alone = cache_stat(unpaced);
  if (!left_alone) GTEST_SKIP() << "no cachestat(2) here (Linux 6.5+): " << std::strerror(errno);
  if (left_alone->dirty * page < appended / 2) {
    GTEST_SKIP() << "this file system keeps few dirty pages anyway ("
                 << left_alone->dirty * page / 1024 << " KiB of 32 MiB)";
  }

  test::TempDir paced_dir;
  const auto paced = append_without_flushing(paced_dir.path(), 1 << 20, appended);
  // What may stay dirty: the pages prepared ahead of the writer (written as zeros, not yet
  // appended to) and the last megabyte or two appended since the last request.
  const std::uint64_t allowed = pacing_test_window + (std::size_t{2} << 20);
  // Writeback runs in the kernel after the request: wait for it, within reason.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::uint64_t dirty = UINT64_MAX;
  while (std::chrono::steady_clock::now() < deadline) {
    dirty = cache_stat(paced)->dirty * page;
    if (dirty <= allowed) break;
    std::this_thread::yield();
  }
  EXPECT_LE(dirty, allowed) << "writeback pacing left the pages dirty";
  EXPECT_LT(dirty * 4, left_alone->dirty * page);
}

// The pages ahead of the writer are the housekeeping thread's work: without it (a window of 0)
// the appending thread faults on every new page past the segment's first 4 MiB, which makes
// the fault-free test below mean something.
TEST(journal, without_pages_mapped_ahead_the_appender_faults) {
  if (test::sanitized) GTEST_SKIP() << "sanitizer shadow memory takes page faults of its own";
  test::TempDir dir;
  JournalOptions options;
  options.segment_bytes = std::size_t{64} << 20;
  options.flush = FlushPolicy::on_request();
  options.prepare_ahead_bytes = 0;
  auto journal = Journal::open(dir.path(), options);
  ASSERT_TRUE(journal.has_value());
  const std::vector<std::byte> run = ring_records(0, 1000);  // about 72 KiB
  const long before = test::thread_page_faults();
  for (int i = 0; i < 200; ++i) {  // about 14 MiB
    ASSERT_TRUE(journal->append_records(run));
    journal->flush_if_due();
  }
  EXPECT_GT(test::thread_page_faults() - before, 100);
}

TEST(journal, appends_take_no_page_fault_while_flushes_run_behind_them) {
  if (test::sanitized) GTEST_SKIP() << "sanitizer shadow memory takes page faults of its own";
  test::TempDir dir;
  JournalOptions options;
  options.segment_bytes = std::size_t{64} << 20;
  options.flush = {1 << 20, std::chrono::microseconds(0)};
  auto journal = Journal::open(dir.path(), options);
  ASSERT_TRUE(journal.has_value());
  const std::vector<std::byte> run = ring_records(0, 1000);  // about 72 KiB
  // Warm-up: the first appends run code, and touch the header page, for the first time.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(journal->append_records(run));
  journal->flush_if_due();

  // A consumer's shape: a batch, then the flush policy for a while (300 us, as if the ring were
  // empty). Flushes complete all along: had one covered the folio being written, the next
  // stores there would fault. It goes on until enough flushes have completed, however slow
  // this host's disk, within the segment's 64 MiB.
  long append_faults = 0;
  int flushes_completed = 0;
  int appends = 0;
  for (; appends < 500 || (flushes_completed < 10 && appends < 850); ++appends) {
    const long before = test::thread_page_faults();
    ASSERT_TRUE(journal->append_records(run));
    append_faults += test::thread_page_faults() - before;
    const std::uint64_t durable = journal->durable_sequence();
    const auto idle_until = std::chrono::steady_clock::now() + std::chrono::microseconds(300);
    while (std::chrono::steady_clock::now() < idle_until) journal->flush_if_due();
    flushes_completed += journal->durable_sequence() != durable ? 1 : 0;
  }
  EXPECT_GE(flushes_completed, 10) << "too few flushes completed for the test to mean much";
  ASSERT_TRUE(journal->sync().has_value());
  // A rare fault from the page cache's own folio layout is tolerated.
  EXPECT_LE(append_faults, 2);
  std::printf("%ld page faults in %d appends, flushes completed after %d of them\n",
              append_faults, appends, flushes_completed);
}
