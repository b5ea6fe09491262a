#include <ringlog/log_file.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <chrono>

using namespace ringlog;
using journal::MmapReader;
using journal::MmapWriter;
using test::header_for;
using test::make_payload;
using test::payload_matches;

namespace {

MmapWriter create_writer(const std::filesystem::path& path, std::size_t capacity) {
  auto writer = MmapWriter::create(path, capacity);
  if (!writer) throw std::runtime_error(writer.error().message());
  return std::move(*writer);
}

MmapReader open_reader(const std::filesystem::path& path) {
  auto reader = MmapReader::open(path);
  if (!reader) throw std::runtime_error(reader.error().message());
  return std::move(*reader);
}

void write_events(MmapWriter& writer, std::uint64_t first, std::uint64_t count) {
  for (std::uint64_t seq = first; seq < first + count; ++seq) {
    const auto payload = make_payload(seq, seq % 50);
    if (!writer.write_event(header_for(seq, payload.size()), payload)) {
      throw std::runtime_error("write failed");
    }
  }
}

}  // namespace

TEST(mmap_storage, create_and_write) {
  test::TempDir dir;
  MmapWriter writer = create_writer(dir / "a.evtl", 1 << 16);
  EXPECT_EQ(writer.capacity(), 1u << 16);
  EXPECT_EQ(writer.write_offset(), journal::FileHeader::SIZE);
  EXPECT_EQ(writer.event_count(), 0u);
  const auto payload = make_payload(1, 20);
  ASSERT_TRUE(writer.write_event(header_for(1, 20), payload));
  EXPECT_EQ(writer.event_count(), 1u);
  EXPECT_EQ(writer.write_offset(), journal::FileHeader::SIZE + 40);
  EXPECT_EQ(writer.available(), (1u << 16) - journal::FileHeader::SIZE - 40);
}

TEST(mmap_storage, write_and_read_back) {
  test::TempDir dir;
  {
    MmapWriter writer = create_writer(dir / "a.evtl", 1 << 16);
    write_events(writer, 0, 100);
  }
  const MmapReader reader = open_reader(dir / "a.evtl");
  EXPECT_EQ(reader.event_count(), 100u);
  std::uint64_t expected = 0;
  const std::uint64_t replayed = reader.replay([&](const event::EventView& view) {
    EXPECT_EQ(view.header.timestamp, expected);
    EXPECT_EQ(view.payload.size(), expected % 50);
    EXPECT_TRUE(payload_matches(expected, view.payload));
    ++expected;
  });
  EXPECT_EQ(replayed, 100u);
  EXPECT_FALSE(reader.scan().damaged);
}

TEST(mmap_storage, iterator_works) {
  test::TempDir dir;
  {
    MmapWriter writer = create_writer(dir / "a.evtl", 1 << 16);
    write_events(writer, 10, 5);
  }
  const MmapReader reader = open_reader(dir / "a.evtl");
  std::vector<std::uint64_t> seen;
  for (const event::EventView& view : reader) seen.push_back(view.header.timestamp);
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{10, 11, 12, 13, 14}));
  EXPECT_EQ(std::distance(reader.begin(), reader.end()), 5);
}

TEST(mmap_storage, reopen_existing_file) {
  test::TempDir dir;
  {
    MmapWriter writer = create_writer(dir / "a.evtl", 1 << 16);
    write_events(writer, 0, 30);
  }
  {
    auto writer = MmapWriter::open(dir / "a.evtl");
    ASSERT_TRUE(writer.has_value()) << writer.error().message();
    EXPECT_EQ(writer->event_count(), 30u);
    EXPECT_FALSE(writer->recovery().damaged);
    write_events(*writer, 30, 20);
    EXPECT_EQ(writer->event_count(), 50u);
  }
  const MmapReader reader = open_reader(dir / "a.evtl");
  EXPECT_EQ(reader.event_count(), 50u);
  std::uint64_t expected = 0;
  reader.replay([&](const event::EventView& view) {
    EXPECT_EQ(view.header.timestamp, expected);
    EXPECT_TRUE(payload_matches(expected, view.payload));
    ++expected;
  });
}

TEST(mmap_storage, buffer_full_returns_false) {
  test::TempDir dir;
  MmapWriter writer = create_writer(dir / "a.evtl", journal::FileHeader::SIZE + 3 * 40);
  const auto payload = make_payload(0, 24);  // 40-byte records: exactly three fit
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(writer.write_event(header_for(i, 24), payload));
  EXPECT_EQ(writer.available(), 0u);
  EXPECT_FALSE(writer.write_event(header_for(3, 24), payload));
  EXPECT_FALSE(writer.write_event(header_for(3, 0), {}));
  EXPECT_EQ(writer.event_count(), 3u);
  writer = create_writer(dir / "b.evtl", 1 << 12);
  EXPECT_EQ(open_reader(dir / "a.evtl").event_count(), 3u);
}

TEST(mmap_storage, invalid_file_returns_error) {
  test::TempDir dir;
  test::write_file(dir / "not-a-log", std::vector<char>(4096, 'x'));
  const auto reader = MmapReader::open(dir / "not-a-log");
  ASSERT_FALSE(reader.has_value());
  EXPECT_EQ(reader.error().code, journal::LogErrc::not_a_log);
  EXPECT_NE(reader.error().message().find((dir / "not-a-log").string()), std::string::npos);
  EXPECT_NE(reader.error().message().find("not a ringlog log file"), std::string::npos);

  const auto missing = MmapReader::open(dir / "missing.evtl");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, std::errc::no_such_file_or_directory);
  EXPECT_EQ(missing.error().context, "open " + (dir / "missing.evtl").string());
}

TEST(mmap_storage, rejects_malformed_events) {
  test::TempDir dir;
  MmapWriter writer = create_writer(dir / "a.evtl", 1 << 12);
  const auto payload = make_payload(0, 8);
  EXPECT_FALSE(writer.write_event(header_for(0, 9), payload));
  auto framing = header_for(0, 8);
  framing.flags = 0x80;
  EXPECT_FALSE(writer.write_event(framing, payload));
  EXPECT_EQ(writer.event_count(), 0u);
}

TEST(mmap_storage, create_preallocates_real_blocks) {
  test::TempDir dir;
  constexpr std::size_t capacity = 8 << 20;
  MmapWriter writer = create_writer(dir / "a.evtl", capacity);
  struct stat status {};
  ASSERT_EQ(::stat((dir / "a.evtl").c_str(), &status), 0);
  EXPECT_EQ(static_cast<std::size_t>(status.st_size), capacity);
  EXPECT_GE(static_cast<std::size_t>(status.st_blocks) * 512, capacity) << "file is sparse";
}

TEST(mmap_storage, create_reports_what_and_where) {
  test::TempDir dir;
  const auto tiny = MmapWriter::create(dir / "a.evtl", 40);
  ASSERT_FALSE(tiny.has_value());
  EXPECT_EQ(tiny.error().code, journal::LogErrc::capacity_too_small);
  const auto nowhere = MmapWriter::create(dir / "no" / "such" / "dir.evtl", 4096);
  ASSERT_FALSE(nowhere.has_value());
  EXPECT_EQ(nowhere.error().code, std::errc::no_such_file_or_directory);
  EXPECT_NE(nowhere.error().message().find("no/such/dir.evtl"), std::string::npos);
}

TEST(mmap_storage, failed_preallocation_is_reported_and_leaves_other_logs_intact) {
  test::TempDir dir;
  {
    MmapWriter writer = create_writer(dir / "a.evtl", 1 << 16);
    write_events(writer, 0, 10);
    ASSERT_TRUE(writer.sync().has_value());
  }
  // A file-size limit makes preallocation fail the way a full disk does, without root.
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &before), 0);
  rlimit small = before;
  small.rlim_cur = 1 << 20;
  const auto previous_handler = ::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const auto too_big = MmapWriter::create(dir / "b.evtl", 8 << 20);
  ::setrlimit(RLIMIT_FSIZE, &before);
  ::signal(SIGXFSZ, previous_handler);

  ASSERT_FALSE(too_big.has_value());
  EXPECT_EQ(too_big.error().code, std::errc::file_too_large);
  EXPECT_EQ(too_big.error().context,
            "preallocate " + (dir / "b.evtl").string() + " (8388608 bytes)");
  EXPECT_FALSE(std::filesystem::exists(dir / "b.evtl")) << "no half-made log is left behind";
  EXPECT_EQ(open_reader(dir / "a.evtl").event_count(), 10u);
}

namespace {

bool kernel_populates_writable() {
  void* probe = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const bool supported = ::madvise(probe, 4096, MADV_POPULATE_WRITE) == 0;
  ::munmap(probe, 4096);
  return supported;
}

}  // namespace

TEST(mmap_storage, prepared_pages_take_no_fault_when_written) {
  if (test::sanitized) GTEST_SKIP() << "sanitizer shadow memory takes page faults of its own";
  if (!kernel_populates_writable()) GTEST_SKIP() << "the kernel lacks MADV_POPULATE_WRITE (5.14+)";
  test::TempDir dir;
  MmapWriter writer = create_writer(dir / "a.evtl", 64 << 20);
  const auto payload = make_payload(0, 64);
  const std::uint64_t events = MmapWriter::prepare_pages_reach_bytes / 2 / 80;
  // The first write runs code (the checksum's, in a shared library) for the first time, and
  // its pages fault in once; steady state starts after it.
  ASSERT_TRUE(writer.write_event(header_for(0, 64), payload));
  const long faults_before = test::thread_page_faults();
  for (std::uint64_t seq = 1; seq < events; ++seq) {
    ASSERT_TRUE(writer.write_event(header_for(seq, 64), payload));
  }
  EXPECT_EQ(test::thread_page_faults() - faults_before, 0) << "create() prepared the first window";

  // Past the window, each new page faults unless prepare_pages() moves the window on.
  writer.prepare_pages();
  const long faults_after_prepare = test::thread_page_faults();
  for (std::uint64_t seq = 0; seq < events; ++seq) {
    ASSERT_TRUE(writer.write_event(header_for(seq, 64), payload));
  }
  EXPECT_EQ(test::thread_page_faults() - faults_after_prepare, 0);
}

TEST(mmap_storage, sync_makes_events_durable_and_checkpoints_them) {
  test::TempDir dir;
  MmapWriter writer = create_writer(dir / "a.evtl", 1 << 16);
  write_events(writer, 0, 25);
  EXPECT_EQ(writer.durable_offset(), journal::FileHeader::SIZE);
  ASSERT_TRUE(writer.sync().has_value());
  EXPECT_EQ(writer.durable_offset(), writer.write_offset());
  const journal::FileHeader header = open_reader(dir / "a.evtl").header();
  EXPECT_EQ(header.event_count, 25u);
  EXPECT_EQ(header.write_offset, writer.write_offset());
  EXPECT_EQ(header.version, journal::file_version);
  EXPECT_EQ(std::string_view(header.magic, 4), "EVTL");
}

namespace {

// Appends, starts a flush and collects it: the durable offset and the checkpoint advance.
void check_async_flush(journal::FlushBackend backend) {
  test::TempDir dir;
  auto created = MmapWriter::create(dir / "a.evtl", 1 << 16, {.flush_backend = backend});
  if (!created && backend == journal::FlushBackend::io_uring) {
    GTEST_SKIP() << "io_uring is not available here: " << created.error().message();
  }
  ASSERT_TRUE(created.has_value()) << created.error().message();
  MmapWriter& writer = *created;
  EXPECT_EQ(writer.flush_backend(), backend);
  EXPECT_FALSE(writer.flush_backend_note().empty());
  write_events(writer, 0, 25);
  const std::size_t target = writer.write_offset();
  writer.sync_async();
  // Each call collects a finished flush; poll until it lands (an fdatasync takes milliseconds).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (writer.durable_offset() != target && std::chrono::steady_clock::now() < deadline) {
    writer.sync_async();
  }
  EXPECT_EQ(writer.durable_offset(), target);
  EXPECT_FALSE(writer.failure().has_value());
  EXPECT_EQ(open_reader(dir / "a.evtl").header().write_offset, target);

  // A flush still in flight is finished by sync(), and everything after it made durable too.
  write_events(writer, 25, 10);
  writer.sync_async();
  write_events(writer, 35, 10);
  ASSERT_TRUE(writer.sync().has_value());
  EXPECT_EQ(writer.durable_offset(), writer.write_offset());
}

}  // namespace

TEST(mmap_storage, sync_async_completes_through_io_uring) {
  check_async_flush(journal::FlushBackend::io_uring);
}

TEST(mmap_storage, sync_async_falls_back_to_a_flusher_thread) {
  check_async_flush(journal::FlushBackend::thread);
}
