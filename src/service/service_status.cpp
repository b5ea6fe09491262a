// What `ringlog status` shows of a service: as text, JSON or Prometheus text exposition, and
// the client's side of asking for it.
#include "service/service.hpp"

#include "service/service_protocol.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>

namespace ringlog::app {

std::string to_text(const ServiceStatus& status) {
  std::string text = fmt::format(
      "journal    next sequence {}, durable {} (lag {}), {} segment(s), {:.0f} events/s; {}\n"
      "placement  {}\npublishers {} attached now, {} attachments and {} refusals since the "
      "start\n",
      status.journal_next_sequence, status.journal_durable_sequence,
      status.journal_next_sequence - status.journal_durable_sequence, status.journal_segments,
      status.events_per_second, status.flush_backend, status.placement,
      status.publishers.size(), status.attaches, status.refusals);
  for (const PublisherStatus& p : status.publishers) {
    text += fmt::format("  #{:<4} pid {:<8} channel {:<12} {:>12} journaled {:>12} durable  "
                        "ring {:.1f}% used{}\n",
                        p.id, p.pid, p.channel, p.journaled, p.durable,
                        100.0 * double(p.ring_used) /
                            double(std::max<std::size_t>(p.ring_bytes, 1)),
                        p.attached ? "" : "  (detached, draining)");
  }
  if (status.ship) text += to_text(*status.ship);
  if (status.failure) text += "FAILED     " + *status.failure + "\n";
  if (status.previous_failure) {
    text += "previously FAILED (an earlier run): " + *status.previous_failure + "\n";
  }
  return text;
}

std::string to_json(const ServiceStatus& status) {
  using Json = nlohmann::ordered_json;
  const auto text_or_null = [](const std::optional<std::string>& text) {
    return text ? Json(*text) : Json(nullptr);
  };
  Json publishers = Json::array();
  for (const PublisherStatus& p : status.publishers) {
    publishers.push_back({{"id", p.id},
                          {"pid", p.pid},
                          {"channel", p.channel},
                          {"journaled", p.journaled},
                          {"durable", p.durable},
                          {"attached", p.attached},
                          {"ring_used", p.ring_used},
                          {"ring_bytes", p.ring_bytes}});
  }
  const Json json = {{"journal_next_sequence", status.journal_next_sequence},
                     {"journal_durable_sequence", status.journal_durable_sequence},
                     {"journal_segments", status.journal_segments},
                     {"events_per_second", status.events_per_second},
                     {"attaches", status.attaches},
                     {"refusals", status.refusals},
                     {"failure", text_or_null(status.failure)},
                     {"previous_failure", text_or_null(status.previous_failure)},
                     {"publishers", std::move(publishers)},
                     {"ship", status.ship ? to_json(*status.ship) : Json(nullptr)}};
  return json.dump() + "\n";
}

std::string to_prometheus(const ServiceStatus& status) {
  std::string text;
  const auto metric = [&](std::string_view name, std::string_view type, std::string_view help) {
    text += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  metric("ringlog_journal_events", "counter", "Events appended to the journal (next sequence).");
  text += fmt::format("ringlog_journal_events {}\n", status.journal_next_sequence);
  metric("ringlog_journal_durable_events", "counter", "Events the journal has made durable.");
  text += fmt::format("ringlog_journal_durable_events {}\n", status.journal_durable_sequence);
  metric("ringlog_journal_segments", "gauge", "Segment files in the journal's directory.");
  text += fmt::format("ringlog_journal_segments {}\n", status.journal_segments);
  metric("ringlog_attaches", "counter", "Publisher attachments since the start.");
  text += fmt::format("ringlog_attaches {}\n", status.attaches);
  metric("ringlog_refusals", "counter", "Attachments refused since the start.");
  text += fmt::format("ringlog_refusals {}\n", status.refusals);
  metric("ringlog_failed", "gauge", "1 when the journal stopped taking events.");
  text += fmt::format("ringlog_failed {}\n", status.failure ? 1 : 0);
  const auto per_publisher = [&](std::string_view name, std::string_view type,
                                 std::string_view help, auto value) {
    metric(name, type, help);
    for (const PublisherStatus& p : status.publishers) {
      text += fmt::format("{}{{id=\"{}\",channel=\"{}\",pid=\"{}\"}} {}\n", name, p.id,
                          p.channel, p.pid, value(p));
    }
  };
  per_publisher("ringlog_publisher_journaled_events", "counter",
                "Events of this publisher in the journal.",
                [](const PublisherStatus& p) { return p.journaled; });
  per_publisher("ringlog_publisher_durable_events", "counter",
                "Events of this publisher made durable.",
                [](const PublisherStatus& p) { return p.durable; });
  per_publisher("ringlog_publisher_ring_used_bytes", "gauge",
                "Bytes written into this publisher's ring and not yet drained.",
                [](const PublisherStatus& p) { return p.ring_used; });
  if (status.ship) text += to_prometheus(*status.ship);
  return text;
}

std::expected<std::string, Error> query_status(const std::filesystem::path& runtime_dir,
                                               const std::string& name,
                                               const std::string& format) {
  const std::filesystem::path path = service::detail::socket_path(runtime_dir, name);
  auto connection = service::detail::connect_to(path);
  if (!connection) return std::unexpected(connection.error());
  const int socket = connection->fd;
  const auto fail = [&](Error why) {
    ::close(socket);
    return std::unexpected(std::move(why));
  };
  if (connection->connect_error != 0) {
    return fail(Error::from_os(connection->connect_error,
                               fmt::format("cannot reach the ringlog service at {}",
                                           path.string())));
  }
  if (const int error = service::detail::send_message(socket, "status " + format); error != 0) {
    return fail(Error::from_os(error, fmt::format("status request to {}", path.string())));
  }
  auto reply = service::detail::receive_message(socket);
  if (!reply || !*reply) {
    return fail(Error::because(SetupErrc::service_unreachable,
                               fmt::format("no status from {}", path.string())));
  }
  ::close(socket);
  if ((*reply)->text.starts_with("refused ")) {
    return std::unexpected(Error::because(SetupErrc::service_refused, (*reply)->text.substr(8)));
  }
  return std::move((*reply)->text);
}

}  // namespace ringlog::app
