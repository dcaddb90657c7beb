// The CLI's lifecycle subcommands (issue 17): `init`, `migrate` (and its `--dry-run` report),
// `config check`, `backup`, `restore`. Registered by main.cc.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "app/instance.h"
#include "cli/common.h"
#include "common/status.h"

namespace sandgate::cli {

// init: the data directory, the key file and the first provider admin.
void AddInitCommand(CLI::App& app, const Context& ctx);

// migrate [--dry-run].
void AddMigrateCommand(CLI::App& app, const Context& ctx);

// config check, backup, restore.
void AddLifecycleCommands(CLI::App& app, const Context& ctx);

// Prints each effective setting of `cfg` as `key = value` (TOML), secrets masked.
void PrintEffectiveConfig(const app::Config& cfg, std::ostream& out);

// `migrate --dry-run`: prints the store's schema version and the migrations this build would
// apply, without applying them. 0 when it could read the version.
int MigrateDryRun(const std::string& url, const std::function<int(const Status&)>& fail);

}  // namespace sandgate::cli
