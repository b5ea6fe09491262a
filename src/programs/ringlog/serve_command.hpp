// `ringlog serve` runs the journal service; `ringlog check-config` checks a configuration as
// serve checks it before it starts, through the same function, so that the two cannot drift.
#pragma once

#include "service/service_config.hpp"

#include <filesystem>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include <optional>

namespace ringlog::programs {

// The configuration at `path` (without one, the defaults), with `schema` for [journal] schema
// when one is given, checked as `ringlog serve` checks it before it starts. Nothing, after
// saying why on stderr (as `ringlog <command>`), when it will not do.
std::optional<service::ServiceConfig> checked_config(const std::filesystem::path& path,
                                                     std::string_view command,
                                                     const std::filesystem::path& schema = {});

class ServeCommand {
 public:
  explicit ServeCommand(CLI::App& app);
  ServeCommand(const ServeCommand&) = delete;  // the command line points into it

  // 0 after a clean stop, 1 when the journal failed, 2 when it could not start; nothing when
  // another subcommand was given.
  std::optional<int> run() const;

 private:
  CLI::App* serve_;
  std::filesystem::path config_path_;
  std::filesystem::path schema_path_;
  double seconds_ = 0;
  std::filesystem::path log_path_;
  std::string log_format_ = "text";
};

class CheckConfigCommand {
 public:
  explicit CheckConfigCommand(CLI::App& app);
  CheckConfigCommand(const CheckConfigCommand&) = delete;

  // 0 valid (the configuration is printed, every key with its value), 2 not.
  std::optional<int> run() const;

 private:
  CLI::App* check_config_;
  std::filesystem::path config_path_;
};

}  // namespace ringlog::programs
