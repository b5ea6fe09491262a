#include "journal/segment_housekeeper.hpp"

#include "journal/journal_directory.hpp"
#include "journal/reader_cursor.hpp"
#include "journal/time_index.hpp"

#include "placement/binding.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <iterator>
#include <vector>

namespace ringlog::journal::detail {

namespace {

// How often a retirement a named reader holds back is looked at again: readers commit after
// batches, and a segment that waits this much longer costs only disk.
constexpr auto reader_hold_recheck = std::chrono::milliseconds(200);

// The pause after each step of writing a new segment's blocks (block_step_bytes): 256 MB/s at
// most, in steps small enough that a journal flush queued behind one on the device waits little.
// The segment is asked for once the current one is half full: at 1 M events/s (80 MB/s) 1.6 s
// before it is needed, time for 410 MB at this pace. Should the appender reach it first, the
// writing stops there (what is left converts extents as it is flushed, as before): a 256 MiB
// segment written to the end while the appender waited stalled ringlog serve for 150 ms.
constexpr auto block_step_pause = std::chrono::milliseconds(1);

}  // namespace

SegmentHousekeeper::SegmentHousekeeper(std::filesystem::path directory, std::size_t segment_bytes,
                                       bool recycle, std::chrono::seconds reader_hold_limit,
                                       std::span<const int> cpus)
    : directory_(std::move(directory)),
      prepared_path_(directory_ / prepared_segment_name),
      spare_path_(directory_ / spare_segment_name),
      segment_bytes_(segment_bytes),
      recycle_(recycle),
      reader_hold_limit_(reader_hold_limit),
      thread_([this] { run(); }) {
  // The flusher was bound to the same CPUs just before, and the banner reports how that went.
  (void)placement::bind_thread(thread_.native_handle(), cpus);
}

SegmentHousekeeper::~SegmentHousekeeper() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_or_stop_.notify_one();
  thread_.join();
}

void SegmentHousekeeper::request_prepared() {
  {
    const std::lock_guard lock(mutex_);
    if (prepare_requested_ || prepared_) return;
    prepare_requested_ = true;
  }
  work_or_stop_.notify_one();
}

std::expected<LogFile, Error> SegmentHousekeeper::take_prepared(std::filesystem::path final_path,
                                                                std::atomic<bool>* named) {
  std::unique_lock lock(mutex_);
  if (!prepared_ && !prepare_requested_) prepare_requested_ = true;
  if (!prepared_) prepare_awaited_ = true;
  work_or_stop_.notify_one();
  progress_.wait(lock, [this] { return prepared_.has_value(); });
  std::expected<LogFile, Error> taken = std::move(*prepared_);
  prepared_.reset();
  if (taken) renames_.push_back({std::move(final_path), named});
  lock.unlock();
  work_or_stop_.notify_one();
  return taken;
}

void SegmentHousekeeper::wait_named(const std::atomic<bool>& named) {
  std::unique_lock lock(mutex_);
  progress_.wait(lock, [&] { return named.load(std::memory_order_acquire) || error_; });
}

void SegmentHousekeeper::retire(std::filesystem::path segment) {
  {
    const std::lock_guard lock(mutex_);
    retirements_.push_back(std::move(segment));
  }
  work_or_stop_.notify_one();
}

void SegmentHousekeeper::close(LogFile file) {
  {
    const std::lock_guard lock(mutex_);
    closing_.push_back(std::move(file));
  }
  work_or_stop_.notify_one();
}

void SegmentHousekeeper::index_sealed(std::vector<std::filesystem::path> segments) {
  {
    const std::lock_guard lock(mutex_);
    for (std::filesystem::path& segment : segments) {
      unindexed_at_open_.push_back({std::move(segment), std::nullopt});
    }
  }
  work_or_stop_.notify_one();
}

void SegmentHousekeeper::index_next(std::deque<Unindexed>& queue,
                                    std::unique_lock<std::mutex>& lock) {
  Unindexed next = std::move(queue.front());
  queue.pop_front();
  lock.unlock();
  // Only this thread touches it: the next index takes the maximum before it from there.
  last_indexed_ = write_time_index_if_missing(next.segment, last_indexed_, std::move(next.built));
  lock.lock();
  // Sealed before the indexes found missing at open were written, it could not learn the
  // maximum before it: written again after them, in order, as write_time_index_if_missing
  // rewrites an index that does not know it.
  if (last_indexed_ && !last_indexed_->max_before && &queue == &unindexed_ &&
      !unindexed_at_open_.empty()) {
    unindexed_at_open_.push_back({std::move(next.segment), std::nullopt});
  }
}

std::uint64_t SegmentHousekeeper::tend_pages(PageRange ahead, PageRange behind,
                                             const std::atomic<std::uintptr_t>& writer) {
  std::uint64_t ticket = 0;
  {
    const std::lock_guard lock(mutex_);
    if (ahead.empty() && behind.empty()) return page_work_asked_;
    page_work_.push_back({ahead, behind, &writer});
    ticket = ++page_work_asked_;
  }
  work_or_stop_.notify_one();
  return ticket;
}

void SegmentHousekeeper::start_writeback(int fd, std::size_t offset, std::size_t length) {
  {
    const std::lock_guard lock(mutex_);
    writebacks_.push_back({fd, offset, length});
  }
  work_or_stop_.notify_one();
}

std::optional<Error> SegmentHousekeeper::error() const {
  const std::lock_guard lock(mutex_);
  return error_;
}

void SegmentHousekeeper::fail(Error error) {
  if (!error_) error_ = std::move(error);
  failed_.store(true, std::memory_order_release);
  progress_.notify_all();
}

void SegmentHousekeeper::run() {
  pthread_setname_np(pthread_self(), "ringlog-segment");
  std::unique_lock lock(mutex_);
  for (;;) {
    const auto has_work = [this] {
      return stopping_ || !page_work_.empty() || !renames_.empty() || retirement_due() ||
             !closing_.empty() || !writebacks_.empty() || !unindexed_.empty() ||
             !unindexed_at_open_.empty() || (prepare_requested_ && !prepared_);
    };
    if (retirements_.empty()) {
      work_or_stop_.wait(lock, has_work);
    } else {  // held back by a reader: looked at again once its time comes
      work_or_stop_.wait_until(lock, retire_after_, has_work);
    }
    // Pages first, as the writer is about to reach them; and before closing, as they belong to
    // a segment still open.
    if (!page_work_.empty()) {
      tend_next(lock);
    } else if (!renames_.empty()) {
      // Renames next: the next segment is prepared under the name the last one still has.
      rename_next(lock);
    } else if (!writebacks_.empty()) {
      // Before closing: the descriptor belongs to a segment still open.
      const Writeback range = writebacks_.front();
      writebacks_.pop_front();
      lock.unlock();
      // Only a hint to the kernel: an error here shows up again, and counts, at the fdatasync.
      ::sync_file_range(range.fd, static_cast<off64_t>(range.offset),
                        static_cast<off64_t>(range.length), SYNC_FILE_RANGE_WRITE);
      lock.lock();
    } else if (!closing_.empty()) {
      std::deque<LogFile> closing = std::move(closing_);
      closing_.clear();
      lock.unlock();
      std::vector<Unindexed> sealed;
      for (LogFile& file : closing) sealed.push_back({file.path(), file.take_time_index()});
      closing.clear();
      lock.lock();
      std::ranges::move(sealed, std::back_inserter(unindexed_));
    } else if (!unindexed_.empty()) {
      // Sealed: nothing more is appended, so their time indexes stay true. Each before the
      // segment can be retired, as the next carries its maximum on.
      index_next(unindexed_, lock);
    } else if (retirement_due()) {
      retire_next(lock);
    } else if (prepare_requested_ && !prepared_) {
      const bool from_spare = has_spare_;
      has_spare_ = false;
      lock.unlock();
      std::expected<LogFile, Error> made = prepare(from_spare);
      lock.lock();
      prepared_.emplace(std::move(made));
      prepare_requested_ = false;
      prepare_awaited_ = false;
      progress_.notify_all();
    } else if (!unindexed_at_open_.empty() && !stopping_) {
      // Last, and left to the next open by a stopping journal: missing indexes can be a scan of
      // every segment (a journal of an older release), which nobody must wait for.
      index_next(unindexed_at_open_, lock);
    } else if (stopping_) {
      return;
    }
  }
}

void SegmentHousekeeper::tend_next(std::unique_lock<std::mutex>& lock) {
  const PageWork work = page_work_.front();
  page_work_.pop_front();
  lock.unlock();
  for (std::size_t done = 0; done < work.ahead.length; done += page_step_bytes) {
    const PageRange step{work.ahead.start + done,
                         std::min(page_step_bytes, work.ahead.length - done)};
    // Where the writer has moved on to another segment, its address compares as nothing in
    // particular: a step mapped or left that nobody will store to.
    const std::uintptr_t writer = work.writer->load(std::memory_order_relaxed);
    if (reinterpret_cast<std::uintptr_t>(step.start) >= writer + writer_reach_bytes) {
      map_writable(step);
    }
  }
  unmap(work.behind);
  pages_tended_.fetch_add(1, std::memory_order_release);
  lock.lock();
}

bool SegmentHousekeeper::between_block_steps() {
  std::unique_lock lock(mutex_);
  const auto urgent = [this] { return prepare_awaited_ || stopping_ || !page_work_.empty(); };
  if (!urgent()) work_or_stop_.wait_for(lock, block_step_pause, urgent);
  // The pages the appender is about to reach, in the segment it is writing, come first.
  while (!page_work_.empty()) tend_next(lock);
  return !prepare_awaited_ && !stopping_;
}

void SegmentHousekeeper::rename_next(std::unique_lock<std::mutex>& lock) {
  const Rename rename = renames_.front();
  renames_.pop_front();
  lock.unlock();
  auto renamed = rename_now(prepared_path_, rename.final_path);
  lock.lock();
  if (renamed) {
    rename.named->store(true, std::memory_order_release);
    progress_.notify_all();
  } else {
    fail(renamed.error());
  }
}

bool SegmentHousekeeper::retirement_due() const {
  return !retirements_.empty() && std::chrono::steady_clock::now() >= retire_after_;
}

bool SegmentHousekeeper::held_by_a_reader(const std::filesystem::path& segment) const {
  auto cursors = list_cursors(directory_);
  auto listing = list_journal(directory_);
  if (!cursors || cursors->empty() || !listing) return false;
  // The segment ends where the next one starts.
  const auto next = std::find_if(listing->segments.begin(), listing->segments.end(),
                                 [&](const SegmentEntry& entry) {
                                   return entry.path.filename() > segment.filename();
                                 });
  if (next == listing->segments.end()) return false;
  const auto now = std::filesystem::file_time_type::clock::now();
  return std::any_of(cursors->begin(), cursors->end(), [&](const NamedCursor& reader) {
    if (!reader.cursor || reader.cursor->position >= next->first_sequence) return false;
    std::error_code error;
    const auto committed = std::filesystem::last_write_time(reader.path, error);
    return !error && (reader_hold_limit_.count() == 0 || now - committed <= reader_hold_limit_);
  });
}

void SegmentHousekeeper::retire_next(std::unique_lock<std::mutex>& lock) {
  const std::filesystem::path segment = retirements_.front();
  lock.unlock();
  const bool held = held_by_a_reader(segment);
  lock.lock();
  if (held) {
    retire_after_ = std::chrono::steady_clock::now() + reader_hold_recheck;
    return;
  }
  retirements_.pop_front();
  // Found without an index at open and not indexed yet: it goes unscanned.
  std::erase_if(unindexed_at_open_,
                [&](const Unindexed& unindexed) { return unindexed.segment == segment; });
  const bool to_spare = recycle_ && !has_spare_;
  lock.unlock();
  auto retired = retire_now(segment, to_spare);
  lock.lock();
  if (!retired) {
    fail(retired.error());
  } else if (to_spare) {
    has_spare_ = true;
  }
}

std::expected<LogFile, Error> SegmentHousekeeper::prepare(bool from_spare) {
  if (from_spare) {
    // Made a new, empty log under the spare's name first: the prepared name never holds a
    // previous lap's header, which a crash would leave for recovery to find.
    auto recycled = LogFile::recycle(spare_path_.string(), segment_bytes_);
    if (!recycled) return recycled;
    if (auto moved = rename_now(spare_path_, prepared_path_); !moved) {
      return std::unexpected(moved.error());
    }
    recycled->set_path(prepared_path_.string());
    return recycled;
  }
  return LogFile::create(prepared_path_.string(), segment_bytes_,
                         [this] { return between_block_steps(); });
}

std::expected<void, Error> SegmentHousekeeper::retire_now(const std::filesystem::path& segment,
                                                          bool to_spare) {
  // Its time index first: an index never outlives its segment (a stale one is ignored anyway).
  ::unlink(time_index_path(segment).c_str());
  if (to_spare) return rename_now(segment, spare_path_);
  if (::unlink(segment.c_str()) != 0) {
    return std::unexpected(
        Error::from_os(errno, fmt::format("remove old segment {}", segment.string())));
  }
  return fsync_directory(directory_.string());
}

std::expected<void, Error> SegmentHousekeeper::rename_now(const std::filesystem::path& from,
                                                          const std::filesystem::path& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) {
    return std::unexpected(
        Error::from_os(errno, fmt::format("rename {} to {}", from.string(), to.string())));
  }
  return fsync_directory(directory_.string());
}

}  // namespace ringlog::journal::detail
