#include "journal/segment_chain.hpp"

namespace ringlog::storage::detail {

Segment* SegmentChain::holding(const LogFile* file) noexcept {
  for (const auto& segment : unsealed_) {
    if (&segment->file == file) return segment.get();
  }
  return nullptr;
}

void SegmentChain::seal_durable(const LogFile* flushing, SegmentHousekeeper& housekeeper) {
  while (unsealed_.size() > 1 && unsealed_.front()->all_durable() &&
         flushing != &unsealed_.front()->file) {
    kept_.push_back(unsealed_.front()->file.path());
    housekeeper.close(std::move(unsealed_.front()->file));
    unsealed_.pop_front();
  }
  apply_retention(housekeeper);
}

void SegmentChain::apply_retention(SegmentHousekeeper& housekeeper) {
  if (keep_segments_ == 0) return;
  while (!kept_.empty() && kept_.size() + unsealed_.size() > keep_segments_) {
    housekeeper.retire(kept_.front());
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

}  // namespace ringlog::storage::detail
