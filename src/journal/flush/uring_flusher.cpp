#include "journal/flush/uring_flusher.hpp"

#include "placement/binding.hpp"

#include <cerrno>

namespace ringlog::journal::detail {

namespace {

// One flush in flight needs one entry; the second leaves room should the kernel round down.
constexpr unsigned queue_depth = 2;

bool supports_fsync(io_uring& ring) {
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (probe == nullptr) return false;
  const bool supported = io_uring_opcode_supported(probe, IORING_OP_FSYNC) != 0;
  io_uring_free_probe(probe);
  return supported;
}

}  // namespace

std::expected<std::unique_ptr<UringFlusher>, int> UringFlusher::create() {
  std::unique_ptr<UringFlusher> flusher(new UringFlusher());
  if (int result = io_uring_queue_init(queue_depth, &flusher->ring_, 0); result < 0) {
    flusher->ring_.ring_fd = -1;
    return std::unexpected(-result);
  }
  if (!supports_fsync(flusher->ring_)) return std::unexpected(EOPNOTSUPP);
  return flusher;
}

int UringFlusher::bind_workers(std::span<const int> cpus) noexcept {
  cpu_set_t set = placement::cpu_set_of(cpus);
  return -io_uring_register_iowq_aff(&ring_, sizeof set, &set);
}

UringFlusher::~UringFlusher() {
  if (ring_.ring_fd < 0) return;
  if (in_flight_) wait();
  io_uring_queue_exit(&ring_);
}

int UringFlusher::start(int fd, std::uint64_t covered_bytes) noexcept {
  io_uring_sqe* request = io_uring_get_sqe(&ring_);
  if (request == nullptr) return -EBUSY;
  io_uring_prep_fsync(request, fd, IORING_FSYNC_DATASYNC);
  // The kernel flushes [off, off + len); a length of 0, or one past 32 bits, means the whole file.
  request->off = 0;
  request->len = covered_bytes <= UINT32_MAX ? static_cast<std::uint32_t>(covered_bytes) : 0;
  if (int submitted = io_uring_submit(&ring_); submitted < 0) return submitted;
  in_flight_ = true;
  return 0;
}

std::optional<int> UringFlusher::poll() noexcept {
  io_uring_cqe* completion = nullptr;
  if (!in_flight_ || io_uring_peek_cqe(&ring_, &completion) != 0) return std::nullopt;
  return take(completion);
}

int UringFlusher::wait() noexcept {
  io_uring_cqe* completion = nullptr;
  int result;
  do {
    result = io_uring_wait_cqe(&ring_, &completion);
  } while (result == -EINTR);
  if (result < 0) return result;
  return take(completion);
}

int UringFlusher::take(io_uring_cqe* completion) noexcept {
  const int result = completion->res;
  io_uring_cqe_seen(&ring_, completion);
  in_flight_ = false;
  return result;
}

}  // namespace ringlog::journal::detail
