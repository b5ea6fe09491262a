// append_events DIR: appends to the journal in DIR one event per line of stdin, written as
// "<event_type> <timestamp> <payload as hex>", then makes them durable. For the tests of the
// readers (test_reader.py) that need payloads of their own making; prints how many it appended.
#include <ringlog/journal.hpp>

#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: append_events DIR < lines of \"event_type timestamp hex\"\n";
    return 2;
  }
  auto journal = ringlog::journal::Journal::open(argv[1]);
  if (!journal) {
    std::cerr << "append_events: " << journal.error().message() << "\n";
    return 1;
  }
  std::string line;
  std::uint64_t appended = 0;
  while (std::getline(std::cin, line)) {
    std::istringstream fields(line);
    unsigned type = 0;
    std::uint64_t timestamp = 0;
    std::string hex;
    fields >> type >> timestamp >> hex;
    std::vector<std::byte> payload(hex.size() / 2);
    for (std::size_t i = 0; i < payload.size(); ++i) {
      payload[i] = static_cast<std::byte>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
    }
    const ringlog::event::EventHeader header(timestamp, static_cast<std::uint8_t>(type),
                                             static_cast<std::uint16_t>(payload.size()));
    if (!fields || type > 255 || !journal->append(header, payload)) {
      std::cerr << "append_events: line " << appended + 1 << " refused: " << line << "\n";
      return 1;
    }
    ++appended;
  }
  if (auto synced = journal->sync(); !synced) {
    std::cerr << "append_events: " << synced.error().message() << "\n";
    return 1;
  }
  std::cout << appended << "\n";
  return 0;
}
