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
#include <vector>

namespace ringlog::python {

// One column as numpy's dtype constructor takes it: {"names", "formats", "offsets", "itemsize"}.
struct Column {
  std::string name;
  std::string format;  // "<u8", "<M8[ns]", "S8", "V3", ...
  std::uint32_t offset = 0;
};

// Records of one fixed size in one malloc'd block, grown by doubling; its memory is handed to
// numpy whole (release), which frees it with free().
class RecordBuffer {
 public:
  explicit RecordBuffer(std::uint32_t record_bytes) : record_bytes_(record_bytes) {}
  RecordBuffer(RecordBuffer&&) noexcept;
  RecordBuffer& operator=(RecordBuffer&&) = delete;
  ~RecordBuffer();

  std::byte* append() {
    if (count_ == capacity_) grow();
    return data_ + count_++ * record_bytes_;
  }
  std::size_t count() const noexcept { return count_; }
  // The block (nullptr when empty), now the caller's to free().
  std::byte* release() noexcept;

 private:
  void grow();
  std::uint32_t record_bytes_;
  std::byte* data_ = nullptr;
  std::size_t count_ = 0;
  std::size_t capacity_ = 0;
};

struct Table {
  std::string name;
  std::vector<Column> columns;
  std::uint32_t record_bytes = 0;
  // A named type's fields, copied payload → record as runs of adjacent bytes.
  struct Copy {
    std::uint32_t from, to, bytes;
  };
  std::vector<Copy> copies;
  std::uint32_t payload_len = 0;  // a shorter payload goes to _undecoded
  RecordBuffer records;
};

class TypedArrays {
 public:
  static constexpr std::string_view undecoded_name = "_undecoded";
  static constexpr std::string_view dropped_name = "_dropped";

  explicit TypedArrays(const schema::Schema* schema);  // no schema: every event is undecoded

  void add(std::uint64_t sequence, const event::EventView& view) {
    const std::int16_t index = by_type_[view.header.event_type];
    if (index >= 0 && !event::is_drop_marker(view.header) &&
        view.payload.size() >= tables_[index].payload_len) {
      Table& table = tables_[index];
      std::byte* record = start(table, sequence, view.header.timestamp);
      for (const Table::Copy& copy : table.copies) {
        std::memcpy(record + copy.to, view.payload.data() + copy.from, copy.bytes);
      }
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
  void add_undecoded(std::uint64_t sequence, const event::EventView& view);

  std::vector<Table> tables_;  // the schema's types in its order, then _undecoded, _dropped
  std::array<std::int16_t, 256> by_type_;
  std::size_t undecoded_;
  std::size_t dropped_;
};

}  // namespace ringlog::python
