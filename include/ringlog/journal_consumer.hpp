// The journal as one of the dispatcher's consumers: single events are appended, runs of ring
// records are persisted in one copy (Journal::append_records), and every drain ends with the
// journal's flush policy (Journal::flush_if_due). The journal must outlive it; both are used
// on the dispatcher's thread.
#pragma once

#include <ringlog/dispatcher.hpp>
#include <ringlog/journal.hpp>

namespace ringlog::dispatch {

class JournalConsumer final : public EventConsumer {
 public:
  explicit JournalConsumer(journal::Journal& journal) noexcept : journal_(journal) {}
  bool consume(const event::EventHeader& header, std::span<const std::byte> payload) override {
    return journal_.append(header, payload);
  }
  std::size_t consume_records(std::span<const std::byte> records,
                              std::size_t event_count) override {
    return journal_.append_records(records) ? event_count : 0;
  }
  void flush() override { journal_.flush_if_due(); }
  std::string_view name() const override { return "journal"; }

 private:
  journal::Journal& journal_;
};

}  // namespace ringlog::dispatch
