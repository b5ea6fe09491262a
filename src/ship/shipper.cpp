#include "ship/shipper.hpp"

#include "ship/shipping_loop.hpp"
#include "ship/shipping_state.hpp"
#include "support/prometheus_exposition.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sched.h>

#include <algorithm>
#include <thread>

namespace ringlog::ship {

struct Shipper::State {
  explicit State(ShipConfig shipping) : config(std::move(shipping)) {}

  const ShipConfig config;
  Acknowledgements acknowledgements;
  ShipStatusBoard board;
  StopFlag stop;
  std::unique_ptr<ShippingLoop> loop;
  std::thread thread;
};

Shipper::Shipper(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}

Shipper::~Shipper() { stop(); }

std::expected<std::unique_ptr<Shipper>, Error> Shipper::start(ShipConfig config) {
  if (auto checked = check_endpoint(config.nats); !checked) {
    return std::unexpected(Error::because(SetupErrc::invalid_setting, checked.error()));
  }
  if (config.block_bytes < min_block_bytes || config.block_bytes > max_block_bytes) {
    return std::unexpected(Error::because(
        SetupErrc::invalid_setting,
        fmt::format("a block of {} bytes: blocks take from {} to {} bytes", config.block_bytes,
                    min_block_bytes, max_block_bytes)));
  }
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  (void)::sched_getaffinity(0, sizeof allowed, &allowed);
  for (const int cpu : config.cpus) {
    if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed)) {
      return std::unexpected(Error::because(
          SetupErrc::unusable_cpus,
          fmt::format("shipper CPU {} is not one this process may use", cpu)));
    }
  }
  auto durable = journal::JournalReader::open(config.journal_dir, journal::ReadLimit::durable);
  if (!durable) return std::unexpected(durable.error());
  auto appended = journal::JournalReader::open(config.journal_dir);
  if (!appended) return std::unexpected(appended.error());
  auto state = std::make_unique<State>(std::move(config));
  State& s = *state;
  s.loop = std::make_unique<ShippingLoop>(s.config, std::move(*durable), std::move(*appended),
                                          s.acknowledgements, s.board, s.stop);
  s.thread = std::thread([&s] { s.loop->run(); });
  return std::unique_ptr<Shipper>(new Shipper(std::move(state)));
}

void Shipper::stop() {
  State& s = *state_;
  s.stop.request();
  if (s.thread.joinable()) s.thread.join();
  s.loop->disconnect();
  s.board.connected.store(false);  // a stopped shipper is connected to nothing
}

std::uint64_t Shipper::shipped_through() const noexcept {
  return state_->acknowledgements.shipped();
}

ShipStatus Shipper::status() const {
  const State& s = *state_;
  ShipStatus status;
  status.stream = s.config.nats.stream;
  status.subject = s.config.nats.subject;
  status.connected = s.board.connected.load(std::memory_order_relaxed);
  status.in_step = s.board.in_step.load();
  status.shipped = s.acknowledgements.shipped();
  status.format = s.config.format;
  status.compression = s.config.compression;
  status.acknowledged = s.acknowledgements.count();
  status.acknowledged_messages = s.acknowledgements.messages();
  status.acknowledged_bytes = s.acknowledgements.bytes();
  status.acknowledged_wire_bytes = s.acknowledgements.wire_bytes();
  const ShipFigures figures = s.board.read();
  status.journal_end = std::max(figures.journal_end, status.shipped);
  status.lag_events = status.journal_end - status.shipped;
  status.lag_seconds = status.lag_events == 0 ? 0 : figures.lag_seconds;
  status.events_per_second = figures.events_per_second;
  status.messages_per_second = figures.messages_per_second;
  status.wire_bytes_per_second = figures.wire_bytes_per_second;
  status.resumes = figures.resumes;
  status.problem = figures.problem;
  return status;
}

double ShipStatus::compression_ratio() const {
  // An event's message carries its payload alone: the header went into headers, not away.
  if (format == ShipFormat::events || acknowledged_wire_bytes == 0) return 1;
  return double(acknowledged_bytes) / double(acknowledged_wire_bytes);
}

namespace {

// "blocks, zstd" or "events": how the events travel.
std::string form_of(const ShipStatus& status) {
  return status.format == ShipFormat::events || status.compression == Compression::none
             ? std::string(name_of(status.format))
             : fmt::format("{}, {}", name_of(status.format), name_of(status.compression));
}

}  // namespace

std::string to_text(const ShipStatus& status) {
  std::string text = fmt::format(
      "ship       stream {} ({}, {}): shipped {} of {}, lag {} events / {:.1f} s, "
      "{:.0f} events/s in {:.0f} messages/s, {:.1f} MB/s, compression {:.2f}, {} resume(s){}\n",
      status.stream, status.subject, form_of(status), status.shipped, status.journal_end,
      status.lag_events, status.lag_seconds, status.events_per_second,
      status.messages_per_second, status.wire_bytes_per_second / 1e6,
      status.compression_ratio(), status.resumes, status.connected ? "" : ", not connected");
  if (status.problem) text += "           " + *status.problem + "\n";
  return text;
}

nlohmann::ordered_json to_json(const ShipStatus& status) {
  return {{"stream", status.stream},
          {"subject", status.subject},
          {"format", name_of(status.format)},
          {"compression", name_of(status.compression)},
          {"connected", status.connected},
          {"shipped", status.shipped},
          {"journal_end", status.journal_end},
          {"lag_events", status.lag_events},
          {"lag_seconds", status.lag_seconds},
          {"events_per_second", status.events_per_second},
          {"messages_per_second", status.messages_per_second},
          {"wire_bytes_per_second", status.wire_bytes_per_second},
          {"compression_ratio", status.compression_ratio()},
          {"acknowledged", status.acknowledged},
          {"acknowledged_messages", status.acknowledged_messages},
          {"resumes", status.resumes},
          {"problem", status.problem ? nlohmann::ordered_json(*status.problem) : nullptr}};
}

std::string to_prometheus(const ShipStatus& status) {
  support::Exposition out;
  const std::string stream = fmt::format("stream=\"{}\"", support::label_value(status.stream));
  const auto metric = [&](std::string_view name, std::string_view type, std::string_view help,
                          auto value) {
    out.family(name, type, help);
    out.sample(name, stream, value);
  };
  metric("ringlog_ship_shipped_events_total", "counter",
         "Journal events the stream holds (the sequence number after the newest).",
         status.shipped);
  metric("ringlog_ship_messages_total", "counter",
         "Messages the stream acknowledged since the shipper started (blocks, or events).",
         status.acknowledged_messages);
  metric("ringlog_ship_bytes_total", "counter",
         "The acknowledged events' size in the journal's framing, before compression.",
         status.acknowledged_bytes);
  metric("ringlog_ship_wire_bytes_total", "counter",
         "The acknowledged messages' data as it travelled, compressed where it was.",
         status.acknowledged_wire_bytes);
  metric("ringlog_ship_events_per_second", "gauge",
         "Events the stream acknowledged per second, over the last second or so.",
         status.events_per_second);
  metric("ringlog_ship_messages_per_second", "gauge",
         "Messages the stream acknowledged per second, over the last second or so.",
         status.messages_per_second);
  metric("ringlog_ship_wire_bytes_per_second", "gauge",
         "Bytes that travelled per second, over the last second or so.",
         status.wire_bytes_per_second);
  metric("ringlog_ship_compression_ratio", "gauge",
         "Bytes before compression over bytes that travelled, since the start.",
         status.compression_ratio());
  metric("ringlog_ship_lag_events", "gauge", "Journal events not yet in the stream.",
         status.lag_events);
  metric("ringlog_ship_lag_seconds", "gauge",
         "How long the oldest event not yet in the stream has been in the journal.",
         status.lag_seconds);
  metric("ringlog_ship_resumes_total", "counter",
         "Times the shipper asked the stream where to go on after a failed publish.",
         status.resumes);
  metric("ringlog_ship_connected", "gauge", "1 while connected to a NATS server.",
         status.connected ? 1 : 0);
  return out.take();
}

}  // namespace ringlog::ship
