#include "ship/fetcher.hpp"
#include "ship/message_format.hpp"
#include "ship/nats_link.hpp"
#include "support/timing.hpp"

#include <fmt/format.h>

#include <chrono>
#include <optional>

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

  // Every event the cursor hands out, up to `last_event`, checked and taken. A hole before a
  // message is the replica's the cursor reads from, still catching up, or the stream's own:
  // the stream's leader, which holds all the stream has, tells which and fills it.
  std::expected<void, Error> take_all(StreamCursor& cursor, std::uint64_t last_event) {
    while (reached_ <= last_event) {
      auto message = cursor.next(std::chrono::milliseconds(timing::fetch_message_wait).count());
      if (!message) {
        return stream_unavailable(fmt::format("stream {} after event {}: {}", config_.nats.stream,
                                              journal_ ? journal_->next_sequence() : 0,
                                              message.error()));
      }
      auto taken = take_message(message->get());
      if (!taken) return std::unexpected(taken.error());
      if (!taken->gap) continue;
      if (auto filled = fill_from_leader(cursor, stream_sequence_of(message->get())); !filled) {
        return filled;
      }
      taken = take_message(message->get());
      if (!taken) return std::unexpected(taken.error());
      if (taken->gap) return std::unexpected(*taken->gap);
    }
    return {};
  }

  // What take_message() left: nothing, or the gap before the first event it did not take.
  struct Taken {
    std::optional<Error> gap;
  };

  // Every event of `message` the journal lacks, unless one comes after a gap: those from it on
  // are left for once the gap is filled.
  std::expected<Taken, Error> take_message(natsMsg* message) {
    Taken taken;
    std::optional<Error> failed;
    auto decoded = decoder_.decode(message, [&](const ShippedEvent& event) {
      if (!taken.gap && journal_ && comes_after_a_gap(event)) taken.gap = gap_before(event).error();
      if (taken.gap || failed) return;
      if (auto appended = take(event); !appended) failed = appended.error();
      reached_ = event.sequence + 1;
    });
    if (!decoded) return stream_unavailable(decoded.error());
    if (failed) return std::unexpected(*failed);
    return taken;
  }

  // The messages before stream sequence `until` that the cursor's replica skipped, as the
  // stream's leader holds them. Where the leader lacks one, the gap stays, and the caller
  // reports it.
  std::expected<void, Error> fill_from_leader(StreamCursor& cursor, std::uint64_t until) {
    auto oldest = cursor.oldest_at_leader();
    if (!oldest) return stream_unavailable(oldest.error());
    for (std::uint64_t sequence = std::max(cursor.hole_start(), *oldest); sequence < until;
         ++sequence) {
      auto held = cursor.read_at_leader(sequence);
      if (!held) return stream_unavailable(held.error());
      if (!*held) continue;  // none on the subject there
      auto taken = take_message((**held).get());
      if (!taken) return std::unexpected(taken.error());
      if (taken->gap) return std::unexpected(*taken->gap);  // the leader lacks events too
      ++read_at_leader_;
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
    return FetchResult{fetched_, journal_->next_sequence(), read_at_leader_};
  }

 private:
  const FetchConfig& config_;
  std::optional<journal::Journal> journal_;
  MessageDecoder decoder_;
  std::uint64_t reached_ = 0;  // after the newest event taken
  std::uint64_t fetched_ = 0;
  std::uint64_t read_at_leader_ = 0;
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
