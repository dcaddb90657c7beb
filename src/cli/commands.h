// The CLI's subcommand groups, each registered on the app by main.cc in the order --help lists
// them. Each group keeps its options in its own struct, alive as long as the app.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/common.h"

namespace sandgate::cli {

void AddServeCommand(CLI::App& app, const Context& ctx);   // serve (serve_cmd.cc)
void AddOrgCommands(CLI::App& app, const Context& ctx);    // org ... (org_cmd.cc)
void AddUserCommands(CLI::App& app, const Context& ctx);   // user ... (user_cmd.cc)
void AddStoreCommands(CLI::App& app, const Context& ctx);  // store copy (store_cmd.cc)
void AddAuditCommands(CLI::App& app, const Context& ctx);  // audit verify (audit_cmd.cc)
void AddKeysCommands(CLI::App& app, const Context& ctx);   // keys ... (keys_cmd.cc)
void AddTokenCommands(CLI::App& app, const Context& ctx);  // token ... (token_cmd.cc)
void AddAvScanCommand(CLI::App& app, const Context& ctx);  // av-scan, hidden (serve_cmd.cc)
// init, migrate, config check, backup, restore: lifecycle.h.

}  // namespace sandgate::cli
