// A journal's segments in order: the sealed ones kept for readers (oldest first, retired by
// retention), then the unsealed ones, whose events are not all durable yet; the newest is the
// one appended to.
#pragma once

#include "journal/file/log_file.hpp"
#include "journal/segment_housekeeper.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>

namespace ringlog::journal::detail {

struct Segment {
  LogFile file;
  std::uint64_t first_sequence;
  // Its final name is durable (set by the housekeeper): only then may its events count as durable.
  std::unique_ptr<std::atomic<bool>> named;

  std::uint64_t end_sequence() const noexcept { return first_sequence + file.event_count(); }
  bool all_durable() const noexcept { return file.durable_offset() == file.write_offset(); }
};

// What retention keeps (JournalOptions' keep_segments, keep_bytes and keep_for).
struct Retention {
  std::size_t keep_segments = 0;
  std::uint64_t keep_bytes = 0;
  std::chrono::seconds keep_for{0};
  std::size_t segment_bytes = 0;

  // The most segments it keeps; 0 for no limit by count.
  std::size_t most_segments() const noexcept;
};

class SegmentChain {
 public:
  // The housekeeper each call below is given does the closing and the retiring, off the
  // appending thread.
  explicit SegmentChain(Retention retention) noexcept : retention_(retention) {}

  // A sealed segment found at open: its age is its file's modification time.
  void keep_sealed(std::filesystem::path segment);
  // Contract: `segment` starts where the one appended to ends.
  void append(std::unique_ptr<Segment> segment);

  Segment& current() noexcept { return *unsealed_.back(); }  // appended to
  Segment& oldest_unsealed() noexcept { return *unsealed_.front(); }
  const std::deque<std::unique_ptr<Segment>>& unsealed() const noexcept { return unsealed_; }
  // The unsealed segment of `file`; null when none holds it.
  Segment* holding(const LogFile* file) noexcept;
  std::size_t count() const noexcept { return kept_.size() + unsealed_.size(); }

  // A segment that is no longer appended to and fully durable is done: closed off the appending
  // thread, and counted against retention. The one `flushing` (a flush in flight) stays.
  void seal_durable(const LogFile* flushing, SegmentHousekeeper& housekeeper);
  // Retires the oldest sealed segments that retention no longer keeps.
  void apply_retention(SegmentHousekeeper& housekeeper);

 private:
  struct Sealed {
    std::filesystem::path path;
    std::chrono::system_clock::time_point sealed_at;  // when its newest event was, about
  };
  bool keeps_no_longer(const Sealed& oldest) const noexcept;

  Retention retention_;
  std::deque<Sealed> kept_;  // sealed segment files, oldest first
  // Segments with events not yet durable, oldest first; back() is the one appended to.
  std::deque<std::unique_ptr<Segment>> unsealed_;
};

// What the journal asks its housekeeper for around the writer in the current segment: pages
// mapped writable ahead of it, writeback behind it, and the next segment once this one is half
// used.
class PageWindow {
 public:
  PageWindow(std::size_t prepare_ahead_bytes, std::size_t writeback_every_bytes) noexcept
      : prepare_ahead_bytes_(prepare_ahead_bytes), writeback_every_bytes_(writeback_every_bytes) {}

  // Asks `housekeeper` for what the writer in `current` will need next.
  void tend(LogFile& current, SegmentHousekeeper& housekeeper) noexcept;
  void restart() noexcept;  // a new current segment: nothing asked for in it yet

 private:
  // Asks the housekeeper for the pages ahead and behind, a top-up at a time, once it has done
  // what it was asked before. Where it has fallen behind (it shares a busy CPU, or the host is
  // slow to hand out memory) and the writer comes near pages it was asked for, the writer maps
  // the next few itself (map_near_pages).
  void map_pages_ahead(LogFile& file, SegmentHousekeeper& housekeeper) noexcept;
  // The pages within writer_reach_bytes of the writer not yet mapped, in one call rather than a
  // fault on each; a short call, so that a consumer never stops for long (mapping all that was
  // asked for, 16 MiB, stalled it 5-23 ms).
  void map_near_pages(LogFile& file) noexcept;

  std::size_t prepare_ahead_bytes_;
  std::size_t writeback_every_bytes_;
  // The pages the housekeeper was last asked to map ahead of the writer, until it has; `from`
  // moves up as the writer maps them itself.
  struct PagesAhead {
    std::size_t from = 0;  // offsets in the current segment
    std::size_t until = 0;
    std::uint64_t ticket = 0;
  } pages_ahead_;
  // The address the writer stores at next, for the housekeeper (tend_pages).
  std::atomic<std::uintptr_t> writer_at_{0};
  bool next_segment_requested_ = false;
  std::size_t writeback_requested_until_ = 0;  // in the current segment
};

}  // namespace ringlog::journal::detail
