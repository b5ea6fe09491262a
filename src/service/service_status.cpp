// What `ringlog status` shows of a service: as text, JSON or Prometheus text exposition, and
// the client's side of asking for it.
#include "service/service.hpp"

#include "service_client/service_protocol.hpp"
#include "support/prometheus_exposition.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

namespace ringlog::service {

namespace {

// A bucket bound for a person: "≤ 2.5 ms", or "> 2.5 s" above the last.
std::string bound_text(std::uint64_t bound_ns) {
  if (bound_ns == std::numeric_limits<std::uint64_t>::max()) {
    return fmt::format("> {} s", double(latency_bounds_ns.back()) / 1e9);
  }
  return bound_ns >= 1'000'000'000 ? fmt::format("<= {} s", double(bound_ns) / 1e9)
         : bound_ns >= 1'000'000   ? fmt::format("<= {} ms", double(bound_ns) / 1e6)
                                   : fmt::format("<= {} us", double(bound_ns) / 1e3);
}

// A histogram as JSON: its count, sum and per-bucket (not cumulative) counts.
nlohmann::ordered_json histogram_json(const DurationCounts& counts) {
  nlohmann::ordered_json buckets = nlohmann::ordered_json::array();
  for (std::size_t bucket = 0; bucket < latency_bounds_ns.size(); ++bucket) {
    buckets.push_back({{"le_ns", latency_bounds_ns[bucket]}, {"count", counts.per_bucket[bucket]}});
  }
  buckets.push_back({{"le_ns", nullptr}, {"count", counts.per_bucket.back()}});
  return {{"count", counts.count}, {"sum_ns", counts.sum_ns}, {"buckets", std::move(buckets)}};
}

// The sampled events' stages: p50 and p99 of each that has any.
std::string stages_line(const ChannelStatus& c) {
  std::vector<std::string> stages;
  for (std::size_t stage = 0; stage < stage_count; ++stage) {
    const DurationCounts& counts = c.stages[stage];
    if (counts.count == 0) continue;
    stages.push_back(fmt::format("{} p50 {}, p99 {} ({})", stage_names[stage],
                                 bound_text(counts.bound_at(0.5)),
                                 bound_text(counts.bound_at(0.99)), counts.count));
  }
  if (stages.empty()) return "";
  return fmt::format("           {:<12} sampled: {}\n", "", fmt::join(stages, "; "));
}

std::string channel_line(const ChannelStatus& c) {
  const DurationCounts& latency = c.journaled_to_durable;
  const OverflowFigures& full = c.overflow;
  return fmt::format("  channel {:<12} {} publisher(s), {} journaled, {} durable since the "
                     "start{}\n"
                     "           {:<12} on a full ring: {}; {} waited ({} timed out), {} "
                     "failed, {} dropped\n",
                     c.name, c.publishers, c.journaled, c.durable,
                     latency.count == 0
                         ? std::string()
                         : fmt::format("; journaled -> durable p50 {}, p99 {}",
                                       bound_text(latency.bound_at(0.5)),
                                       bound_text(latency.bound_at(0.99))),
                     "", c.overflow_policy, full.waits, full.timeouts, full.failed,
                     full.dropped) +
         stages_line(c);
}

}  // namespace

std::string to_text(const ServiceStatus& status) {
  std::string text = fmt::format(
      "journal    next sequence {}, durable {} (lag {}), {} segment(s), {:.0f} events/s; {}\n"
      "placement  {}\npublishers {} attached now, {} attachments and {} refusals since the "
      "start\n",
      status.journal_next_sequence, status.journal_durable_sequence,
      status.journal_next_sequence - status.journal_durable_sequence, status.journal_segments,
      status.events_per_second, status.flush_backend, status.placement,
      status.publishers.size(), status.attaches, status.refusals);
  for (const ChannelStatus& c : status.channels) text += channel_line(c);
  for (const PublisherStatus& p : status.publishers) {
    text += fmt::format("  #{:<4} pid {:<8} uid {:<6} gid {:<6} channel {:<12} {:>12} journaled "
                        "{:>12} durable  ring {:.1f}% used{}\n",
                        p.id, p.peer.pid, p.peer.uid, p.peer.gid, p.channel, p.journaled,
                        p.durable,
                        100.0 * double(p.ring_used) /
                            double(std::max<std::size_t>(p.ring_bytes, 1)),
                        p.violation  ? "  (detached: broke its ring's protocol)"
                        : p.attached ? ""
                                     : "  (detached, draining)");
  }
  if (status.violations != 0) {
    text += fmt::format("violations {} publisher(s) detached for breaking their ring's protocol "
                        "since the start; the latest:\n",
                        status.violations);
    for (const ViolationStatus& v : status.latest_violations) {
      text += fmt::format("  #{:<4} pid {:<8} uid {:<6} gid {:<6} channel {:<12} {}\n", v.id,
                          v.peer.pid, v.peer.uid, v.peer.gid, v.channel, v.reason);
    }
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
                          {"pid", p.peer.pid},
                          {"uid", p.peer.uid},
                          {"gid", p.peer.gid},
                          {"channel", p.channel},
                          {"journaled", p.journaled},
                          {"durable", p.durable},
                          {"attached", p.attached},
                          {"ring_used", p.ring_used},
                          {"ring_bytes", p.ring_bytes},
                          {"violation", text_or_null(p.violation)}});
  }
  Json violations = Json::array();
  for (const ViolationStatus& v : status.latest_violations) {
    violations.push_back({{"id", v.id},
                          {"pid", v.peer.pid},
                          {"uid", v.peer.uid},
                          {"gid", v.peer.gid},
                          {"channel", v.channel},
                          {"reason", v.reason}});
  }
  Json channels = Json::array();
  for (const ChannelStatus& c : status.channels) {
    Json stages = Json::object();
    for (std::size_t stage = 0; stage < stage_count; ++stage) {
      stages[std::string(stage_names[stage])] = histogram_json(c.stages[stage]);
    }
    channels.push_back({{"name", c.name},
                        {"journaled", c.journaled},
                        {"durable", c.durable},
                        {"publishers", c.publishers},
                        {"ring_used", c.ring_used},
                        {"ring_bytes", c.ring_bytes},
                        {"overflow", {{"policy", c.overflow_policy},
                                      {"waits", c.overflow.waits},
                                      {"timeouts", c.overflow.timeouts},
                                      {"failed", c.overflow.failed},
                                      {"dropped", c.overflow.dropped}}},
                        {"journaled_to_durable", histogram_json(c.journaled_to_durable)},
                        {"stages", std::move(stages)},
                        {"violations", c.violations}});
  }
  const Json json = {{"latency_sample_every", status.latency_sample_every},
                     {"journal_next_sequence", status.journal_next_sequence},
                     {"journal_durable_sequence", status.journal_durable_sequence},
                     {"journal_segments", status.journal_segments},
                     {"events_per_second", status.events_per_second},
                     {"publisher_cpu", status.publisher_cpu < 0 ? Json(nullptr)
                                                                : Json(status.publisher_cpu)},
                     {"attaches", status.attaches},
                     {"refusals", status.refusals},
                     {"violations", status.violations},
                     {"latest_violations", std::move(violations)},
                     {"failure", text_or_null(status.failure)},
                     {"previous_failure", text_or_null(status.previous_failure)},
                     {"channels", std::move(channels)},
                     {"publishers", std::move(publishers)},
                     {"ship", status.ship ? to_json(*status.ship) : Json(nullptr)}};
  return json.dump() + "\n";
}

namespace {

using support::Exposition;
using support::label_value;

// A histogram's cumulative buckets, in seconds, with its _sum and _count.
void expose_histogram(Exposition& out, std::string_view name, const std::string& labels,
                      const DurationCounts& counts) {
  std::uint64_t cumulative = 0;
  for (std::size_t bucket = 0; bucket < latency_bounds_ns.size(); ++bucket) {
    cumulative += counts.per_bucket[bucket];
    out.sample(fmt::format("{}_bucket", name),
               fmt::format("{},le=\"{}\"", labels, double(latency_bounds_ns[bucket]) / 1e9),
               cumulative);
  }
  out.sample(fmt::format("{}_bucket", name), fmt::format("{},le=\"+Inf\"", labels),
             counts.count);
  out.sample(fmt::format("{}_sum", name), labels, double(counts.sum_ns) / 1e9);
  out.sample(fmt::format("{}_count", name), labels, counts.count);
}

// A family with one sample per channel: per_channel(name, type, help, value of a channel).
auto channel_family(Exposition& out, const ServiceStatus& status) {
  return [&out, &status](std::string_view name, std::string_view type, std::string_view help,
                         auto value) {
    out.family(name, type, help);
    for (const ChannelStatus& c : status.channels) {
      out.sample(name, fmt::format("channel=\"{}\"", label_value(c.name)), value(c));
    }
  };
}

void expose_overflow(Exposition& out, const ServiceStatus& status) {
  const auto per_channel = channel_family(out, status);
  per_channel("ringlog_publisher_overflow_waits_total", "counter",
              "Writes that found the ring full and waited for room (overflow policy block).",
              [](const ChannelStatus& c) { return c.overflow.waits; });
  per_channel("ringlog_publisher_overflow_timeouts_total", "counter",
              "Of the writes that waited, those given up at the channel's deadline.",
              [](const ChannelStatus& c) { return c.overflow.timeouts; });
  per_channel("ringlog_publisher_overflow_failed_total", "counter",
              "Writes refused at once on a full ring (overflow policy fail).",
              [](const ChannelStatus& c) { return c.overflow.failed; });
  per_channel("ringlog_publisher_overflow_dropped_total", "counter",
              "Events dropped on a full ring, each counted in a drop marker (policy drop).",
              [](const ChannelStatus& c) { return c.overflow.dropped; });
}

void expose_stages(Exposition& out, const ServiceStatus& status) {
  out.family("ringlog_publisher_stage_latency_seconds", "histogram",
             "Sampled events of this channel, timed from their publisher's TSC stamp at commit "
             "through each stage: commit_to_journaled, journaled_to_durable, durable_to_shipped.");
  for (const ChannelStatus& c : status.channels) {
    for (std::size_t stage = 0; stage < stage_count; ++stage) {
      expose_histogram(out, "ringlog_publisher_stage_latency_seconds",
                    fmt::format("channel=\"{}\",stage=\"{}\"", label_value(c.name),
                                stage_names[stage]),
                    c.stages[stage]);
    }
  }
}

void expose_channels(Exposition& out, const ServiceStatus& status) {
  const auto per_channel = channel_family(out, status);
  // Series by channel, which outlive the processes that publish on them; the process behind
  // each attachment is in ringlog_publisher_info.
  per_channel("ringlog_publisher_journaled_events_total", "counter",
              "Events of this channel's publishers drained into the journal since the start.",
              [](const ChannelStatus& c) { return c.journaled; });
  per_channel("ringlog_publisher_durable_events_total", "counter",
              "Events of this channel's publishers made durable since the start.",
              [](const ChannelStatus& c) { return c.durable; });
  per_channel("ringlog_publisher_attached", "gauge",
              "Publishers attached to this channel now.",
              [](const ChannelStatus& c) { return c.publishers; });
  per_channel("ringlog_publisher_ring_used_bytes", "gauge",
              "Bytes written into this channel's rings and not yet drained.",
              [](const ChannelStatus& c) { return c.ring_used; });
  per_channel("ringlog_publisher_ring_capacity_bytes", "gauge",
              "The size of this channel's rings together.",
              [](const ChannelStatus& c) { return c.ring_bytes; });
  per_channel("ringlog_publisher_violations_total", "counter",
              "Publishers of this channel detached for breaking their ring's protocol.",
              [](const ChannelStatus& c) { return c.violations; });
  out.family("ringlog_publisher_durable_latency_seconds", "histogram",
             "From the drain that journaled a batch of this channel's events to the flush that "
             "made it durable.");
  for (const ChannelStatus& c : status.channels) {
    expose_histogram(out, "ringlog_publisher_durable_latency_seconds",
                  fmt::format("channel=\"{}\"", label_value(c.name)), c.journaled_to_durable);
  }
  out.family("ringlog_channel_info", "gauge",
             "1 for each configured channel, labelled with its publishers' overflow policy.");
  for (const ChannelStatus& c : status.channels) {
    out.sample("ringlog_channel_info",
               fmt::format("channel=\"{}\",overflow=\"{}\"", label_value(c.name),
                           c.overflow_policy),
               1);
  }
  out.family("ringlog_publisher_info", "gauge",
             "1 for each publisher attached now, or detached and still being drained: its "
             "attachment id, process and user.");
  for (const PublisherStatus& p : status.publishers) {
    out.sample("ringlog_publisher_info",
               fmt::format("channel=\"{}\",id=\"{}\",pid=\"{}\",uid=\"{}\",gid=\"{}\"",
                           label_value(p.channel), p.id, p.peer.pid, p.peer.uid, p.peer.gid),
               1);
  }
}

}  // namespace

std::string to_prometheus(const ServiceStatus& status) {
  Exposition out;
  out.single("ringlog_journal_events_total", "counter",
             "Events appended to the journal (its next sequence).", status.journal_next_sequence);
  out.single("ringlog_journal_durable_events_total", "counter",
             "Events the journal has made durable (its durable sequence).",
             status.journal_durable_sequence);
  out.single("ringlog_journal_segments", "gauge", "Segment files in the journal's directory.",
             status.journal_segments);
  out.single("ringlog_attaches_total", "counter", "Publisher attachments since the start.",
             status.attaches);
  out.single("ringlog_refusals_total", "counter", "Attachments refused since the start.",
             status.refusals);
  out.single("ringlog_failed", "gauge", "1 when the journal stopped taking events.",
             status.failure ? 1 : 0);
  expose_channels(out, status);
  expose_overflow(out, status);
  expose_stages(out, status);
  std::string text = out.take();
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

}  // namespace ringlog::service
