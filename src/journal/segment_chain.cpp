#include "journal/segment_chain.hpp"

#include <ringlog/detail/assert.hpp>

#include <algorithm>

namespace ringlog::journal::detail {

namespace {

// The window ahead of the writer is topped up once an eighth of it is used (4 MiB of 32): the
// housekeeper is asked early, and for little at a time. Asked for half of it at once, it fell
// behind on 2 CPUs, and the consumer mapped half of a recycled lap itself, in calls of 16 MiB.
constexpr std::size_t top_up_parts = 8;

}  // namespace

Segment* SegmentChain::holding(const LogFile* file) noexcept {
  for (const auto& segment : unsealed_) {
    if (&segment->file == file) return segment.get();
  }
  return nullptr;
}

std::size_t Retention::most_segments() const noexcept {
  const std::size_t by_bytes =
      keep_bytes == 0 ? 0 : std::max<std::size_t>(1, keep_bytes / segment_bytes);
  if (keep_segments == 0 || by_bytes == 0) return std::max(keep_segments, by_bytes);
  return std::min(keep_segments, by_bytes);
}

void SegmentChain::append(std::unique_ptr<Segment> segment) {
  // Once a segment: a durable mark is a segment's first sequence plus its events, and readers
  // enter the next segment by the sequence the last one ended at.
  RINGLOG_CHECK(unsealed_.empty() || segment->first_sequence == unsealed_.back()->end_sequence(),
                "a new segment continues the one before it");
  unsealed_.push_back(std::move(segment));
}

void SegmentChain::keep_sealed(std::filesystem::path segment) {
  std::error_code error;  // unreadable: as if sealed now, kept for a whole keep_for
  const auto modified = std::filesystem::last_write_time(segment, error);
  kept_.push_back({std::move(segment),
                   error ? std::chrono::system_clock::now()
                         : std::chrono::time_point_cast<std::chrono::system_clock::duration>(
                               std::chrono::file_clock::to_sys(modified))});
}

void SegmentChain::seal_durable(const LogFile* flushing, SegmentHousekeeper& housekeeper) {
  while (unsealed_.size() > 1 && unsealed_.front()->all_durable() &&
         flushing != &unsealed_.front()->file) {
    // A vDSO clock read, once a segment: no system call on the appending thread.
    unsealed_.front()->file.store_owed_checkpoint();  // its final one: covers the segment
    kept_.push_back({unsealed_.front()->file.path(), std::chrono::system_clock::now()});
    housekeeper.close(std::move(unsealed_.front()->file));
    unsealed_.pop_front();
  }
  apply_retention(housekeeper);
}

bool SegmentChain::keeps_no_longer(const Sealed& oldest) const noexcept {
  const std::size_t most = retention_.most_segments();
  if (most != 0 && count() > most) return true;
  return retention_.keep_for.count() != 0 &&
         std::chrono::system_clock::now() - oldest.sealed_at > retention_.keep_for;
}

void SegmentChain::apply_retention(SegmentHousekeeper& housekeeper) {
  while (!kept_.empty() && keeps_no_longer(kept_.front())) {
    housekeeper.retire(kept_.front().path);
    kept_.pop_front();
  }
}

void PageWindow::tend(LogFile& current, SegmentHousekeeper& housekeeper) noexcept {
  map_pages_ahead(current, housekeeper);
  const std::size_t written = current.write_offset();
  if (writeback_every_bytes_ != 0 &&
      written - writeback_requested_until_ >= writeback_every_bytes_) {
    housekeeper.start_writeback(current.fd(), writeback_requested_until_,
                                written - writeback_requested_until_);
    writeback_requested_until_ = written;
  }
  if (!next_segment_requested_ && written > current.capacity() / 2) {
    housekeeper.request_prepared();
    next_segment_requested_ = true;
  }
}

void PageWindow::restart() noexcept {
  pages_ahead_ = {};
  next_segment_requested_ = false;
  writeback_requested_until_ = 0;
}

void PageWindow::map_pages_ahead(LogFile& file, SegmentHousekeeper& housekeeper) noexcept {
  writer_at_.store(reinterpret_cast<std::uintptr_t>(file.data() + file.write_offset()),
                   std::memory_order_relaxed);
  if (housekeeper.pages_tended() < pages_ahead_.ticket) {
    map_near_pages(file);
    return;
  }
  const PageRange ahead =
      file.claim_pages_ahead(prepare_ahead_bytes_, prepare_ahead_bytes_ / top_up_parts);
  const PageRange behind = file.claim_pages_behind();
  if (ahead.empty() && behind.empty()) return;
  const std::uint64_t ticket = housekeeper.tend_pages(ahead, behind, writer_at_);
  pages_ahead_ = {0, 0, ticket};
  if (!ahead.empty()) {
    pages_ahead_.from = static_cast<std::size_t>(ahead.start - file.data());
    pages_ahead_.until = pages_ahead_.from + ahead.length;
  }
}

void PageWindow::map_near_pages(LogFile& file) noexcept {
  // Once half of the reach is left: a call maps page_step_bytes or more.
  const std::size_t writer = file.write_offset();
  if (pages_ahead_.from >= pages_ahead_.until ||
      writer + writer_reach_bytes - page_step_bytes < pages_ahead_.from) {
    return;
  }
  const std::size_t until = std::min(pages_ahead_.until, writer + writer_reach_bytes);
  map_writable(file.pages_ahead_between(pages_ahead_.from, until));
  pages_ahead_.from = until;
}

}  // namespace ringlog::journal::detail
