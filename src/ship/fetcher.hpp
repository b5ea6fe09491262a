// `ringlog fetch`: rebuilds a journal from the JetStream stream a shipper fills, so that replay,
// `ringlog verify` and `ringlog dump` work on another host. Every event keeps its sequence
// number, header and payload; each record's checksum is computed anew.
#pragma once

#include "ship/nats_endpoint.hpp"

#include <ringlog/journal.hpp>

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>

namespace ringlog::ship {

struct FetchConfig {
  NatsEndpoint nats;
  std::filesystem::path journal_dir;  // created, or continued after its newest event
  journal::JournalOptions journal{};
};

struct FetchResult {
  std::uint64_t fetched = 0;        // events appended by this run
  std::uint64_t next_sequence = 0;  // after its newest event: the stream's newest, plus one
  std::uint64_t read_at_leader = 0;  // messages a replica still catching up lacked
};

// Fetches every event the stream holds on the subject now that the journal lacks, in order,
// and makes them durable, from messages of either form (blocks, compressed or not, and events).
// An error when the stream lacks events the journal needs (they aged
// out of it), when a message is not a ringlog event, or when the journal fails.
std::expected<FetchResult, Error> fetch_journal(const FetchConfig&);

}  // namespace ringlog::ship
