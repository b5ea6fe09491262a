#include "journal/segment_chain.hpp"

#include <ringlog/detail/assert.hpp>

#include <algorithm>

namespace ringlog::journal::detail {

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
  const std::size_t about_to_reach = file.write_offset() + prepare_ahead_bytes_ / 4;
  if (pages_ahead_.until > file.write_offset() && about_to_reach >= pages_ahead_.from &&
      housekeeper.pages_tended() < pages_ahead_.ticket) {
    map_writable(file.pages_from_writer_until(pages_ahead_.until));
    pages_ahead_ = {};
  }
  const PageRange ahead = file.claim_pages_ahead(prepare_ahead_bytes_);
  const std::uint64_t ticket = housekeeper.tend_pages(ahead, file.claim_pages_behind());
  if (!ahead.empty()) {
    const auto from = static_cast<std::size_t>(ahead.start - file.data());
    pages_ahead_ = {from, from + ahead.length, ticket};
  }
}

}  // namespace ringlog::journal::detail
