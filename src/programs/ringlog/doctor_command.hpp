// `ringlog doctor`: audits this host (or a copy of another's /proc and /sys) for a core pair and
// a journal path; see host_check.hpp for the items.
#pragma once

#include "programs/ringlog/host_check.hpp"

#include <vector>

#include <CLI/CLI.hpp>

#include <optional>

namespace ringlog::programs {

class DoctorCommand {
 public:
  explicit DoctorCommand(CLI::App& app);
  DoctorCommand(const DoctorCommand&) = delete;  // the command line points into it

  // 0 fit for production, 1 not fit, 2 could not check.
  std::optional<int> run() const;

 private:
  CLI::App* doctor_;
  HostCheckOptions options_;
  std::vector<int> cpus_;
  bool json_ = false;
};

}  // namespace ringlog::programs
