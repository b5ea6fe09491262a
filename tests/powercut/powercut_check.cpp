// Checks a journal recovered from a power cut against what the writer inside the VM reported
// durable before the cut.
//
// usage: powercut_check DIR DURABLE [--any-events]
//   --any-events  the events are another writer's (`ringlog publish` through `ringlog serve`):
//                 check their order and checksums, not their bytes
// Exit status 0 when:
//   - every event from the journal's oldest kept one up to DURABLE - 1 is present, in order,
//     intact and byte-exact (powercut_events.hpp);
//   - check_journal() finds no damage below a durable checkpoint and no foreign segment;
//   - a writer reopening it continues right after the last intact event (or after those of a
//     segment the crash left under its prepared name, which readers must then hand out), and
//     can append and make durable one more event.
// Else 1, with one line per problem.
#include "powercut_events.hpp"

#include <ringlog/journal.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

int problems = 0;

void problem(const std::string& what) {
  std::printf("PROBLEM %s\n", what.c_str());
  ++problems;
}

// The intact events a reader hands out: checked byte for byte, and counted.
std::uint64_t check_events(const std::filesystem::path& dir, std::uint64_t durable,
                           bool any_events) {
  auto reader = ringlog::journal::JournalReader::open(dir);
  if (!reader) {
    problem("reader: " + reader.error().message());
    return 0;
  }
  std::uint64_t first = UINT64_MAX;
  std::uint64_t end = 0;
  std::uint64_t wrong = 0;
  reader->replay([&](const ringlog::journal::JournalEvent& event) {
    if (first == UINT64_MAX) first = event.sequence;
    if (event.sequence != end && end != 0) ++wrong;  // a gap the reader should never hand out
    if (!any_events &&
        !ringlog::powercut::is_expected(event.sequence, event.view.header, event.view.payload)) {
      ++wrong;
    }
    end = event.sequence + 1;
  });
  if (wrong != 0) problem(std::to_string(wrong) + " event(s) out of order or not as written");
  if (end < durable) {
    problem("events " + std::to_string(end) + " to " + std::to_string(durable - 1) +
            " were reported durable and are gone");
  }
  if (first == UINT64_MAX) {
    std::printf("journal holds no event; reported durable below %llu\n",
                static_cast<unsigned long long>(durable));
  } else {
    std::printf("journal holds events %llu to %llu; reported durable below %llu\n",
                static_cast<unsigned long long>(first), static_cast<unsigned long long>(end - 1),
                static_cast<unsigned long long>(durable));
  }
  return end;
}

void check_damage(const std::filesystem::path& dir) {
  auto checked = ringlog::journal::check_journal(dir);
  if (!checked) {
    problem("check_journal: " + checked.error().message());
    return;
  }
  if (checked->durable_data_damaged) problem("durable data damaged: " + checked->problem);
  if (checked->foreign_segment) problem("a foreign segment: " + checked->problem);
  if (!checked->writer) problem("a writer would refuse: " + checked->writer.error().message());
}

// The events a reader hands out from `from` on, checked as check_events() does; the count.
std::uint64_t events_from(const std::filesystem::path& dir, std::uint64_t from, bool any_events) {
  auto reader = ringlog::journal::JournalReader::open(dir);
  if (!reader) {
    problem("reader from event " + std::to_string(from) + ": " + reader.error().message());
    return 0;
  }
  std::uint64_t expected = from;
  reader->replay_from(from, [&](const ringlog::journal::JournalEvent& event) {
    const bool as_written = any_events || ringlog::powercut::is_expected(
                                              event.sequence, event.view.header, event.view.payload);
    if (event.sequence == expected && as_written) ++expected;
  });
  return expected - from;
}

// A writer reopening the journal continues right after the last intact event, or after the
// events of a segment the crash left under its prepared name (the writer starts appending to
// it before its rename lands, and recovery adopts it): then a reader must now hand those out,
// intact and in order. It can append and make durable one more event.
void check_reopen(const std::filesystem::path& dir, std::uint64_t end, bool any_events) {
  auto journal = ringlog::journal::Journal::open(dir);
  if (!journal) {
    problem("reopen: " + journal.error().message());
    return;
  }
  const std::uint64_t next = journal->next_sequence();
  if (next < end) {
    problem("a reopened writer continues at " + std::to_string(next) +
            ", before the last intact event, " + std::to_string(end - 1));
  } else if (next > end) {
    const std::uint64_t adopted = events_from(dir, end, any_events);
    if (adopted != next - end) {
      problem("a reopened writer continues at " + std::to_string(next) + ", but readers find " +
              std::to_string(adopted) + " intact event(s) after " + std::to_string(end - 1));
    } else {
      std::printf("recovery adopted events %llu to %llu from a segment not yet renamed\n",
                  static_cast<unsigned long long>(end), static_cast<unsigned long long>(next - 1));
    }
  }
  const std::uint64_t sequence = journal->next_sequence();
  const bool appended = journal->append(ringlog::powercut::header_of(sequence),
                                        ringlog::powercut::payload_of(sequence));
  const auto synced = journal->sync();
  if (!appended || !synced || journal->durable_sequence() != sequence + 1) {
    problem("a reopened writer cannot append and make an event durable");
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool any_events = argc == 4 && std::string(argv[3]) == "--any-events";
  if (argc != 3 && !any_events) {
    std::fprintf(stderr, "usage: powercut_check DIR DURABLE [--any-events]\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const std::uint64_t durable = std::strtoull(argv[2], nullptr, 10);
  const std::uint64_t end = check_events(dir, durable, any_events);
  check_damage(dir);
  check_reopen(dir, end, any_events);
  return problems == 0 ? 0 : 1;
}
