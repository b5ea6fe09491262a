// The programs' journal: log files in a directory, rolled over to a new file when one is full,
// so that no event is ever refused for lack of room in one file. (The segmented Journal of the
// library will take its place.)
#pragma once

#include <ringlog/consumer.hpp>
#include <ringlog/storage.hpp>

#include <atomic>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ringlog::app {

class RollingLog final : public consumer::EventConsumer {
 public:
  // Files are named <prefix>-<number>.evtl; numbering continues after files already there, so a
  // new run never overwrites an earlier one.
  static std::expected<std::unique_ptr<RollingLog>, storage::Error> open(
      const std::filesystem::path& directory, std::string prefix, std::size_t file_bytes);

  // False only when the next file cannot be made (a full disk, say): error() says why.
  bool consume(const event::EventHeader&, std::span<const std::byte> payload) override;
  void flush() override;  // starts an asynchronous flush of what was written
  std::string_view name() const override { return "journal"; }

  // Makes everything written durable.
  std::expected<void, storage::Error> close();

  const std::vector<std::filesystem::path>& files() const noexcept { return files_; }
  // How the files reach the disk (io_uring, or a flusher thread and why).
  const std::string& flush_backend_note() const noexcept { return current_->flush_backend_note(); }
  const std::optional<storage::Error>& error() const noexcept { return error_; }
  // Readable from any thread while the log is being written.
  std::uint64_t bytes_written() const noexcept {
    return bytes_written_.load(std::memory_order_relaxed);
  }

 private:
  RollingLog(std::filesystem::path directory, std::string prefix, std::size_t file_bytes,
             unsigned next_number)
      : directory_(std::move(directory)),
        prefix_(std::move(prefix)),
        file_bytes_(file_bytes),
        next_number_(next_number) {}
  bool roll();

  std::filesystem::path directory_;
  std::string prefix_;
  std::size_t file_bytes_;
  unsigned next_number_;
  std::optional<storage::MmapWriter> current_;
  std::vector<std::filesystem::path> files_;
  std::optional<storage::Error> error_;
  std::size_t bytes_in_closed_files_ = 0;
  std::atomic<std::uint64_t> bytes_written_{0};
};

}  // namespace ringlog::app
