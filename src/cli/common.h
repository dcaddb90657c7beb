// What the CLI's subcommands share: the common flags (--config, --data, ... and serve's), their
// resolution over the config file, the error line, and opening the data directory.
// Exit codes: 0 success, 1 the operation was refused or failed, 2 wrong arguments.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app/instance.h"
#include "common/status.h"
#include "service/services.h"

namespace sandgate::cli {

// Flags shared by subcommands; a non-empty flag overrides the config file.
struct CommonFlags {
  std::string config_file;
  std::string data, listen, base_url, key_file, signatures_dir, rules_dir;
  std::string submission_listen, web_dir;
  bool rules_strict = false;
  std::string rules_default_severity, rules_cache_dir;
  std::string store, node_id;
  std::string tls_cert, tls_key;
  int threads = 0;
  int max_connections = 0, max_connections_per_address = 0;  // 0: not given
  int analysis_workers = -1, analysis_queue = -1;            // -1: not given
  int invalid_token_limit = 0;                               // 0: not given
  std::string log_file, log_format, metrics, metrics_listen, metrics_bearer_file;
  std::vector<std::string> trusted_proxies;
  std::vector<std::string> webhook_allow_cidrs;
  std::string secret_scanning_keys_file, secret_scanning_keys_url;
  std::string webhook_ca_file;
};

// What every registration gets: the one set of common flags (only one subcommand runs) and the
// exit code the chosen subcommand's callback sets. Both outlive the app's parse.
struct Context {
  CommonFlags* flags;
  int* rc;
};

// Prints `error: <message> (<code>)` to stderr; returns 1.
int Fail(const Status& st);

// The config file (--config), then the flags over it.
Result<app::Config> ResolveConfig(const CommonFlags& c);

// --config, --data, --key-file, --store; with server_flags also every flag of `serve`.
void AddCommon(CLI::App* cmd, CommonFlags& c, bool server_flags);

// AddCommon(cmd, ctx, false) and the required positional ORG_ID into *org_id.
void AddCommonWithOrg(CLI::App* cmd, const Context& ctx, int64_t* org_id);

Result<std::unique_ptr<app::Instance>> OpenInstance(const CommonFlags& c, bool create);

// A subcommand callback: opens the data directory (never creating it) and sets the exit code to
// fn's answer (to 1, with the error printed, when it cannot open).
std::function<void()> OnInstance(const Context& ctx, std::function<int(app::Instance&)> fn);

// An organization and its token status, as `org show` prints it; the error when !r.ok().
int PrintResult(const Result<service::TokenView>& r);

}  // namespace sandgate::cli
