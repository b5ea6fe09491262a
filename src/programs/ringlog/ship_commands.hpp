// `ringlog ship` and `ringlog fetch`: their command lines and what they run.
#pragma once

#include "programs/ringlog/event_printer.hpp"

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>

namespace ringlog::ship {
struct ShipConfig;
}

namespace ringlog::programs {

class ShipCommands {
 public:
  // Adds both subcommands to `app`.
  explicit ShipCommands(CLI::App& app);
  ~ShipCommands();

  // The exit status of the subcommand given, or nullopt when neither was.
  std::optional<int> run() const;

 private:
  struct Options;
  int run_fetch(const ship::ShipConfig&) const;
  int report_fetched(EventPrinter& printer, std::uint64_t first, std::uint64_t end) const;
  int run_ship(ship::ShipConfig) const;

  std::unique_ptr<Options> options_;
  CLI::App* ship_ = nullptr;
  CLI::App* fetch_ = nullptr;
};

}  // namespace ringlog::programs
