// Events into record arrays, one per event type, laid out as numpy structured arrays: the
// Python reader's one pass over a journal. Pure C++: the Python module (ringlog_module.cpp) only
// wraps each finished buffer in an array, without a copy.
//
// A type the schema names gets its own table: sequence (u8), timestamp (datetime64[ns]), then
// the schema's fields in its order, packed. Two more hold what the schema does not decode:
// "_undecoded" (a type the schema does not name, or a payload shorter than its schema says:
// sequence, timestamp, event_type, flags, payload_len) and "_dropped" (publishers' drop
// markers: sequence, timestamp, dropped_events, last_timestamp).
#pragma once

#include "schema/payload_schema.hpp"

#include <ringlog/event.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace ringlog::python {

// One column as numpy's dtype constructor takes it: {"names", "formats", "offsets", "itemsize"}.
struct Column {
  std::string name;
  std::string format;  // "<u8", "<M8[ns]", "S8", "V3", ...
  std::uint32_t offset = 0;
};

// Records of one fixed size in one anonymous mapping, reserved for as many as the caller
// expects and grown (mremap, no copy) past that. Only the pages written are ever backed, in
// transparent hugepages where the kernel has them: a read of millions of events takes
// thousands of page faults, not hundreds of thousands, and no copy as it grows. The mapping is
// handed to numpy whole (release), and comes back when numpy frees the array: a few are kept,
// their pages still backed, so that the next read writes into them without a fault or the
// kernel zeroing them again (a fresh page costs 5-12 us on this project's VMs, whose host takes
// free memory back).
class RecordBuffer {
 public:
  // `kind` names what the records are ("quote", say): the mapping a buffer of the same kind had
  // before is the one most worth taking again (as many of its pages are backed as it needs).
  RecordBuffer(std::string_view kind, std::uint32_t record_bytes, std::size_t expected_records);
  RecordBuffer(RecordBuffer&&) noexcept;
  RecordBuffer& operator=(RecordBuffer&&) = delete;
  ~RecordBuffer();

  std::byte* append() {
    if (count_ == capacity_) grow();
    return data_ + count_++ * record_bytes_;
  }
  std::size_t count() const noexcept { return count_; }

  // The mapping, now the caller's to give back (give_back_records), and its length.
  struct Released {
    std::byte* data;
    std::size_t mapped_bytes;
    std::string kind;
  };
  Released release() noexcept;

 private:
  void grow();
  std::string kind_;
  std::uint32_t record_bytes_;
  std::byte* data_ = nullptr;
  std::size_t mapped_bytes_ = 0;
  std::size_t count_ = 0;
  std::size_t capacity_ = 0;
};
// A mapping whose records are no longer needed (numpy freed its array): kept for the next
// buffer, or unmapped. Called with the GIL held, as every buffer is made with it held.
void give_back_records(RecordBuffer::Released) noexcept;

struct Table {
  std::string name;
  std::vector<Column> columns;
  std::uint32_t record_bytes = 0;
  // A named type's fields, copied payload → record as runs of adjacent bytes.
  struct Copy {
    std::uint32_t from, to, bytes;
  };
  std::vector<Copy> copies;
  // Its char[N] fields in the record: what follows the first zero byte is zeroed, so that numpy
  // (which strips trailing zeros only) shows the text the tools show.
  struct Text {
    std::uint32_t at, bytes;
  };
  std::vector<Text> texts;
  std::uint32_t payload_len = 0;  // a shorter payload goes to _undecoded
  RecordBuffer records;
};

class TypedArrays {
 public:
  static constexpr std::string_view undecoded_name = "_undecoded";
  static constexpr std::string_view dropped_name = "_dropped";

  // No schema: every event is undecoded. `expected_events`: how many the caller will add at
  // most, as far as it knows (each table reserves room for that many, unbacked).
  TypedArrays(const schema::Schema* schema, std::size_t expected_events);

  void add(std::uint64_t sequence, const event::EventView& view) {
    const std::int16_t index = by_type_[view.header.event_type];
    if (index >= 0 && !event::is_drop_marker(view.header) &&
        view.payload.size() >= tables_[index].payload_len) {
      Table& table = tables_[index];
      std::byte* record = start(table, sequence, view.header.timestamp);
      for (const Table::Copy& copy : table.copies) {
        copy_bytes(record + copy.to, view.payload.data() + copy.from, copy.bytes);
      }
      for (const Table::Text& text : table.texts) end_text_at_zero(record + text.at, text.bytes);
      return;
    }
    add_undecoded(sequence, view);
  }
  std::vector<Table>& tables() noexcept { return tables_; }
  std::uint64_t count() const noexcept;

 private:
  static std::byte* start(Table& table, std::uint64_t sequence, std::uint64_t timestamp) {
    std::byte* record = table.records.append();
    std::memcpy(record, &sequence, sizeof sequence);
    std::memcpy(record + 8, &timestamp, sizeof timestamp);
    return record;
  }
  // A few bytes at a time, inline: a call to memcpy for each field of each event cost more
  // than the copy (fields are a few bytes, their count known only at run time).
  static void copy_bytes(std::byte* to, const std::byte* from, std::uint32_t bytes) noexcept {
    for (; bytes >= 8; bytes -= 8, to += 8, from += 8) std::memcpy(to, from, 8);
    for (; bytes > 0; --bytes) *to++ = *from++;
  }
  static void end_text_at_zero(std::byte* text, std::uint32_t bytes) noexcept {
    if (void* zero = std::memchr(text, 0, bytes)) {
      std::memset(zero, 0, static_cast<std::size_t>(text + bytes - static_cast<std::byte*>(zero)));
    }
  }
  void add_undecoded(std::uint64_t sequence, const event::EventView& view);
  Table table_of(std::string_view name, std::vector<Column> more, std::uint32_t record_bytes) const;
  Table table_for(const schema::EventSchema& event) const;

  std::size_t expected_events_;

  std::vector<Table> tables_;  // the schema's types in its order, then _undecoded, _dropped
  std::array<std::int16_t, 256> by_type_;
  std::size_t undecoded_;
  std::size_t dropped_;
};

}  // namespace ringlog::python
