#include <ringlog/shared_ring.hpp>

#include "ring/ring_memory.hpp"

#include <ringlog/detail/assert.hpp>
#include <ringlog/detail/progress_wait.hpp>

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <new>
#include <optional>
#include <utility>

namespace ringlog::ring {

namespace detail {

// The file's first page; the ring's bytes follow it. Every field is writable by both processes
// at any moment: the side that does not trust the other (the service) reads the fixed fields
// once, at create() or open(), keeps them in SharedRing, and takes every other field only as a
// number to check before use (see shared_ring.hpp).
struct SharedRingHeader {
  char magic[8];
  std::uint32_t version;
  std::uint32_t header_bytes;  // where the ring's bytes start
  std::uint64_t capacity;
  std::atomic<std::int32_t> producer_pid;  // the process holding each side; 0: none
  std::atomic<std::int32_t> consumer_pid;
  std::atomic<std::uint32_t> ready;        // stored last by the creator, once all else is set
  // How many of the events written into the ring the consumer has made durable: the journal
  // service's answer to its publisher. On a line of its own, away from the indices.
  alignas(128) std::atomic<std::uint64_t> durable_events;
  ringlog::detail::ProgressSignal durable_progress;  // for wait_durable_events
  // OverflowCounts, in its order; written only when the ring was found full.
  alignas(128) std::array<std::atomic<std::uint64_t>, 5> overflow;
  // Commit samples, a seqlock of a single writer: slot i % commit_sample_slots holds sample i.
  // samples_started counts those whose slot the producer began to write, samples_recorded
  // those it finished.
  alignas(128) std::atomic<std::uint64_t> samples_started;
  std::atomic<std::uint64_t> samples_recorded;
  std::array<std::array<std::atomic<std::uint64_t>, 2>, commit_sample_slots> samples;
  // Set by the consumer's side when it gives the producer's up; read by the producer's on
  // every write, on a line nobody else writes.
  alignas(128) std::atomic<std::uint32_t> detached;
  ringlog::detail::SharedIndices indices;
};

}  // namespace detail

namespace {

using detail::no_free_hugepages;
using detail::SharedRingHeader;

constexpr char ring_magic[8] = {'R', 'L', 'G', 'R', 'I', 'N', 'G', '1'};
// Version 2: records commit themselves (a mark in the header) instead of through the head index.
// Version 3: a futex word beside the durable count, for wait_durable_events.
// Version 4: the publisher's overflow counts.
// Version 5: the consumer's side can mark the producer's detached; memfds are sealed.
constexpr std::uint32_t ring_version = 5;
constexpr std::size_t header_bytes = detail::small_page_bytes;
static_assert(sizeof(SharedRingHeader) <= header_bytes);
// Both processes must agree on these without a lock between them.
static_assert(std::atomic<std::int32_t>::is_always_lock_free);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

std::unexpected<RingError> unusable(std::string what, int os_error = 0) {
  return std::unexpected(RingError(SharedRingUnusable{std::move(what), os_error}));
}

bool is_alive(std::int32_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

// The file a new ring lives in, sized, open and mapped.
struct RingFile {
  int fd = -1;
  ringlog::detail::Mapping memory;
  bool explicit_huge = false;
};

// Sizes `fd` and maps it shared; for a hugetlbfs file the mapping reserves the hugepages, and
// fails when there are not enough. errno says why it failed.
std::optional<ringlog::detail::Mapping> size_and_map(int fd, std::size_t bytes) {
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) return std::nullopt;
  void* data = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) return std::nullopt;
  return ringlog::detail::Mapping(static_cast<std::byte*>(data), bytes);
}

// An anonymous memfd: on hugetlbfs where asked and possible, else ordinary shared memory.
std::expected<RingFile, RingError> make_memfd(std::size_t wanted, const MemoryOptions& options) {
  using HugePages = MemoryOptions::HugePages;
  if (options.huge_pages != HugePages::Never) {
    // memfd_create takes the page size encoded as mmap does (MFD_HUGE_SHIFT == MAP_HUGE_SHIFT).
    const unsigned size_flag = std::countr_zero(options.huge_page_bytes) << MAP_HUGE_SHIFT;
    const int fd = ::memfd_create("ringlog-ring",
                                  MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | size_flag);
    const std::size_t bytes = detail::round_up(wanted, options.huge_page_bytes);
    if (fd >= 0) {
      if (auto memory = size_and_map(fd, bytes)) return RingFile{fd, std::move(*memory), true};
      const int error = errno;
      ::close(fd);
      errno = error;
    }
    if (options.huge_pages == HugePages::Always) {
      return std::unexpected(MemoryUnavailable{bytes, errno, no_free_hugepages});
    }
  }
  const int fd = ::memfd_create("ringlog-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return unusable("memfd_create for a shared ring", errno);
  // Whole 2 MiB units under Try, so transparent hugepages can cover all of it.
  const std::size_t bytes =
      detail::round_up(wanted, options.huge_pages == HugePages::Try ? detail::transparent_huge_bytes
                                                           : detail::small_page_bytes);
  auto memory = size_and_map(fd, bytes);
  if (!memory) {
    const int error = errno;
    ::close(fd);
    return unusable("mapping a shared ring's memfd", error);
  }
  return RingFile{fd, std::move(*memory), false};
}

// A new named file; removed again if anything here fails.
std::expected<RingFile, RingError> make_named(const std::filesystem::path& path,
                                              std::size_t wanted, const MemoryOptions& options) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return unusable(fmt::format("cannot create shared ring {}", path.string()), errno);
  struct statfs filesystem {};
  const bool hugetlbfs = ::fstatfs(fd, &filesystem) == 0 && filesystem.f_type == HUGETLBFS_MAGIC;
  const auto give_up = [&](RingError error) -> std::expected<RingFile, RingError> {
    ::close(fd);
    ::unlink(path.c_str());
    return std::unexpected(std::move(error));
  };
  if (!hugetlbfs && options.huge_pages == MemoryOptions::HugePages::Always) {
    return give_up(SharedRingUnusable{fmt::format(
        "{} is not on hugetlbfs, and HugePages::Always needs explicit hugepages: put it on a "
        "hugetlbfs mount (mount -t hugetlbfs none /dev/hugepages), or give an empty path for a "
        "memfd", path.string()), 0});
  }
  const std::size_t unit = hugetlbfs ? static_cast<std::size_t>(filesystem.f_bsize)
                           : options.huge_pages == MemoryOptions::HugePages::Try
                               ? detail::transparent_huge_bytes
                               : detail::small_page_bytes;
  const std::size_t bytes = detail::round_up(wanted, unit);
  auto memory = size_and_map(fd, bytes);
  if (!memory && hugetlbfs) return give_up(MemoryUnavailable{bytes, errno, no_free_hugepages});
  if (!memory) {
    return give_up(SharedRingUnusable{fmt::format("mapping shared ring {}", path.string()),
                                      errno});
  }
  return RingFile{fd, std::move(*memory), hugetlbfs};
}

// A memfd's size, fixed for good: whoever else opens it (/proc/<pid>/fd/<fd>, read-write) can
// neither shrink it, which would turn this process's next read of the ring into a SIGBUS, nor
// grow it, nor lift the seals.
std::optional<RingError> seal_size(int fd) {
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0) return {};
  return SharedRingUnusable{"sealing a shared ring's memfd against resizing", errno};
}

}  // namespace

std::expected<SharedRing, RingError> SharedRing::create(const std::filesystem::path& path,
                                                        std::size_t capacity,
                                                        MemoryOptions options) {
  if (auto invalid = detail::check_capacity(capacity)) return std::unexpected(*invalid);
  if (capacity < min_shared_capacity) {
    return std::unexpected(InvalidCapacity{
        capacity, "a shared ring must be at least 128 bytes, so that a drop marker fits"});
  }
  const auto node = detail::chosen_node(options, capacity);
  if (!node) return std::unexpected(node.error());
  auto file = path.empty() ? make_memfd(header_bytes + capacity, options)
                           : make_named(path, header_bytes + capacity, options);
  if (!file) return std::unexpected(file.error());
  if (auto unsealed = path.empty() ? seal_size(file->fd) : std::nullopt) {
    ::close(file->fd);
    return std::unexpected(*unsealed);
  }
  void* data = file->memory.data();
  const std::size_t bytes = file->memory.size();
  if (!file->explicit_huge && options.huge_pages != MemoryOptions::HugePages::Never) {
    ::madvise(data, bytes, MADV_HUGEPAGE);  // a hint: shmem_enabled decides
  }
  if (auto unready = detail::make_ready(data, bytes, *node, options)) {
    ::close(file->fd);
    if (!path.empty()) ::unlink(path.c_str());
    return std::unexpected(*unready);
  }
  auto* header = new (data) SharedRingHeader{};
  std::memcpy(header->magic, ring_magic, sizeof ring_magic);
  header->version = ring_version;
  header->header_bytes = header_bytes;
  header->capacity = capacity;
  header->ready.store(1, std::memory_order_release);  // an opener sees all of the above
  return SharedRing(std::move(file->memory), file->fd, path, capacity);
}

std::expected<SharedRing, RingError> SharedRing::open(const std::filesystem::path& path) {
  const std::string name = path.string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return unusable(fmt::format("cannot open shared ring {}", name), errno);
  const auto refuse = [&](std::string why, int error = 0) {
    ::close(fd);
    return unusable(fmt::format("{} is not a usable ringlog shared ring: {}", name, why), error);
  };
  struct stat status {};
  if (::fstat(fd, &status) != 0) return refuse("fstat", errno);
  const auto bytes = static_cast<std::size_t>(status.st_size);
  if (bytes < header_bytes) {
    return refuse(fmt::format("{} bytes, too short for the {}-byte header", bytes, header_bytes));
  }
  void* data = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) return refuse("mmap", errno);
  ringlog::detail::Mapping memory(static_cast<std::byte*>(data), bytes);
  const auto* header = static_cast<const SharedRingHeader*>(data);
  if (std::memcmp(header->magic, ring_magic, sizeof ring_magic) != 0) {
    return refuse("no ringlog ring magic at its start");
  }
  if (header->version != ring_version) {
    return refuse(fmt::format("made by format version {}, this is version {}", header->version,
                              ring_version));
  }
  if (header->ready.load(std::memory_order_acquire) != 1) {
    return refuse("its creator has not finished setting it up");
  }
  const std::uint64_t capacity = header->capacity;  // read once: the file may change
  if (header->header_bytes != header_bytes || detail::check_capacity(capacity) ||
      capacity > bytes - header_bytes) {
    return refuse(fmt::format("a capacity of {} bytes does not fit its {} bytes", capacity,
                              bytes));
  }
  // This process's page tables, filled now rather than by the hot path's first touches.
  if (auto unready = detail::make_ready(data, bytes, -1, {})) {
    ::close(fd);
    return std::unexpected(*unready);
  }
  return SharedRing(std::move(memory), fd, path, capacity);
}

SharedRing::SharedRing(ringlog::detail::Mapping memory, int fd, std::filesystem::path path,
                       std::size_t capacity) noexcept
    : memory_(std::move(memory)),
      fd_(fd),
      path_(std::move(path)),
      header_(reinterpret_cast<SharedRingHeader*>(memory_.data())),
      capacity_(capacity),
      geometry_{memory_.data() + header_bytes, capacity - 1},
      detached_(&header_->detached) {
  // create() sized the mapping for it, open() refused a capacity that does not fit: the
  // geometry's mask and every offset it gives rely on both.
  RINGLOG_CHECK(std::has_single_bit(capacity), "a ring's capacity is a power of two");
  RINGLOG_CHECK(memory_.size() >= header_bytes && capacity <= memory_.size() - header_bytes,
                "a ring lies within its mapping");
}

SharedRing::SharedRing(SharedRing&& other) noexcept
    : memory_(std::move(other.memory_)),
      fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      header_(std::exchange(other.header_, nullptr)),
      capacity_(other.capacity_),
      geometry_(other.geometry_),
      detached_(other.detached_),
      took_producer_(std::exchange(other.took_producer_, false)),
      took_consumer_(std::exchange(other.took_consumer_, false)) {}

// What this ring held goes to `other`, which gives it back when it goes.
SharedRing& SharedRing::operator=(SharedRing&& other) noexcept {
  std::swap(memory_, other.memory_);
  std::swap(fd_, other.fd_);
  std::swap(path_, other.path_);
  std::swap(header_, other.header_);
  std::swap(capacity_, other.capacity_);
  std::swap(geometry_, other.geometry_);
  std::swap(detached_, other.detached_);
  std::swap(took_producer_, other.took_producer_);
  std::swap(took_consumer_, other.took_consumer_);
  return *this;
}

SharedRing::~SharedRing() {
  if (header_ != nullptr) {
    std::int32_t me = ::getpid();
    if (took_producer_) header_->producer_pid.compare_exchange_strong(me, 0);
    me = ::getpid();
    if (took_consumer_) header_->consumer_pid.compare_exchange_strong(me, 0);
  }
  if (fd_ >= 0) ::close(fd_);
}

std::filesystem::path SharedRing::path() const {
  return path_.empty() ? std::filesystem::path(fmt::format("/proc/{}/fd/{}", ::getpid(), fd_))
                       : path_;
}

void SharedRing::publish_durable_events(std::uint64_t events) noexcept {
  header_->durable_events.store(events, std::memory_order_release);
  ringlog::detail::announce_progress(header_->durable_progress, /*shared=*/true);
}

bool SharedRing::wait_durable_events(std::uint64_t events,
                                     std::chrono::nanoseconds timeout) const noexcept {
  return ringlog::detail::wait_for_progress(header_->durable_events, events,
                                            header_->durable_progress, timeout, /*shared=*/true);
}

void SharedRing::add_overflow(const OverflowCounts& more) noexcept {
  const std::uint64_t by[] = {more.waits, more.timeouts, more.failed, more.dropped, more.marked};
  static_assert(std::size(by) == std::tuple_size_v<decltype(detail::SharedRingHeader::overflow)>);
  for (std::size_t i = 0; i < std::size(by); ++i) {
    std::atomic<std::uint64_t>& count = header_->overflow[i];
    if (by[i] == 0) continue;  // the counts' line is left shared with the consumer's side
    // Release: a reader that sees this count sees every count added before it (a drop before
    // its marking, a wait before its timeout).
    count.store(count.load(std::memory_order_relaxed) + by[i], std::memory_order_release);
  }
}

OverflowCounts SharedRing::overflow_counts() const noexcept {
  // Later counts first, each with acquire: the earlier ones read after them are at least as
  // new, so the relations between them (marked <= dropped, timeouts <= waits) hold as read.
  const auto& count = header_->overflow;
  OverflowCounts read;
  read.marked = count[4].load(std::memory_order_acquire);
  read.dropped = count[3].load(std::memory_order_acquire);
  read.failed = count[2].load(std::memory_order_acquire);
  read.timeouts = count[1].load(std::memory_order_acquire);
  read.waits = count[0].load(std::memory_order_acquire);
  return read;
}

void SharedRing::record_commit_sample(const CommitSample& sample) noexcept {
  const std::uint64_t number = header_->samples_recorded.load(std::memory_order_relaxed);
  auto& slot = header_->samples[number % commit_sample_slots];
  header_->samples_started.store(number + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);  // the start is seen before the slot
  slot[0].store(sample.ring_end, std::memory_order_relaxed);
  slot[1].store(sample.tsc, std::memory_order_relaxed);
  header_->samples_recorded.store(number + 1, std::memory_order_release);
}

std::size_t SharedRing::read_commit_samples(std::uint64_t& next,
                                            std::span<CommitSample> out) const noexcept {
  const std::uint64_t recorded = header_->samples_recorded.load(std::memory_order_acquire);
  if (recorded > commit_sample_slots) next = std::max(next, recorded - commit_sample_slots);
  std::size_t taken = 0;
  for (; next < recorded && taken < out.size(); ++next) {
    const auto& slot = header_->samples[next % commit_sample_slots];
    const CommitSample read{slot[0].load(std::memory_order_relaxed),
                            slot[1].load(std::memory_order_relaxed)};
    std::atomic_thread_fence(std::memory_order_acquire);  // the slot is read before the start
    // Sample `next + slots` would reuse the slot: kept only when the producer has not begun it.
    if (header_->samples_started.load(std::memory_order_relaxed) <= next + commit_sample_slots) {
      out[taken++] = read;
    }
  }
  return taken;
}

std::uint64_t SharedRing::durable_events() const noexcept {
  return header_->durable_events.load(std::memory_order_acquire);
}

std::size_t SharedRing::used() const noexcept {
  return ringlog::detail::used_bytes(geometry_, header_->indices);
}

void SharedRing::mark_detached() noexcept {
  header_->detached.store(1, std::memory_order_release);
}


std::expected<void, RingError> SharedRing::take(bool producer_side) {
  const char* side = producer_side ? "producer" : "consumer";
  bool& took = producer_side ? took_producer_ : took_consumer_;
  if (took) return unusable(fmt::format("the {} side of {} was already taken here", side,
                                        path().string()));
  std::atomic<std::int32_t>& holder = producer_side ? header_->producer_pid
                                                    : header_->consumer_pid;
  const std::int32_t me = ::getpid();
  std::int32_t current = holder.load(std::memory_order_acquire);
  do {
    // A dead holder's side is free again; a live one's, including another SharedRing of this
    // process, is not.
    if (current != 0 && is_alive(current)) {
      return unusable(fmt::format("the {} side of shared ring {} is held by process {}{}", side,
                                  path().string(), current,
                                  current == me ? " (this one, through another SharedRing)" : ""));
    }
  } while (!holder.compare_exchange_weak(current, me, std::memory_order_acq_rel));
  took = true;
  return {};
}

std::expected<Producer, RingError> SharedRing::producer() {
  if (auto taken = take(true); !taken) return std::unexpected(taken.error());
  return Producer(geometry_, &header_->indices);
}

std::expected<Consumer, RingError> SharedRing::consumer() {
  if (auto taken = take(false); !taken) return std::unexpected(taken.error());
  return Consumer(geometry_, &header_->indices);
}

std::expected<CheckedConsumer, RingError> SharedRing::checked_consumer() {
  if (auto taken = take(false); !taken) return std::unexpected(taken.error());
  return CheckedConsumer(geometry_, &header_->indices);
}

}  // namespace ringlog::ring
