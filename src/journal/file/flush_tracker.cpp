#include "journal/file/flush_tracker.hpp"

#include <ringlog/detail/assert.hpp>

#include <unistd.h>

#include <algorithm>
#include <utility>

namespace ringlog::journal::detail {

namespace {
const std::size_t page_bytes = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}  // namespace

int FlushTracker::start(LogFile& file, std::size_t offset, std::uint64_t events) noexcept {
  RINGLOG_ASSERT(file_ == nullptr, "one flush in flight at a time");
  // The end mark after the last unit too, where it shares the last unit's page (a page past
  // it would be write-protected under the writer): a crash then leaves a clean end there, not
  // a recycled file's old bytes, which the next open would report as a torn tail.
  const std::size_t page_end = (offset + page_bytes - 1) / page_bytes * page_bytes;
  const std::size_t covered =
      std::min({file.capacity(), page_end, offset + LogFile::end_mark_bytes});
  if (const int result = started_.flusher->start(file.fd(), covered); result < 0) return result;
  file_ = &file;
  offset_ = offset;
  events_ = events;
  return 0;
}

std::optional<FlushTracker::Finished> FlushTracker::poll() noexcept {
  if (file_ == nullptr) return std::nullopt;
  const std::optional<int> result = started_.flusher->poll();
  if (!result) return std::nullopt;
  return finish(*result);
}

std::optional<FlushTracker::Finished> FlushTracker::wait() noexcept {
  if (file_ == nullptr) return std::nullopt;
  return finish(started_.flusher->wait());
}

std::optional<FlushTracker::Finished> FlushTracker::wait_for(
    std::chrono::nanoseconds timeout) noexcept {
  if (file_ == nullptr) return std::nullopt;
  const std::optional<int> result = started_.flusher->wait_for(timeout);
  if (!result) return std::nullopt;
  return finish(*result);
}

FlushTracker::Finished FlushTracker::finish(int result) noexcept {
  return {std::exchange(file_, nullptr), offset_, events_, result};
}

}  // namespace ringlog::journal::detail
