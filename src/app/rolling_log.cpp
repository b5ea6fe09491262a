#include "rolling_log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace ringlog::app {

namespace {

// The number in "<prefix>-<number>.evtl", or 0 when `name` is not such a file.
unsigned file_number(const std::string& name, const std::string& prefix) {
  const std::string head = prefix + "-";
  const std::string tail = ".evtl";
  if (name.size() <= head.size() + tail.size() || !name.starts_with(head) ||
      !name.ends_with(tail)) {
    return 0;
  }
  unsigned number = 0;
  const char* first = name.data() + head.size();
  const char* last = name.data() + name.size() - tail.size();
  const auto [end, error] = std::from_chars(first, last, number);
  return error == std::errc() && end == last ? number : 0;
}

}  // namespace

std::expected<std::unique_ptr<RollingLog>, storage::Error> RollingLog::open(
    const std::filesystem::path& directory, std::string prefix, std::size_t file_bytes) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) {
    return std::unexpected(
        storage::Error{error, fmt::format("create directory {}", directory.string())});
  }
  unsigned highest = 0;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    highest = std::max(highest, file_number(entry.path().filename().string(), prefix));
  }
  if (error) {
    return std::unexpected(storage::Error{error, fmt::format("list {}", directory.string())});
  }
  std::unique_ptr<RollingLog> log(
      new RollingLog(directory, std::move(prefix), file_bytes, highest + 1));
  if (!log->roll()) return std::unexpected(*log->error_);
  return log;
}

bool RollingLog::roll() {
  if (current_) {
    // The full file is made durable before the next one starts, so recovery never has to look
    // past the newest file.
    if (auto synced = current_->sync(); !synced) {
      error_ = synced.error();
      return false;
    }
    bytes_in_closed_files_ += current_->write_offset();
  }
  const auto path = directory_ / fmt::format("{}-{:06}.evtl", prefix_, next_number_++);
  auto writer = storage::MmapWriter::create(path, file_bytes_);
  if (!writer) {
    error_ = writer.error();
    current_.reset();
    return false;
  }
  current_.emplace(std::move(*writer));
  files_.push_back(path);
  return true;
}

bool RollingLog::consume(const event::EventHeader& header, std::span<const std::byte> payload) {
  if (error_) return false;
  if (!current_->write_event(header, payload)) {
    if (current_->failure()) {
      error_ = current_->failure();
      return false;
    }
    if (!roll()) return false;
    if (!current_->write_event(header, payload)) {
      error_ = storage::Error{
          make_error_code(storage::LogErrc::capacity_too_small),
          fmt::format("an event of {} bytes does not fit in an empty {}-byte file of {}",
                      header.total_size(), file_bytes_, directory_.string())};
      return false;
    }
  }
  bytes_written_.store(bytes_in_closed_files_ + current_->write_offset(),
                       std::memory_order_relaxed);
  return true;
}

void RollingLog::flush() {
  if (!current_) return;
  current_->prepare_pages();
  current_->sync_async();
}

std::expected<void, storage::Error> RollingLog::close() {
  if (error_) return std::unexpected(*error_);
  if (current_) return current_->sync();
  return {};
}

}  // namespace ringlog::app
