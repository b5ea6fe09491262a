#include "ring/ring_memory.hpp"

#include <fmt/format.h>
#include <sys/mman.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace ringlog {

namespace ring {

namespace {

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

}  // namespace

namespace detail {

std::optional<RingError> check_capacity(std::size_t capacity) {
  if (capacity < min_capacity) {
    return InvalidCapacity{capacity, "must be at least 64 bytes"};
  }
  if (!std::has_single_bit(capacity)) return InvalidCapacity{capacity, "must be a power of two"};
  return std::nullopt;
}

}  // namespace detail

std::string to_string(const RingError& error) {
  return std::visit(
      Overloaded{
          [](const NotEnoughSpace& e) {
            return fmt::format("not enough space in ring: event needs {} bytes, {} available",
                               e.required, e.available);
          },
          [](const InvalidCapacity& e) {
            return fmt::format("invalid ring capacity {}: {}", e.capacity, e.reason);
          },
          [](const PayloadTooLarge& e) {
            return fmt::format("payload of {} bytes is larger than this ring's maximum of {}",
                               e.payload_len, e.max_len);
          },
          [](const LengthMismatch& e) {
            return fmt::format("header says payload_len {} but the payload has {} bytes",
                               e.header_len, e.payload_len);
          },
          [](const ReservedFlag& e) {
            return fmt::format("event flags {:#04x} set bit 7, which is reserved for ringlog",
                               e.flags);
          },
          [](const SharedRingUnusable& e) {
            if (e.os_error == 0) return e.what;
            return fmt::format("{}: {}", e.what, std::strerror(e.os_error));
          },
          [](const MemoryUnavailable& e) {
            if (e.os_error == 0) {
              return fmt::format("ring memory of {} bytes unavailable: {}", e.bytes, e.what);
            }
            return fmt::format("ring memory of {} bytes unavailable: {}: {}", e.bytes, e.what,
                               std::strerror(e.os_error));
          },
      },
      error);
}


RingBuffer::RingBuffer(ringlog::detail::Mapping memory) noexcept
    : memory_(std::move(memory)), geometry_{memory_.data(), memory_.size() - 1} {}

std::expected<RingBuffer, RingError> RingBuffer::create(std::size_t capacity) {
  MemoryOptions options;
  options.huge_pages = MemoryOptions::HugePages::Never;
  if (auto invalid = detail::check_capacity(capacity)) return std::unexpected(*invalid);
  auto memory = detail::map_ring_memory(capacity, options);
  if (!memory) return std::unexpected(memory.error());
  return RingBuffer(std::move(*memory));
}

SpscRingBuffer::SpscRingBuffer(ringlog::detail::Mapping memory, std::size_t capacity)
    : memory_(std::move(memory)),
      capacity_(capacity),
      indices_(std::make_unique<ringlog::detail::SharedIndices>()) {}

std::expected<SpscRingBuffer, RingError> SpscRingBuffer::create(std::size_t capacity,
                                                                MemoryOptions options) {
  if (auto invalid = detail::check_capacity(capacity)) return std::unexpected(*invalid);
  auto memory = detail::map_ring_memory(capacity, options);
  if (!memory) return std::unexpected(memory.error());
  return SpscRingBuffer(std::move(*memory), capacity);
}

std::pair<Producer, Consumer> SpscRingBuffer::split() {
  if (std::exchange(split_, true)) throw std::logic_error("SpscRingBuffer::split() called twice");
  const ringlog::detail::RingGeometry geometry{memory_.data(), capacity_ - 1};
  return {Producer(geometry, indices_.get()), Consumer(geometry, indices_.get())};
}

}  // namespace ring
}  // namespace ringlog
