// The CLI's lifecycle subcommands (issue 17): `config check`, `backup`, `restore`, and the
// `migrate --dry-run` report. Registered by main.cc; they use its flag handling through the hooks.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "app/instance.h"
#include "common/status.h"

namespace sandgate::cli {

struct LifecycleHooks {
  std::function<void(CLI::App*)> add_common;     // --config, --data, --key-file, --store
  std::function<Result<app::Config>()> resolve;  // flags over the config file
  std::function<int(const Status&)> fail;        // prints the error, returns 1
};

void AddLifecycleCommands(CLI::App& app, int* rc, LifecycleHooks hooks);

// Prints each effective setting of `cfg` as `key = value` (TOML), secrets masked.
void PrintEffectiveConfig(const app::Config& cfg, std::ostream& out);

// `migrate --dry-run`: prints the store's schema version and the migrations this build would
// apply, without applying them. 0 when it could read the version.
int MigrateDryRun(const std::string& url, const std::function<int(const Status&)>& fail);

}  // namespace sandgate::cli
