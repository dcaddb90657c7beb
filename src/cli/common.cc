#include "cli/common.h"

#include <iostream>
#include <optional>

#include "common/clock.h"
#include "http/request_id.h"
#include "token/token_format.h"

namespace sandgate::cli {
namespace {

std::string Iso(std::optional<TimeMs> t) { return t ? FormatIso8601(*t) : "-"; }

void PrintOrg(const service::TokenView& v) {
  std::cout << "id:            " << v.org.id << "\n"
            << "name:          " << v.org.name << "\n"
            << "subscription:  " << domain::ToString(v.subscription) << " (ends "
            << Iso(v.org.ends_at) << ")\n"
            << "token:         " << (v.token ? token::Mask(v.token->last4) : std::string("none"))
            << "\n"
            << "status:        " << domain::ToString(v.status.status);
  if (v.status.reason != domain::StatusReason::kNone)
    std::cout << " (" << domain::ToString(v.status.reason) << ")";
  std::cout << "\n";
  if (v.org.provider_disabled)
    std::cout << "disabled:      " << domain::ToString(v.org.disable_reason) << " "
              << v.org.disable_note << "\n";
  if (v.token)
    std::cout << "last modified: " << v.token->last_modified_by << " at "
              << FormatIso8601(v.token->last_modified_on) << "\n";
  std::cout << "leak policy:   " << domain::ToString(v.leak.policy) << "\n";
  if (v.leak.reported_at)
    std::cout << "leak report:   " << v.leak.action << " " << v.leak.token_last4 << " at "
              << FormatIso8601(*v.leak.reported_at) << ": " << v.leak.url << "\n";
}

}  // namespace

int Fail(const Status& st) {
  std::cerr << "error: " << st.message() << " (" << st.code() << ")\n";
  return 1;
}

Result<app::Config> ResolveConfig(const CommonFlags& c) {
  app::Config cfg;
  if (!c.config_file.empty()) {
    Status st = app::LoadConfigFile(c.config_file, &cfg);
    if (!st.ok()) return st;
  }
  if (!c.data.empty()) cfg.data_dir = c.data;
  if (!c.listen.empty()) cfg.listen = c.listen;
  if (!c.base_url.empty()) cfg.base_url = c.base_url;
  if (!c.key_file.empty()) cfg.key_file = c.key_file;
  if (!c.store.empty()) cfg.store = c.store;
  if (c.threads) cfg.threads = c.threads;
  if (!c.signatures_dir.empty()) cfg.signatures_dir = c.signatures_dir;
  if (!c.rules_dir.empty()) cfg.rules_dir = c.rules_dir;
  if (c.rules_strict) cfg.rules_strict = true;
  if (!c.rules_default_severity.empty()) cfg.rules_default_severity = c.rules_default_severity;
  if (!c.rules_cache_dir.empty()) cfg.rules_cache_dir = c.rules_cache_dir;
  if (c.analysis_workers >= 0) cfg.analysis_workers = c.analysis_workers;
  if (c.analysis_queue >= 0) cfg.analysis_queue = c.analysis_queue;
  if (c.invalid_token_limit > 0) cfg.invalid_token_limit = c.invalid_token_limit;
  if (!c.tls_cert.empty()) cfg.tls_cert = c.tls_cert;
  if (!c.tls_key.empty()) cfg.tls_key = c.tls_key;
  if (c.max_connections > 0) cfg.max_connections = c.max_connections;
  if (c.max_connections_per_address > 0)
    cfg.max_connections_per_address = c.max_connections_per_address;
  if (!c.submission_listen.empty()) cfg.submission_listen = c.submission_listen;
  if (!c.web_dir.empty()) cfg.web_dir = c.web_dir;
  if (!c.node_id.empty()) cfg.node_id = c.node_id;
  if (!c.log_file.empty()) cfg.log_file = c.log_file;
  if (!c.log_format.empty()) cfg.log_format = c.log_format;
  if (!c.metrics.empty()) cfg.metrics = c.metrics == "on";
  if (!c.metrics_listen.empty()) cfg.metrics_listen = c.metrics_listen;
  if (!c.metrics_bearer_file.empty()) cfg.metrics_bearer_file = c.metrics_bearer_file;
  if (!c.trusted_proxies.empty()) cfg.trusted_proxies = c.trusted_proxies;
  if (!c.webhook_allow_cidrs.empty()) cfg.webhook_allow_cidrs = c.webhook_allow_cidrs;
  if (!c.secret_scanning_keys_file.empty())
    cfg.secret_scanning_keys_file = c.secret_scanning_keys_file;
  if (!c.secret_scanning_keys_url.empty())
    cfg.secret_scanning_keys_url = c.secret_scanning_keys_url;
  if (!c.webhook_ca_file.empty()) cfg.webhook_ca_file = c.webhook_ca_file;
  return cfg;
}

void AddCommon(CLI::App* cmd, CommonFlags& c, bool server_flags) {
  cmd->add_option("--config", c.config_file, "TOML config file")->check(CLI::ExistingFile);
  cmd->add_option("--data", c.data, "Data directory (default ./data)");
  cmd->add_option("--key-file", c.key_file, "Key file (default <data>/sandgate.key)");
  cmd->add_option("--store", c.store,
                  "Store URL: sqlite:PATH (default <data>/sandgate.db) or postgres://...");
  if (server_flags) {
    cmd->add_option("--node-id", c.node_id,
                    "This node's name among several on one PostgreSQL (default host-pid-random)");
    cmd->add_option("--signatures-dir", c.signatures_dir, "ClamAV signature directory");
    cmd->add_option("--rules-dir", c.rules_dir, "YARA rules directory");
    cmd->add_flag("--rules-strict", c.rules_strict,
                  "Refuse to start (or reload) when a rule file does not compile, instead of "
                  "skipping it");
    cmd->add_option("--rules-default-severity", c.rules_default_severity,
                    "Risk of rules without severity or score meta (default MODERATE)")
        ->check(CLI::IsMember({"LOW", "MODERATE", "HIGH"}));
    cmd->add_option("--rules-cache-dir", c.rules_cache_dir,
                    "Compiled-rules cache (default <data>/rules-cache)");
    cmd->add_option("--submission-listen", c.submission_listen,
                    "Serve the Submission API (/zscsb) on its own ADDR:PORT instead");
    cmd->add_option("--web-dir", c.web_dir, "Serve the portal from this directory (development)");
    cmd->add_option("--analysis-workers", c.analysis_workers, "Threads running the YARA rules")
        ->check(CLI::Range(1, 64));
    cmd->add_option("--analysis-queue", c.analysis_queue,
                    "Queued analyses beyond which submit answers 503")
        ->check(CLI::Range(0, 100000));
    cmd->add_option("--invalid-token-limit", c.invalid_token_limit,
                    "Invalid API tokens per client address per minute before 429 (default 20)")
        ->check(CLI::Range(1, 1000000000));
  }
  if (server_flags) {
    cmd->add_option("--listen", c.listen, "ADDR:PORT to listen on (default 127.0.0.1:8080)");
    cmd->add_option("--base-url", c.base_url, "Submission API base URL shown on the token page");
    cmd->add_option("--threads", c.threads, "I/O threads (default: one per core)")
        ->check(CLI::Range(0, 256));
    cmd->add_option("--tls-cert", c.tls_cert,
                    "PEM certificate chain; with --tls-key, serve HTTPS (TLS 1.2+) on every "
                    "listener");
    cmd->add_option("--tls-key", c.tls_key, "PEM private key for --tls-cert");
    cmd->add_option("--max-connections", c.max_connections,
                    "Open connections per listener (default 10000)")
        ->check(CLI::Range(1, 1000000));
    cmd->add_option("--max-connections-per-address", c.max_connections_per_address,
                    "Open connections per client address, IPv6 per /64 (default 256)")
        ->check(CLI::Range(1, 1000000));
    cmd->add_option("--log-file", c.log_file,
                    "Log file (default <data>/sandgate.log); - logs to standard output only");
    cmd->add_option("--log-format", c.log_format, "text (default) or json (one object per line)")
        ->check(CLI::IsMember({"text", "json"}));
    cmd->add_option("--metrics", c.metrics,
                    "on (default): count and serve GET /metrics; off: neither (cost comparison)")
        ->check(CLI::IsMember({"on", "off"}));
    cmd->add_option("--metrics-listen", c.metrics_listen,
                    "Serve /metrics on its own ADDR:PORT instead of the main listener");
    cmd->add_option("--secret-scanning-keys-file", c.secret_scanning_keys_file,
                    "Public keys of the secret scanner (GitHub's format) that sign leaked-token "
                    "reports to /api/v1/secret-scanning/github")
        ->check(CLI::ExistingFile);
    cmd->add_option("--secret-scanning-keys-url", c.secret_scanning_keys_url,
                    "Fetch those keys from this URL (e.g. "
                    "https://api.github.com/meta/public_keys/secret_scanning)");
    cmd->add_option("--metrics-bearer-file", c.metrics_bearer_file,
                    "File holding a bearer token that GET /metrics then requires")
        ->check(CLI::ExistingFile);
    cmd->add_option("--trusted-proxy", c.trusted_proxies,
                    "CIDR of a proxy whose X-Request-Id and X-Forwarded-For are believed "
                    "(repeatable)")
        ->check(CLI::Validator(
            [](std::string& s) {
              return http::ParseCidr(s) ? std::string() : "not a CIDR (e.g. 10.0.0.0/8): " + s;
            },
            "CIDR"));
    cmd->add_option("--webhook-allow-cidr", c.webhook_allow_cidrs,
                    "CIDR webhook URLs may reach despite the private-address guard (repeatable)")
        ->check(CLI::Validator(
            [](std::string& s) {
              return http::ParseCidr(s) ? std::string() : "not a CIDR (e.g. 10.0.0.0/8): " + s;
            },
            "CIDR"));
    cmd->add_option("--webhook-ca-file", c.webhook_ca_file,
                    "PEM file of extra certificate authorities https webhook deliveries trust "
                    "(besides the system's)")
        ->check(CLI::ExistingFile);
  }
}

void AddCommonWithOrg(CLI::App* cmd, const Context& ctx, int64_t* org_id) {
  AddCommon(cmd, *ctx.flags, false);
  cmd->add_option("ORG_ID", *org_id, "Organization id")->required()->check(CLI::PositiveNumber);
}

Result<std::unique_ptr<app::Instance>> OpenInstance(const CommonFlags& c, bool create) {
  auto cfg = ResolveConfig(c);
  if (!cfg.ok()) return cfg.status();
  return app::Instance::Open(cfg.value(), create);
}

std::function<void()> OnInstance(const Context& ctx, std::function<int(app::Instance&)> fn) {
  return [ctx, fn = std::move(fn)] {
    auto opened = OpenInstance(*ctx.flags, false);
    if (!opened.ok()) {
      *ctx.rc = Fail(opened.status());
      return;
    }
    *ctx.rc = fn(**opened);
  };
}

int PrintResult(const Result<service::TokenView>& r) {
  if (!r.ok()) return Fail(r.status());
  PrintOrg(r.value());
  return 0;
}
}  // namespace sandgate::cli
