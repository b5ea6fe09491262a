#include "ship/shipping_state.hpp"

#include "ship/message_format.hpp"

#include <fmt/format.h>

namespace ringlog::ship {

void StopFlag::request() {
  {
    const std::lock_guard lock(mutex_);
    stopping_.store(true);
  }
  requested_.notify_all();
}

void StopFlag::wait_for(std::chrono::steady_clock::duration period) {
  std::unique_lock lock(mutex_);
  requested_.wait_for(lock, period, [&] { return stopping_.load(); });
}

void Acknowledgements::on_acknowledgement(jsCtx*, natsMsg* message, jsPubAck* ack,
                                          jsPubAckErr* error, void* closure) {
  auto& self = *static_cast<Acknowledgements*>(closure);
  const std::optional<ShippedRange> range = shipped_range(message);
  if (ack != nullptr && range) {
    self.shipped_.store(range->end(), std::memory_order_release);
    self.count_.fetch_add(range->count, std::memory_order_relaxed);
    self.messages_.fetch_add(1, std::memory_order_relaxed);
    self.bytes_.fetch_add(range->journal_bytes, std::memory_order_relaxed);
    self.wire_bytes_.fetch_add(std::uint64_t(natsMsg_GetDataLength(message)),
                               std::memory_order_relaxed);
  } else if (error != nullptr) {
    const std::lock_guard lock(self.mutex_);
    if (!self.refused_.load()) {
      self.refusal_ = fmt::format(
          "publish of events from {} refused: {}", range ? range->first : 0,
          error->ErrText != nullptr ? error->ErrText : natsStatus_GetText(error->Err));
      self.refused_.store(true, std::memory_order_release);
    }
  }
  natsMsg_Destroy(message);
}

void Acknowledgements::resume_at(std::uint64_t next) {
  shipped_.store(next, std::memory_order_release);
  const std::lock_guard lock(mutex_);
  refusal_.reset();
  refused_.store(false, std::memory_order_release);
}

std::optional<std::string> Acknowledgements::refusal() const {
  const std::lock_guard lock(mutex_);
  return refusal_;
}

}  // namespace ringlog::ship
