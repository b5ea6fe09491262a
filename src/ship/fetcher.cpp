#include "ship/fetcher.hpp"
#include "ship/message_format.hpp"
#include "ship/nats_link.hpp"
#include "support/timing.hpp"

#include <fmt/format.h>

#include <chrono>
#include <optional>
#include <thread>

namespace ringlog::ship {

namespace {

std::unexpected<Error> stream_unavailable(std::string why) {
  return std::unexpected(Error::because(SetupErrc::stream_unavailable, std::move(why)));
}

// One run of fetch_journal(): the journal it fills, opened at the first event the stream hands
// out (or at 0 when the stream holds none), and what it appended.
class Fetch {
 public:
  explicit Fetch(const FetchConfig& config) : config_(config) {}

  std::expected<void, Error> open_journal(std::uint64_t first_sequence) {
    journal::JournalOptions options = config_.journal;
    options.first_sequence = first_sequence;
    auto opened = journal::Journal::open(config_.journal_dir, options);
    if (!opened) return std::unexpected(opened.error());
    journal_.emplace(std::move(*opened));
    return {};
  }

  // Appends `event` unless the journal holds it already (take_all has checked it leaves no
  // gap).
  std::expected<void, Error> take(const ShippedEvent& event) {
    if (!journal_) {
      if (auto opened = open_journal(event.sequence); !opened) return opened;
    }
    if (event.sequence < journal_->next_sequence()) return {};
    if (!journal_->append(event.header, event.payload)) {
      if (journal_->failure()) return std::unexpected(*journal_->failure());
      return stream_unavailable(fmt::format("event {} is malformed", event.sequence));
    }
    ++fetched_;
    return {};
  }

  // Every event the cursor hands out, up to `last_event`, checked and taken. A gap is read
  // again from other replicas for as long as a message may take: one still catching up skips
  // what it lacks. A gap that stays is the stream's own.
  std::expected<void, Error> take_all(StreamCursor& cursor, std::uint64_t last_event) {
    using Clock = std::chrono::steady_clock;
    MessageDecoder decoder;
    std::optional<Error> failed;
    Clock::time_point gap_given_up_at = Clock::time_point::max();  // max: no gap met
    std::uint64_t reached = 0;
    while (reached <= last_event) {
      auto message = cursor.next(std::chrono::milliseconds(timing::fetch_message_wait).count());
      if (!message) {
        return stream_unavailable(fmt::format("stream {} after event {}: {}", config_.nats.stream,
                                              journal_ ? journal_->next_sequence() : 0,
                                              message.error()));
      }
      std::optional<Error> gap;
      auto decoded = decoder.decode(message->get(), [&](const ShippedEvent& event) {
        if (!gap && journal_ && comes_after_a_gap(event)) gap = gap_before(event).error();
        if (gap || failed) return;
        if (auto taken = take(event); !taken) failed = taken.error();
        reached = event.sequence + 1;
      });
      if (!decoded) return stream_unavailable(decoded.error());
      if (failed) return std::unexpected(*failed);
      if (!gap) {
        gap_given_up_at = Clock::time_point::max();
        continue;
      }
      if (gap_given_up_at == Clock::time_point::max()) {
        gap_given_up_at = Clock::now() + timing::fetch_message_wait;
      }
      if (Clock::now() >= gap_given_up_at) return std::unexpected(*gap);
      std::this_thread::sleep_for(timing::fetch_gap_retry);  // the replica goes on catching up
      cursor.reread_after_previous();
      ++gaps_read_again_;
    }
    return {};
  }

  bool comes_after_a_gap(const ShippedEvent& event) const {
    return event.sequence > journal_->next_sequence();
  }
  std::unexpected<Error> gap_before(const ShippedEvent& event) const {
    return stream_unavailable(fmt::format(
        "stream {} lacks events {} to {} (gone from it, by its limits?): the journal in {} "
        "cannot continue without a gap", config_.nats.stream, journal_->next_sequence(),
        event.sequence - 1, config_.journal_dir.string()));
  }

  std::expected<FetchResult, Error> finish() {
    if (auto synced = journal_->sync(); !synced) return std::unexpected(synced.error());
    return FetchResult{fetched_, journal_->next_sequence(), gaps_read_again_};
  }

 private:
  const FetchConfig& config_;
  std::optional<journal::Journal> journal_;
  std::uint64_t fetched_ = 0;
  std::uint64_t gaps_read_again_ = 0;
};

}  // namespace

std::expected<FetchResult, Error> fetch_journal(const FetchConfig& config) {
  auto link = NatsLink::connect(config.nats, "ringlog-fetch");
  if (!link) return stream_unavailable(link.error());
  auto position = stream_position(**link, config.nats, std::nullopt);
  if (!position) return stream_unavailable(position.error());
  Fetch fetch(config);
  if (!position->last_event) {  // nothing shipped yet: an empty journal
    if (auto opened = fetch.open_journal(0); !opened) return std::unexpected(opened.error());
    return fetch.finish();
  }
  auto cursor = StreamCursor::open(**link, config.nats);
  if (auto taken = fetch.take_all(cursor, *position->last_event); !taken) {
    return std::unexpected(taken.error());
  }
  return fetch.finish();
}

}  // namespace ringlog::ship
