// The journal's housekeeping thread: everything about segment files that takes system calls
// and may wait on the disk, so that the appending thread never does. It prepares the next
// segment (recycled, or preallocated with its blocks written, paced; header written and durable;
// first pages mapped writable), keeps the pages of the segment being written mapped ahead of the
// writer and unmapped behind it, gives a segment its final name once the journal has started
// writing to it, and retires segments that retention no longer keeps: into the spare slot for
// recycling, or deleted.
#pragma once

#include "journal/file/log_file.hpp"
#include "journal/time_index.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

namespace ringlog::journal::detail {

class SegmentHousekeeper {
 public:
  // The thread runs on `cpus` (anywhere when empty). Named readers that committed within
  // `reader_hold_limit` (0: ever) hold back the retirement of segments they have not read.
  SegmentHousekeeper(std::filesystem::path directory, std::size_t segment_bytes, bool recycle,
                     std::chrono::seconds reader_hold_limit, std::span<const int> cpus);
  // Finishes the renames and retirements asked for and the time indexes of the segments sealed
  // since the open (those found without one at open wait for the next), then stops.
  ~SegmentHousekeeper();
  SegmentHousekeeper(const SegmentHousekeeper&) = delete;
  SegmentHousekeeper& operator=(const SegmentHousekeeper&) = delete;

  // Starts preparing the next segment unless one is ready or on its way.
  void request_prepared();
  // The prepared segment, waiting for it if need be; an Error when it could not be made (a full
  // disk, say). Its file is then renamed to `final_path`, the rename made durable, and `named`
  // set. Until then the segment's events must not be called durable.
  std::expected<LogFile, Error> take_prepared(std::filesystem::path final_path,
                                              std::atomic<bool>* named);
  // Blocks until `named` is set or naming failed.
  void wait_named(const std::atomic<bool>& named);
  // A durable segment that retention no longer keeps; it goes once no named reader needs it.
  void retire(std::filesystem::path segment);
  // Unmaps and closes a sealed segment here, where the unmapping's cost stalls nobody, then
  // writes its time index.
  void close(LogFile file);
  // Sealed segments found at open, oldest first: each gets a time index unless it has one.
  void index_sealed(std::vector<std::filesystem::path> segments);
  // Maps `ahead` writable and unmaps `behind` (either may be empty), in a segment still open:
  // system calls that cost the appending thread 0.1-0.5 ms per 2 MiB (page-cache pages made and
  // zeroed) if it made them itself. `ahead` goes in steps, each left alone once `writer` (the
  // address the appender stores at next) has come within writer_reach_bytes of it.
  // Returns the work's ticket: pages_tended() reaches it once the work is done.
  std::uint64_t tend_pages(PageRange ahead, PageRange behind,
                           const std::atomic<std::uintptr_t>& writer);
  std::uint64_t pages_tended() const noexcept {
    return pages_tended_.load(std::memory_order_acquire);
  }
  // Starts writeback of [offset, offset + length) of a segment still open (sync_file_range).
  void start_writeback(int fd, std::size_t offset, std::size_t length);

  // The first error of a rename or retirement; the journal stops on it.
  bool failed() const noexcept { return failed_.load(std::memory_order_acquire); }
  std::optional<Error> error() const;

 private:
  struct Rename {
    std::filesystem::path final_path;
    std::atomic<bool>* named;
  };
  void run();
  // The oldest rename, and the oldest retirement: each with `lock` held on entry and on
  // return, released while the file system works.
  void rename_next(std::unique_lock<std::mutex>& lock);
  void tend_next(std::unique_lock<std::mutex>& lock);  // the oldest page work
  // Between the steps of writing a new segment's blocks: page work first, then a pause unless
  // the appender waits for the segment; whether to go on writing (not once it waits).
  bool between_block_steps();
  void retire_next(std::unique_lock<std::mutex>& lock);
  // A sealed segment whose time index is still to be written, from what its writer built where
  // it did.
  struct Unindexed {
    std::filesystem::path segment;
    std::optional<TimeIndexContent> built;
  };
  // Writes the time index of the oldest segment in `queue`.
  void index_next(std::deque<Unindexed>& queue, std::unique_lock<std::mutex>& lock);
  // Whether a named reader within the hold limit has yet to read past `segment`.
  bool held_by_a_reader(const std::filesystem::path& segment) const;
  bool retirement_due() const;  // with mutex_ held
  std::expected<LogFile, Error> prepare(bool from_spare);
  std::expected<void, Error> retire_now(const std::filesystem::path& segment, bool to_spare);
  std::expected<void, Error> rename_now(const std::filesystem::path& from,
                                        const std::filesystem::path& to);
  void fail(Error);  // with mutex_ held

  const std::filesystem::path directory_;
  const std::filesystem::path prepared_path_;
  const std::filesystem::path spare_path_;
  const std::size_t segment_bytes_;
  const bool recycle_;
  const std::chrono::seconds reader_hold_limit_;

  mutable std::mutex mutex_;
  std::condition_variable work_or_stop_;
  std::condition_variable progress_;  // a segment prepared or named, or an error
  // Guarded by mutex_:
  bool prepare_requested_ = false;
  bool prepare_awaited_ = false;  // the appender waits in take_prepared()
  std::optional<std::expected<LogFile, Error>> prepared_;
  std::deque<Rename> renames_;
  std::deque<std::filesystem::path> retirements_;
  // A retirement a reader held back is tried again from then on.
  std::chrono::steady_clock::time_point retire_after_{};
  std::deque<LogFile> closing_;
  std::deque<Unindexed> unindexed_;          // sealed since the open, in order
  std::deque<Unindexed> unindexed_at_open_;  // sealed before it, in order
  std::optional<TimeIndexSummary> last_indexed_;   // this thread's own
  struct PageWork {
    PageRange ahead;
    PageRange behind;
    const std::atomic<std::uintptr_t>* writer;
  };
  std::deque<PageWork> page_work_;
  std::uint64_t page_work_asked_ = 0;
  struct Writeback {
    int fd;
    std::size_t offset;
    std::size_t length;
  };
  std::deque<Writeback> writebacks_;
  bool has_spare_ = false;
  bool stopping_ = false;
  std::optional<Error> error_;

  std::atomic<bool> failed_{false};
  std::atomic<std::uint64_t> pages_tended_{0};
  std::thread thread_;
};

}  // namespace ringlog::journal::detail
