// How a journal directory is recovered, worked out without changing anything in it: which
// segments continue one another, which a writer sets aside, where it clears a torn tail, and
// when it refuses to append. Journal::open carries the plan out; check_journal (`ringlog
// verify`) reports it. One piece of logic, so that what verify predicts is what a writer does.
#pragma once

#include "journal/journal_directory.hpp"
#include "journal/file/log_format.hpp"

#include <ringlog/journal.hpp>

#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ringlog::journal::detail {

// A segment's header, as recovery and readers read it.
struct SegmentHeader {
  FileHeader file{};
  SegmentInfo info{};
  bool in_use() const noexcept { return (info.flags & segment_in_use) != 0; }
};

// Each segment's header in listing order, or the Error that says why it is no log file.
std::vector<std::expected<SegmentHeader, Error>> read_segment_headers(const JournalDirectory&);

// The id most segments carry, the oldest one's on a tie; none when no segment carries one.
std::optional<JournalId> prevailing_id(const std::vector<std::expected<SegmentHeader, Error>>&);

// The Error for a segment a journal `id` does not take: its header names another first sequence
// than its file name, or another journal.
std::optional<Error> misfit(const SegmentEntry&, const SegmentHeader&, const JournalId& id);

// A sealed segment whose checkpoint falls short of its intact records: the writer stopped
// between the segment's last flush and the checkpoint that records it. The writer makes the
// records durable and moves the checkpoint before it appends, so that what it reports durable is,
// and readers limited to durable events go on past the segment.
struct StaleCheckpoint {
  std::filesystem::path path;
  std::uint64_t event_count = 0;  // intact events in the segment
  std::size_t end_offset = 0;     // just past its last intact record
};

struct RecoveryPlan {
  JournalDirectory listing;
  // The journal's identity: the prevailing id, or a new one where no segment carries an id (a
  // new journal, or one of format version 1).
  JournalId id{};
  // Segments from the first that a reader takes: each a log file of this journal, named for the
  // first sequence its header gives. The first misfit, if any, follows them.
  std::size_t fitting = 0;
  // listing.segments[0, continuous) continue one another from the first; the newest of them is
  // appended to. The rest follow a gap, which `gap` describes.
  std::size_t continuous = 0;
  std::optional<std::string> gap;
  // The prepared segment was written to before the writer stopped: it is the newest, under
  // the name of its first sequence number.
  bool adopt_prepared = false;
  std::uint64_t newest_first_sequence = 0;
  // Sealed segments among the continuous ones (never the newest) whose checkpoint is stale.
  std::vector<StaleCheckpoint> stale_checkpoints;
  // What the writer does, as Journal::open reports it; the Error it refuses to append with.
  std::expected<JournalRecovery, Error> outcome = JournalRecovery{};
};

// Reads every segment header, the events past each checkpoint, and the newest segment whole.
// An Error only when the directory cannot be read or is no journal; damage is in the outcome.
std::expected<RecoveryPlan, Error> plan_recovery(const std::filesystem::path& directory,
                                                 std::uint64_t first_sequence_when_empty);

}  // namespace ringlog::journal::detail
