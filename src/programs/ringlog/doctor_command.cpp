#include "programs/ringlog/doctor_command.hpp"

#include "placement/plan.hpp"

#include <fmt/format.h>

#include <cstdio>

namespace ringlog::programs {

namespace {

// `ringlog doctor`: 0 fit for production, 1 not fit, 2 could not check.
int run_doctor(HostCheckOptions options, const std::vector<int>& cpus, bool json) {
  if (cpus.empty() && options.root != "/") {
    fmt::print(stderr, "ringlog doctor: --root needs --cpus: this host's topology says nothing "
                       "about another's\n");
    return 2;
  }
  if (cpus.empty()) {
    const auto placement = ringlog::placement::plan({{}, options.journal_dir});
    if (!placement) {
      fmt::print(stderr, "ringlog doctor: {}\n", placement.error().message());
      return 2;
    }
    if (!placement->pair) {
      fmt::print(stderr, "ringlog doctor: this process may use only one CPU: a producer and a "
                         "consumer need two\n");
      return 2;
    }
    options.producer_cpu = placement->pair->producer_cpu;
    options.consumer_cpu = placement->pair->consumer_cpu;
  } else {
    options.producer_cpu = cpus[0];
    options.consumer_cpu = cpus[1];
  }
  const HostReport report = check_host(options);
  if (json) {
    print_host_report_json(report, stdout);
  } else {
    print_host_report(report, stdout);
  }
  return report.fit_for_production() ? 0 : 1;
}

}  // namespace

DoctorCommand::DoctorCommand(CLI::App& app)
    : doctor_(app.add_subcommand("doctor", "audit this host for a core pair and a journal "
                                           "path: PASS/WARN/FAIL per item with the fix; exit "
                                           "status 0 fit for production, 1 not fit, 2 could "
                                           "not check")) {
  options_.journal_dir = "ringlog-journal";
  doctor_->add_option("--cpus", cpus_, "the producer's and the consumer's CPU (default: the "
                      "pair ringlog would choose)")->delimiter(',')->expected(2);
  doctor_->add_option("--journal", options_.journal_dir, "journal directory (need not exist "
                      "yet)")->capture_default_str();
  doctor_->add_option("--ring-bytes", options_.ring_bytes, "ring capacity to plan hugepages "
                      "and locking for")->capture_default_str();
  doctor_->add_option("--root", options_.root, "read /proc and /sys under this directory: a "
                      "copy of another host's files (needs --cpus)");
  doctor_->add_flag("--json", json_, "one JSON object instead of text");
}

std::optional<int> DoctorCommand::run() const {
  if (!doctor_->parsed()) return std::nullopt;
  return run_doctor(options_, cpus_, json_);
}

}  // namespace ringlog::programs
