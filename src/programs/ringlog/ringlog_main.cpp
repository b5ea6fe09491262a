// ringlog: the journal service and its tools, one subcommand a file:
//   serve, check-config      serve_command.cpp     the journal service, and its configuration check
//   publish                  publish_command.cpp   a publisher of synthetic market data
//   status                   status_command.cpp    a running service's status
//   ship, fetch              ship_commands.cpp     journal → NATS JetStream, and back
//   dump, verify, tail       log_tools.cpp         reading journals and log files
//   doctor                   doctor_command.cpp    the host audit
//   (none)                   demo_command.cpp      the built-in demo
// main only builds the command line and runs the subcommand given.
#include "programs/ringlog/demo_command.hpp"
#include "programs/ringlog/doctor_command.hpp"
#include "programs/ringlog/log_tools.hpp"
#include "programs/ringlog/publish_command.hpp"
#include "programs/ringlog/serve_command.hpp"
#include "programs/ringlog/ship_commands.hpp"
#include "programs/ringlog/status_command.hpp"
#include "programs/stress/pipeline_options.hpp"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
  using namespace ringlog::programs;
  CLI::App app{"ringlog: low-latency event journal. Without a subcommand: the built-in "
               "market-data demo."};
  // Not const: the command line writes into them as it is parsed.
  ServeCommand serve(app);
  CheckConfigCommand check_config(app);
  PublishCommand publish(app);
  StatusCommand status(app);
  const ShipCommands ship(app);  // its options live behind a pointer
  LogToolCommands tools(app);
  DoctorCommand doctor(app);
  DemoCommand demo(app);
  if (const auto stop = parse_command_line(app, argc, argv)) return *stop;
  // Each runs only when it was the subcommand given.
  if (const auto exit_status = serve.run()) return *exit_status;
  if (const auto exit_status = check_config.run()) return *exit_status;
  if (const auto exit_status = publish.run()) return *exit_status;
  if (const auto exit_status = status.run()) return *exit_status;
  if (const auto exit_status = ship.run()) return *exit_status;
  if (const auto exit_status = tools.run()) return *exit_status;
  if (const auto exit_status = doctor.run()) return *exit_status;
  return demo.run();
}
