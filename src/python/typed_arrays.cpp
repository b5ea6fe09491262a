#include "python/typed_arrays.hpp"

#include <fmt/format.h>

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <optional>
#include <utility>

namespace ringlog::python {

using schema::FieldType;

namespace {

// numpy's name for a field's type: little-endian, as the journal's bytes are.
std::string numpy_format(const schema::Field& field) {
  switch (field.type) {
    case FieldType::u8: return "u1";
    case FieldType::u16: return "<u2";
    case FieldType::u32: return "<u4";
    case FieldType::u64: return "<u8";
    case FieldType::i8: return "i1";
    case FieldType::i16: return "<i2";
    case FieldType::i32: return "<i4";
    case FieldType::i64: return "<i8";
    case FieldType::f32: return "<f4";
    case FieldType::f64: return "<f8";
    case FieldType::chars: return fmt::format("S{}", field.size);
    case FieldType::bytes: return fmt::format("V{}", field.size);
    case FieldType::timestamp_ns: return "<M8[ns]";
  }
  return "V1";
}

}  // namespace

namespace {

// Mappings numpy gave back, at most `most_bytes` of them. Their pages are
// marked MADV_FREE: the kernel may take them under memory pressure (they then come back zeroed,
// as new ones), and until it does they cost nothing to write into again. Used with the GIL held.
class KeptMappings {
 public:
  // A kept mapping of at least `bytes`: the one `kind` had last when it fits, else the
  // smallest that fits; or none.
  std::optional<RecordBuffer::Released> take(std::string_view kind, std::size_t bytes) noexcept {
    auto chosen = kept_.end();
    for (auto it = kept_.begin(); it != kept_.end(); ++it) {
      if (it->mapped_bytes < bytes) continue;
      if (it->kind == kind) {
        chosen = it;
        break;
      }
      if (chosen == kept_.end() || it->mapped_bytes < chosen->mapped_bytes) chosen = it;
    }
    if (chosen == kept_.end()) return std::nullopt;
    RecordBuffer::Released taken = std::move(*chosen);
    kept_bytes_ -= taken.mapped_bytes;
    kept_.erase(chosen);
    return taken;
  }
  void keep(RecordBuffer::Released mapping) noexcept {
    if (kept_bytes_ + mapping.mapped_bytes > most_bytes || kept_.size() >= most_mappings) {
      ::munmap(mapping.data, mapping.mapped_bytes);
      return;
    }
    ::madvise(mapping.data, mapping.mapped_bytes, MADV_FREE);
    kept_bytes_ += mapping.mapped_bytes;
    kept_.push_back(std::move(mapping));
  }

 private:
  // Mappings are reserved (NORESERVE), not backed: what counts is what was written, at most
  // the arrays of the reads just done.
  static constexpr std::size_t most_bytes = std::size_t{16} << 30;
  static constexpr std::size_t most_mappings = 16;
  std::vector<RecordBuffer::Released> kept_;
  std::size_t kept_bytes_ = 0;
};

KeptMappings& kept_mappings() {
  static KeptMappings* kept = new KeptMappings();  // never destroyed: arrays may outlive main
  return *kept;
}

}  // namespace

RecordBuffer::RecordBuffer(std::string_view kind, std::uint32_t record_bytes,
                           std::size_t expected_records)
    : kind_(kind), record_bytes_(record_bytes) {
  const std::size_t bytes = std::max<std::size_t>(1, expected_records) * record_bytes;
  if (auto kept = kept_mappings().take(kind, bytes)) {
    data_ = kept->data;
    mapped_bytes_ = kept->mapped_bytes;
  } else {
    void* mapped = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mapped == MAP_FAILED) throw std::bad_alloc();
    ::madvise(mapped, bytes, MADV_HUGEPAGE);  // where the kernel has none, 4 KiB pages do
    data_ = static_cast<std::byte*>(mapped);
    mapped_bytes_ = bytes;
  }
  capacity_ = mapped_bytes_ / record_bytes;
}

RecordBuffer::RecordBuffer(RecordBuffer&& other) noexcept
    : kind_(std::move(other.kind_)),
      record_bytes_(other.record_bytes_),
      data_(std::exchange(other.data_, nullptr)),
      mapped_bytes_(std::exchange(other.mapped_bytes_, 0)),
      count_(std::exchange(other.count_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

RecordBuffer::~RecordBuffer() { give_back_records(release()); }

void RecordBuffer::grow() {
  const std::size_t bytes = mapped_bytes_ * 2;
  void* grown = ::mremap(data_, mapped_bytes_, bytes, MREMAP_MAYMOVE);
  if (grown == MAP_FAILED) throw std::bad_alloc();
  ::madvise(grown, bytes, MADV_HUGEPAGE);
  data_ = static_cast<std::byte*>(grown);
  mapped_bytes_ = bytes;
  capacity_ = bytes / record_bytes_;
}

RecordBuffer::Released RecordBuffer::release() noexcept {
  count_ = capacity_ = 0;
  return {std::exchange(data_, nullptr), std::exchange(mapped_bytes_, 0), kind_};
}

void give_back_records(RecordBuffer::Released released) noexcept {
  if (released.data != nullptr) kept_mappings().keep(released);
}

// sequence and timestamp, then `more` at the offsets after them.
Table TypedArrays::table_of(std::string_view name, std::vector<Column> more,
                            std::uint32_t record_bytes) const {
  std::vector<Column> columns = {{"sequence", "<u8", 0}, {"timestamp", "<M8[ns]", 8}};
  columns.insert(columns.end(), more.begin(), more.end());
  return Table{std::string(name), std::move(columns), record_bytes, {}, {}, 0,
               RecordBuffer(fmt::format("{}/{}", name, record_bytes), record_bytes,
                            expected_events_)};
}

Table TypedArrays::table_for(const schema::EventSchema& event) const {
  std::vector<Column> fields;
  std::vector<Table::Copy> copies;
  std::vector<Table::Text> texts;
  std::uint32_t at = 16;
  for (const schema::Field& field : event.fields) {
    fields.push_back({field.name, numpy_format(field), at});
    if (field.type == FieldType::chars) texts.push_back({at, field.size});
    // Adjacent in the payload and in the record: one copy for both.
    if (!copies.empty() && copies.back().from + copies.back().bytes == field.offset) {
      copies.back().bytes += field.size;
    } else {
      copies.push_back({field.offset, at, field.size});
    }
    at += field.size;
  }
  Table table = table_of(event.name, std::move(fields), at);
  table.copies = std::move(copies);
  table.texts = std::move(texts);
  table.payload_len = event.payload_len;
  return table;
}

TypedArrays::TypedArrays(const schema::Schema* schema, std::size_t expected_events)
    : expected_events_(expected_events) {
  by_type_.fill(-1);
  if (schema != nullptr) {
    for (const schema::EventSchema& event : schema->events()) {
      by_type_[event.event_type] = static_cast<std::int16_t>(tables_.size());
      tables_.push_back(table_for(event));
    }
  }
  undecoded_ = tables_.size();
  tables_.push_back(table_of(undecoded_name, {{"event_type", "u1", 16}, {"flags", "u1", 17},
                                              {"payload_len", "<u2", 18}}, 20));
  dropped_ = tables_.size();
  tables_.push_back(table_of(dropped_name, {{"dropped_events", "<u8", 16},
                                            {"last_timestamp", "<M8[ns]", 24}}, 32));
}

void TypedArrays::add_undecoded(std::uint64_t sequence, const event::EventView& view) {
  const event::EventHeader& header = view.header;
  if (const auto marker = event::as_drop_marker(view)) {
    std::byte* record = start(tables_[dropped_], sequence, header.timestamp);
    std::memcpy(record + 16, &marker->dropped_events, 8);
    std::memcpy(record + 24, &marker->last_timestamp, 8);
    return;
  }
  std::byte* record = start(tables_[undecoded_], sequence, header.timestamp);
  std::memcpy(record + 16, &header.event_type, 1);
  std::memcpy(record + 17, &header.flags, 1);
  std::memcpy(record + 18, &header.payload_len, 2);
}

std::uint64_t TypedArrays::count() const noexcept {
  std::uint64_t count = 0;
  for (const Table& table : tables_) count += table.records.count();
  return count;
}

}  // namespace ringlog::python
