#include "ship/fetcher.hpp"
#include "ship/nats_link.hpp"
#include "support/timing.hpp"

#include <fmt/format.h>

#include <chrono>
#include <optional>

namespace ringlog::app {

namespace {

std::unexpected<Error> stream_unavailable(std::string why) {
  return std::unexpected(Error::because(SetupErrc::stream_unavailable, std::move(why)));
}

}  // namespace

std::expected<FetchResult, Error> fetch_journal(const FetchConfig& config) {
  auto link = NatsLink::connect(config.nats, "ringlog-fetch");
  if (!link) return stream_unavailable(link.error());
  auto position = stream_position(**link, config.nats, std::nullopt);
  if (!position) return stream_unavailable(position.error());

  std::optional<storage::Journal> journal;
  const auto open_journal = [&](std::uint64_t first_sequence) -> std::expected<void, Error> {
    storage::JournalOptions options = config.journal;
    options.first_sequence = first_sequence;
    auto opened = storage::Journal::open(config.journal_dir, options);
    if (!opened) return std::unexpected(opened.error());
    journal.emplace(std::move(*opened));
    return {};
  };
  FetchResult result;
  if (!position->last_event) {  // nothing shipped yet: an empty journal
    if (auto opened = open_journal(0); !opened) return std::unexpected(opened.error());
    result.next_sequence = journal->next_sequence();
    return result;
  }

  auto cursor = StreamCursor::open(**link, config.nats);
  if (!cursor) return stream_unavailable(cursor.error());

  for (;;) {
    auto message = cursor->next(std::chrono::milliseconds(timing::fetch_message_wait).count());
    if (!message) {
      return stream_unavailable(fmt::format("stream {} after event {}: {}", config.nats.stream,
                                            journal ? journal->next_sequence() : 0,
                                            message.error()));
    }
    auto event = decode_event(message->get());
    if (!event) return stream_unavailable(event.error());
    if (!journal) {
      if (auto opened = open_journal(event->sequence); !opened) {
        return std::unexpected(opened.error());
      }
    }
    const std::uint64_t wanted = journal->next_sequence();
    if (event->sequence > wanted) {
      return stream_unavailable(fmt::format(
          "stream {} lacks events {} to {} (gone from it, by its limits?): the journal in {} "
          "cannot continue without a gap", config.nats.stream, wanted, event->sequence - 1,
          config.journal_dir.string()));
    }
    if (event->sequence == wanted) {
      if (!journal->append(event->header, event->payload)) {
        if (journal->failure()) return std::unexpected(*journal->failure());
        return stream_unavailable(fmt::format("event {} is malformed", event->sequence));
      }
      ++result.fetched;
    }
    if (event->sequence >= *position->last_event) break;
  }
  if (auto synced = journal->sync(); !synced) return std::unexpected(synced.error());
  result.next_sequence = journal->next_sequence();
  return result;
}

}  // namespace ringlog::app
