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
  worker_cpus_ = placement::cpu_set_of(cpus);
  const int error = -io_uring_register_iowq_aff(&ring_, sizeof worker_cpus_, &worker_cpus_);
  bind_each_submitter_ = error == 0;
  workers_bound_for_ = std::this_thread::get_id();
  return error;
}

UringFlusher::~UringFlusher() {
  if (ring_.ring_fd < 0) return;
  if (in_flight_) wait();
  io_uring_queue_exit(&ring_);
}

int UringFlusher::bind_workers_of_this_thread() noexcept {
  workers_bound_for_ = std::this_thread::get_id();
  // A no-op first: it gives this thread its io_uring context (and io-wq), without which there
  // is nothing to bind. It completes at once, in the kernel, and leaves no completion behind.
  io_uring_sqe* nop = io_uring_get_sqe(&ring_);
  if (nop == nullptr) return EBUSY;
  io_uring_prep_nop(nop);
  if (const int submitted = io_uring_submit_and_wait(&ring_, 1); submitted < 0) return -submitted;
  io_uring_cqe* completion = nullptr;
  if (io_uring_peek_cqe(&ring_, &completion) == 0) io_uring_cqe_seen(&ring_, completion);
  return -io_uring_register_iowq_aff(&ring_, sizeof worker_cpus_, &worker_cpus_);
}

int UringFlusher::start(int fd, std::uint64_t covered_bytes) noexcept {
  // A thread's first flush: its workers are bound before they start. Without it stress's
  // fsyncs ran on the consumer's CPU, preempting it 2200 times in 1.2 s. A failure leaves the
  // workers where they run; the banner named the CPUs meant.
  if (bind_each_submitter_ && workers_bound_for_ != std::this_thread::get_id()) {
    (void)bind_workers_of_this_thread();
  }
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

std::optional<int> UringFlusher::wait_for(std::chrono::nanoseconds timeout) noexcept {
  if (!in_flight_) return std::nullopt;
  __kernel_timespec limit{};
  limit.tv_sec = timeout.count() / 1'000'000'000;
  limit.tv_nsec = timeout.count() % 1'000'000'000;
  io_uring_cqe* completion = nullptr;
  // A timeout or a signal: still running. The kernel's wait takes the limit beside the call
  // (IORING_FEAT_EXT_ARG, Linux 5.11), where older ones need a submission queue entry for it.
  if (io_uring_wait_cqe_timeout(&ring_, &completion, &limit) != 0) return std::nullopt;
  return take(completion);
}

int UringFlusher::take(io_uring_cqe* completion) noexcept {
  const int result = completion->res;
  io_uring_cqe_seen(&ring_, completion);
  in_flight_ = false;
  return result;
}

}  // namespace ringlog::journal::detail
