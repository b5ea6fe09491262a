#include "service/service_shared.hpp"

#include <ringlog/detail/assert.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

namespace ringlog::service {

void AttachmentRegistry::add(std::shared_ptr<Attachment> attachment) {
  const std::lock_guard lock(mutex_);
  listed_.push_back(attachment);
  incoming_.push_back(std::move(attachment));
  has_incoming_.store(true, std::memory_order_release);
}

std::vector<std::shared_ptr<Attachment>> AttachmentRegistry::take_new() {
  // Loaded first: an exchange on every pass would write the flag's line each time.
  if (!has_incoming_.load(std::memory_order_acquire) ||
      !has_incoming_.exchange(false, std::memory_order_acq_rel)) {
    return {};
  }
  const std::lock_guard lock(mutex_);
  return std::exchange(incoming_, {});
}

void AttachmentRegistry::forget(const std::vector<std::shared_ptr<Attachment>>& gone) {
  const std::lock_guard lock(mutex_);
  std::erase_if(listed_, [&](const std::shared_ptr<Attachment>& a) {
    return std::find(gone.begin(), gone.end(), a) != gone.end();
  });
}

void AttachmentRegistry::clear() {
  const std::lock_guard lock(mutex_);
  listed_.clear();
  incoming_.clear();
}

std::vector<PublisherStatus> AttachmentRegistry::publishers() const {
  std::vector<PublisherStatus> result;
  const std::lock_guard lock(mutex_);
  for (const auto& a : listed_) {
    std::optional<std::string> violation;
    if (a->quarantined.load(std::memory_order_acquire)) violation = a->violation;
    result.push_back({a->id, a->channel, a->peer, a->journaled.load(std::memory_order_relaxed),
                      a->durable.load(std::memory_order_relaxed),
                      a->attached.load(std::memory_order_relaxed), a->ring.used(),
                      a->ring.capacity(), std::move(violation)});
  }
  return result;
}

void ViolationLog::add(ViolationStatus violation) {
  const std::lock_guard lock(mutex_);
  ++count_;
  latest_.push_back(std::move(violation));
  if (latest_.size() > kept) latest_.pop_front();
}

std::uint64_t ViolationLog::count() const {
  const std::lock_guard lock(mutex_);
  return count_;
}

std::vector<ViolationStatus> ViolationLog::latest() const {
  const std::lock_guard lock(mutex_);
  return {latest_.begin(), latest_.end()};
}

ServiceShared::ServiceShared(ServiceConfig c) : config(std::move(c)) {
  for (const ChannelConfig& channel : config.channels) {
    channels.emplace_back(channel.name, service::to_string(channel.overflow));
  }
}

ChannelMetrics& ServiceShared::channel_metrics(std::string_view name) {
  const auto found = std::find_if(channels.begin(), channels.end(),
                                  [&](const ChannelMetrics& c) { return c.name == name; });
  // The attachment was refused unless its channel is configured: end() here would be a write
  // through a past-the-end iterator.
  RINGLOG_CHECK(found != channels.end(), "only configured channels are attached");
  return *found;
}

ServiceShared::~ServiceShared() {
  if (wake >= 0) ::close(wake);
}

void ServiceShared::fail(std::string why) {
  {
    const std::lock_guard lock(failure_mutex_);
    if (failure_) return;
    failure_ = why;
  }
  record_failure(why);
  wake_control();
}

std::optional<std::string> ServiceShared::failure() const {
  const std::lock_guard lock(failure_mutex_);
  return failure_;
}

void ServiceShared::wake_control() const {
  const std::uint64_t one = 1;
  if (::write(wake, &one, sizeof one) < 0) {
    // An eventfd write fails only on overflow: the control thread is awake already.
  }
}

void ServiceShared::record_failure(const std::string& why) const {
  const std::filesystem::path record = failure_record_path(config);
  std::filesystem::path written = record;
  written += ".new";
  std::ofstream(written) << why << "\n";
  std::error_code ignored;
  std::filesystem::rename(written, record, ignored);
}

}  // namespace ringlog::service
