// The writer a power-cut round runs inside the virtual machine: it appends the events of
// powercut_events.hpp to a journal with small segments (so that rounds cut it during rolls and
// recycling) and reports, on its standard output (the VM's serial console), every durable
// sequence the journal reaches: "durable <n> appended <m>" means every event below n survives a
// power cut, and m events had been appended by then (those from n on may die with the page
// cache: the harness counts the unsynced tails a cut took, to show that cuts do take them).
//
// usage: powercut_writer DIR [--lie]
//   --lie  the negative control: never flush, and report what was appended as durable. The
//          harness's check must catch it; a harness that cannot fail proves nothing.
#include "powercut_events.hpp"

#include <ringlog/journal.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace {

ringlog::journal::JournalOptions options(bool lie) {
  ringlog::journal::JournalOptions options;
  options.segment_bytes = ringlog::journal::JournalOptions::min_segment_bytes;
  options.keep_segments = 4;  // retention, and so recycling, in every round
  options.recycle = true;
  options.flush.every_bytes = lie ? 0 : std::size_t{64} << 10;
  options.flush.every = lie ? std::chrono::microseconds(0) : std::chrono::microseconds(2000);
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: powercut_writer DIR [--lie]\n");
    return 2;
  }
  const bool lie = argc > 2 && std::string_view(argv[2]) == "--lie";
  auto journal = ringlog::journal::Journal::open(argv[1], options(lie));
  if (!journal) {
    std::printf("failed %s\n", journal.error().message().c_str());
    return 1;
  }
  std::printf("opened next %llu durable %llu\n",
              static_cast<unsigned long long>(journal->next_sequence()),
              static_cast<unsigned long long>(journal->durable_sequence()));
  std::fflush(stdout);
  std::uint64_t reported = journal->durable_sequence();
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      const std::uint64_t sequence = journal->next_sequence();
      const auto payload = ringlog::powercut::payload_of(sequence);
      if (!journal->append(ringlog::powercut::header_of(sequence), payload)) break;
    }
    journal->flush_if_due();
    if (journal->failure()) {
      std::printf("failed %s\n", journal->failure()->message().c_str());
      std::fflush(stdout);
      return 1;
    }
    const std::uint64_t durable = lie ? journal->next_sequence() : journal->durable_sequence();
    // The lie is told in steps, not every 64 events: the console is slow under emulation.
    if (durable != reported && (!lie || durable - reported >= 1024)) {
      reported = durable;
      std::printf("durable %llu appended %llu\n", static_cast<unsigned long long>(durable),
                  static_cast<unsigned long long>(journal->next_sequence()));
      std::fflush(stdout);
    }
  }
}
