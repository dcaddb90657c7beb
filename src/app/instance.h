// Instance: one opened data directory — key file, store, services — shared by `serve` and every
// CLI subcommand, so the CLI goes through the same service code (same rules, same audit).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "service/services.h"
#include "store/store.h"
#include "token/keyring.h"

namespace sandgate::app {

struct Config {
  std::string data_dir = "./data";
  std::string key_file;  // default: <data>/sandgate.key
  std::string database;  // default: <data>/sandgate.db
  // The store: "" (SQLite at `database`), sqlite:PATH, or a PostgreSQL URL (postgres://...).
  std::string store;
  std::string log_file;  // default: <data>/sandgate.log
  std::string listen = "127.0.0.1:8080";
  std::string base_url;  // default: http://<bound listen address>
  // The provider's support contact shown to organizations (service::Settings).
  std::string support_name, support_email, support_url, support_phone;
  int threads = 0;
  std::string signatures_dir;  // default: the shipped share/signatures
  std::string rules_dir;       // default: the shipped share/rules
  bool rules_strict = false;   // a rule file that does not compile fails the load
  std::string rules_default_severity = "MODERATE";  // rules without severity/score
  std::string rules_cache_dir;            // compiled-rules cache; default <data>/rules-cache
  int analysis_workers = 2;               // threads running the YARA rules of submitted files
  int analysis_queue = 64;                // queued analyses beyond which submit answers 503
  std::string tls_cert;                   // PEM certificate chain; with tls_key: serve HTTPS
  std::string tls_key;                    // PEM private key
  int max_connections = 10000;            // open connections per listener
  int max_connections_per_address = 256;  // per client address (IPv6: per /64)
  // Unknown or malformed API tokens a client address may present per minute before the
  // Submission API answers it 429 for five minutes (brute-force protection).
  int invalid_token_limit = 20;
  // serve's remaining flags (every flag of `serve` has a key; `sandgate config check` prints them).
  std::string submission_listen;  // serve the Submission API on its own ADDR:PORT
  std::string web_dir;            // serve the portal from this directory (development)
  std::string node_id;            // this node's name on a shared PostgreSQL store
  bool demo = false;              // on an empty data directory, create a demo organization
  // Observability (README "Operating Sandgate").
  std::string log_format = "text";           // text | json
  bool metrics = true;                       // count and serve /metrics ("off": neither)
  std::string metrics_listen;                // serve /metrics on its own ADDR:PORT instead
  std::string metrics_bearer_file;           // file holding a bearer token /metrics requires
  std::vector<std::string> trusted_proxies;  // CIDRs whose X-Request-Id/X-Forwarded-For count
  // Webhooks (issue 20): address ranges webhook URLs may reach despite the SSRF guard.
  std::vector<std::string> webhook_allow_cidrs;
  // Leaked-token reports (issue 20): where the secret scanner's public keys come from (GitHub's
  // key document format). Neither set: POST /api/v1/secret-scanning/github answers 404.
  std::string secret_scanning_keys_file;
  std::string secret_scanning_keys_url;
  // A PEM file of extra certificate authorities webhook deliveries over https trust, besides the
  // system's (e.g. an internal CA); "" = the system's only.
  std::string webhook_ca_file;
};

// Reads a TOML config file into `cfg` (only keys present override). 400 CONFIG_INVALID on errors,
// naming the key or line.
Status LoadConfigFile(const std::string& path, Config* cfg);

// Opens a store by URL: sqlite:PATH (or sqlite://PATH, or a plain path) or postgres[ql]://...
// migrate: apply pending migrations (SQLite always does; PostgreSQL only when asked, otherwise an
// outdated schema is refused with 503 SCHEMA_OUTDATED).
Result<std::unique_ptr<store::Store>> OpenStoreUrl(const std::string& url, bool migrate);
bool IsPostgresUrl(const std::string& url);

class Instance {
 public:
  // Opens the data directory. create: make the directory (0700) and the key file when missing.
  static Result<std::unique_ptr<Instance>> Open(const Config& cfg, bool create);

  // Follow the change log from the point the index was loaded at: as node `node_id` among several
  // on PostgreSQL (a thread), or on SQLite so that the CLI's changes reach the index before the
  // next verification (Store::CatchUp). Call once, before serving.
  Status StartFollowing(const std::string& node_id);

  const Config& config() const { return cfg_; }
  service::Services& services() { return *services_; }
  std::shared_ptr<store::Store> store() { return store_; }
  std::shared_ptr<token::Keyring> keys() { return keys_; }

  // True when the store has no user yet (a fresh installation).
  Result<bool> Empty();
  // Creates the first provider admin; returns its one-time password.
  Result<std::string> CreateFirstAdmin(const std::string& username);

 private:
  Config cfg_;
  std::shared_ptr<store::Store> store_;
  std::shared_ptr<token::Keyring> keys_;
  std::unique_ptr<service::Services> services_;
  int64_t index_horizon_ = 0;  // the change log's end when the index was loaded
};

}  // namespace sandgate::app
