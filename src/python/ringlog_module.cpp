// The `ringlog._ringlog` extension module: a journal read into numpy structured arrays by the
// C++ JournalReader (no second reader of the format), one pass, no Python code per event.
// ringlog/__init__.py is the API users import; this is what it stands on.
#include "python/typed_arrays.hpp"
#include "schema/payload_schema.hpp"
#include "schema/time_text.hpp"

#include <ringlog/journal.hpp>

#include <fmt/format.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <chrono>
#include <optional>
#include <thread>

namespace py = pybind11;

namespace ringlog::python {

namespace {

// What `ringlog verify` says of a journal that cannot be read, or that is damaged or foreign.
struct JournalError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void not_readable(const std::filesystem::path& path, const Error& error) {
  throw JournalError(fmt::format("{}: NOT A READABLE JOURNAL: {}", path.string(), error.message()));
}

// A reader that stopped short of where its limit lets it read, or at a segment of another
// journal: the words `ringlog verify` uses. Checking reads every segment: without the GIL.
void raise_if_damaged(const std::filesystem::path& path, journal::JournalReader& reader,
                      journal::ReadLimit limit) {
  std::optional<std::string> problem;
  {
    py::gil_scoped_release unlocked;
    const std::uint64_t end = limit == journal::ReadLimit::durable ? reader.durable_end_sequence()
                                                                   : reader.end_sequence();
    if (!reader.failure() && reader.position() >= end) return;
    const auto check = journal::check_journal(path);
    if (!check) {
      problem = fmt::format("{}: NOT A READABLE JOURNAL: {}", path.string(), check.error().message());
    } else if (!check->problem.empty()) {
      problem = fmt::format("{}: {}", check->foreign_segment ? "FOREIGN" : "DAMAGED", check->problem);
    } else if (reader.failure()) {
      problem = reader.failure()->message();
    }
  }
  if (problem) throw JournalError(*problem);
}

// The tables as {name: numpy array}: every type the schema names (empty or not), then
// _undecoded and _dropped when they hold anything. Each array takes its table's memory.
py::dict to_arrays(TypedArrays& arrays, std::size_t named_types) {
  py::dict result;
  std::size_t index = 0;
  for (Table& table : arrays.tables()) {
    const bool named = index++ < named_types;
    if (!named && table.records.count() == 0) continue;
    py::list names, formats, offsets;
    for (const Column& column : table.columns) {
      names.append(column.name);
      formats.append(column.format);
      offsets.append(column.offset);
    }
    const py::dtype dtype = py::dtype::from_args(
        py::dict(py::arg("names") = names, py::arg("formats") = formats,
                 py::arg("offsets") = offsets, py::arg("itemsize") = table.record_bytes));
    const std::size_t count = table.records.count();
    // The capsule owns the mapping from here on: numpy gives it back when the array goes.
    auto released = std::make_unique<RecordBuffer::Released>(table.records.release());
    std::byte* data = released->data;
    const py::capsule owner(released.get(), [](void* memory) {
      std::unique_ptr<RecordBuffer::Released> mapping(static_cast<RecordBuffer::Released*>(memory));
      give_back_records(std::move(*mapping));
    });
    released.release();
    result[py::str(table.name)] =
        py::array(dtype, {count}, {std::size_t{table.record_bytes}}, data, owner);
  }
  return result;
}

// Room each array reserves to begin with, unbacked until written; past it, its mapping grows
// without a copy (mremap).
constexpr std::size_t reserved_records = std::size_t{1} << 20;

journal::ReadLimit limit_of(bool durable) {
  return durable ? journal::ReadLimit::durable : journal::ReadLimit::appended;
}

// A journal directory and the schema its events are decoded by.
class Journal {
 public:
  Journal(std::filesystem::path path, const std::filesystem::path& schema_file)
      : path_(std::move(path)) {
    auto reader = journal::JournalReader::open(path_);
    if (!reader) not_readable(path_, reader.error());
    auto found = schema::schema_for(path_, schema_file);
    if (!found) throw std::invalid_argument(found.error().message());
    schema_ = std::move(*found);
  }

  std::uint64_t first_sequence() const {
    auto reader = open(false);
    const auto first = reader.next();
    return first ? first->sequence : reader.end_sequence();
  }
  std::uint64_t next_sequence() const { return open(false).end_sequence(); }
  std::uint64_t durable_sequence() const { return open(false).durable_end_sequence(); }

  // Every intact event from the first at or after `since` up to the first at or after `until`,
  // as dump --since/--until select them.
  py::dict read(std::optional<std::uint64_t> since, std::optional<std::uint64_t> until,
                bool durable) const {
    auto reader = open(durable);
    if (since) reader.seek_time(*since);
    TypedArrays arrays(schema(), reserved_records);
    bool cut_at_until = false;
    {
      py::gil_scoped_release unlocked;
      schema::TimeWindow window(since, until);  // `since` is where the seek landed
      while (const auto event = reader.next()) {
        if (until) {
          window.started(event->view.header.timestamp);
          if ((cut_at_until = window.ended())) break;
        }
        arrays.add(event->sequence, event->view);
      }
    }
    if (!cut_at_until) raise_if_damaged(path_, reader, limit_of(durable));
    return to_arrays(arrays, named_types());
  }

  const schema::Schema* schema() const noexcept { return schema_ ? &*schema_ : nullptr; }
  std::size_t named_types() const noexcept { return schema_ ? schema_->events().size() : 0; }
  const std::filesystem::path& path() const noexcept { return path_; }

  // {type name: [(field, type, offset, unit), ...]}
  py::dict schema_fields() const {
    py::dict types;
    if (!schema_) return types;
    for (const schema::EventSchema& event : schema_->events()) {
      py::list fields;
      for (const schema::Field& field : event.fields) {
        fields.append(py::make_tuple(field.name, schema::type_name(field), field.offset,
                                     field.unit));
      }
      types[py::str(event.name)] = fields;
    }
    return types;
  }

 private:
  journal::JournalReader open(bool durable) const {
    auto reader = journal::JournalReader::open(path_, limit_of(durable));
    if (!reader) not_readable(path_, reader.error());
    return std::move(*reader);
  }

  std::filesystem::path path_;
  std::optional<schema::Schema> schema_;
};

// A cursor that follows a journal, named (it resumes where it committed) or not.
class Follower {
 public:
  Follower(const Journal& journal, const std::string& name, bool durable)
      : journal_(journal), limit_(limit_of(durable)) {
    auto reader = journal::JournalReader::open(journal.path(), {name, limit_});
    if (!reader) not_readable(journal.path(), reader.error());
    reader_.emplace(std::move(*reader));
  }

  // Up to `most` events as arrays, once at least one is there; None when none came within
  // `timeout_s` (None: wait until one comes). Polls every millisecond without the GIL, and
  // lets Python's signal handlers (Ctrl-C) run between polls.
  py::object poll(std::uint64_t most, std::optional<double> timeout_s) {
    using Clock = std::chrono::steady_clock;
    if (most == 0) throw std::invalid_argument("a batch holds at least one event");
    // Past a year, or not finite: as long as it takes.
    const bool bounded = timeout_s && *timeout_s < 365.0 * 24 * 3600;
    const auto deadline = bounded ? Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                       std::chrono::duration<double>(*timeout_s))
                                  : Clock::time_point::max();
    TypedArrays arrays(journal_.schema(), std::min<std::uint64_t>(most, reserved_records));
    for (;;) {
      collect(arrays, most);
      if (arrays.count() > 0) return to_arrays(arrays, journal_.named_types());
      if (reader_->failure() || Clock::now() >= deadline) {
        raise_if_damaged(journal_.path(), *reader_, limit_);
        return py::none();
      }
      {
        py::gil_scoped_release unlocked;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    }
  }

  void commit() {
    if (auto committed = reader_->commit_position(); !committed) {
      throw JournalError(committed.error().message());
    }
  }
  std::uint64_t position() const noexcept { return reader_->position(); }

 private:
  // Up to `most` events into `arrays`, without the GIL. Should the arrays fail to grow, the
  // reader goes back to where it was: no event is passed over without being handed out.
  void collect(TypedArrays& arrays, std::uint64_t most) {
    py::gil_scoped_release unlocked;
    const std::uint64_t start = reader_->position();
    try {
      reader_->poll([&](const journal::JournalEvent& event) {
        arrays.add(event.sequence, event.view);
      }, most);
    } catch (...) {
      reader_->seek(start);
      throw;
    }
  }

  const Journal& journal_;
  journal::ReadLimit limit_;
  std::optional<journal::JournalReader> reader_;
};

std::uint64_t parse_time(const std::string& text) {
  const auto ns = schema::parse_time(text);
  if (!ns) {
    throw std::invalid_argument(fmt::format(
        "\"{}\" is no time: nanoseconds since the epoch, or UTC as 2026-12-01T13:00:00Z", text));
  }
  return *ns;
}

}  // namespace

}  // namespace ringlog::python

PYBIND11_MODULE(_ringlog, module) {
  using namespace ringlog::python;
  module.doc() = "ringlog's C++ journal reader, building numpy arrays (import ringlog instead)";
  py::register_exception<JournalError>(module, "JournalError");
  py::class_<Journal>(module, "Journal")
      .def(py::init<std::filesystem::path, std::filesystem::path>(), py::arg("path"),
           py::arg("schema"))
      .def_property_readonly("path", &Journal::path)
      .def_property_readonly("first_sequence", &Journal::first_sequence)
      .def_property_readonly("next_sequence", &Journal::next_sequence)
      .def_property_readonly("durable_sequence", &Journal::durable_sequence)
      .def_property_readonly("fields", &Journal::schema_fields)
      .def("read", &Journal::read, py::arg("since"), py::arg("until"), py::arg("durable"));
  py::class_<Follower>(module, "Follower")
      .def(py::init<const Journal&, const std::string&, bool>(), py::arg("journal"),
           py::arg("name"), py::arg("durable"), py::keep_alive<1, 2>())
      .def("poll", &Follower::poll, py::arg("most"), py::arg("timeout"))
      .def("commit", &Follower::commit)
      .def_property_readonly("position", &Follower::position);
  module.def("parse_time", &parse_time, py::arg("text"));
}
