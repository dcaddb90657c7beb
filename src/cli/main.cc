// sandgate: the one binary. `serve` runs the server; every other subcommand works on the data
// directory through the same services as the HTTP API (same rules, same audit). Each subcommand
// group is registered from its own file (cli/commands.h, cli/lifecycle.h).
// Exit codes: 0 success, 1 the operation was refused or failed, 2 wrong arguments.
#include <sys/prctl.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/lifecycle.h"

using namespace sandgate;

int main(int argc, char** argv) {
#if !defined(__SANITIZE_ADDRESS__)
  prctl(PR_SET_DUMPABLE, 0);  // no core dumps or ptrace reads of key material (LSan needs ptrace)
#endif
  CLI::App app{"Sandgate: one Sandbox Submission API token per organization."};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  cli::CommonFlags flags;
  int rc = 0;
  const cli::Context ctx{&flags, &rc};

  // In the order --help lists them.
  cli::AddServeCommand(app, ctx);
  cli::AddInitCommand(app, ctx);
  cli::AddOrgCommands(app, ctx);
  cli::AddUserCommands(app, ctx);
  cli::AddMigrateCommand(app, ctx);
  cli::AddStoreCommands(app, ctx);
  cli::AddAuditCommands(app, ctx);
  cli::AddKeysCommands(app, ctx);
  cli::AddTokenCommands(app, ctx);
  cli::AddLifecycleCommands(app, ctx);  // config check, backup, restore
  cli::AddAvScanCommand(app, ctx);      // hidden from --help

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "error: " << e.what() << "\nRun with --help for usage.\n";
    return 2;
  }
  return rc;
}
