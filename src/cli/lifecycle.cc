#include "cli/lifecycle.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <iostream>
#include <memory>
#include <ostream>

#include "analysis/engine.h"
#include "app/backup.h"
#include "store/pg_store.h"
#include "store/sqlite_store.h"

namespace sandgate::cli {
namespace {

// postgres://user:password@host/db -> postgres://user:****@host/db; a password=... parameter too.
std::string MaskUrl(const std::string& url) {
  std::string out = url;
  const size_t scheme = out.find("://");
  const size_t at = out.find('@', scheme == std::string::npos ? 0 : scheme + 3);
  if (scheme != std::string::npos && at != std::string::npos) {
    const size_t colon = out.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "****");
  }
  for (size_t p = out.find("password="); p != std::string::npos; p = out.find("password=", p + 1)) {
    size_t end = out.find_first_of("& ", p);
    out.replace(p + 9, (end == std::string::npos ? out.size() : end) - p - 9, "****");
  }
  return out;
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

Status Validate(const app::Config& cfg) {
  if (cfg.tls_cert.empty() != cfg.tls_key.empty())
    return Status::Invalid("CONFIG_INVALID", "tls_cert and tls_key go together: set both or none.");
  for (const auto& [key, addr] : {std::pair<const char*, const std::string&>{"listen", cfg.listen},
                                  {"submission_listen", cfg.submission_listen}}) {
    if (addr.empty() && std::string(key) == "submission_listen") continue;
    const size_t colon = addr.rfind(':');
    if (colon == std::string::npos || colon + 1 == addr.size() ||
        addr.find_first_not_of("0123456789", colon + 1) != std::string::npos)
      return Status::Invalid("CONFIG_INVALID", std::string("Config key '") + key +
                                                   "' must be ADDR:PORT, e.g. 127.0.0.1:8080.");
  }
  if (!cfg.store.empty() && !app::IsPostgresUrl(cfg.store) &&
      cfg.store.find("://") != std::string::npos && cfg.store.rfind("sqlite://", 0) != 0)
    return Status::Invalid("CONFIG_INVALID",
                           "Config key 'store' must be sqlite:PATH or postgres://...");
  return Status::Ok();
}

}  // namespace

void PrintEffectiveConfig(const app::Config& in, std::ostream& out) {
  app::Config cfg = in;
  if (cfg.key_file.empty()) cfg.key_file = cfg.data_dir + "/sandgate.key";
  if (cfg.database.empty()) cfg.database = cfg.data_dir + "/sandgate.db";
  if (cfg.log_file.empty()) cfg.log_file = cfg.data_dir + "/sandgate.log";
  const analysis::EngineConfig ec;
  if (cfg.signatures_dir.empty()) cfg.signatures_dir = ec.signatures_dir;
  if (cfg.rules_dir.empty()) cfg.rules_dir = ec.rules_dir;
  auto s = [&](const char* k, const std::string& v) { out << k << " = " << Quote(v) << "\n"; };
  auto i = [&](const char* k, int64_t v) { out << k << " = " << v << "\n"; };
  s("data", cfg.data_dir);
  s("listen", cfg.listen);
  s("submission_listen", cfg.submission_listen);
  s("base_url", cfg.base_url);
  s("support_name", cfg.support_name);
  s("support_email", cfg.support_email);
  s("support_url", cfg.support_url);
  s("support_phone", cfg.support_phone);
  s("key_file", cfg.key_file);
  s("database", cfg.database);
  s("store", MaskUrl(cfg.store));
  s("node_id", cfg.node_id);
  s("log_file", cfg.log_file);
  i("threads", cfg.threads);
  s("tls_cert", cfg.tls_cert);
  s("tls_key", cfg.tls_key);
  i("max_connections", cfg.max_connections);
  i("max_connections_per_address", cfg.max_connections_per_address);
  s("signatures_dir", cfg.signatures_dir);
  s("rules_dir", cfg.rules_dir);
  i("analysis_workers", cfg.analysis_workers);
  i("analysis_queue", cfg.analysis_queue);
  i("invalid_token_limit", cfg.invalid_token_limit);
  s("web_dir", cfg.web_dir);
  out << "demo = " << (cfg.demo ? "true" : "false") << "\n";
  out << "rules_strict = " << (cfg.rules_strict ? "true" : "false") << "\n";
  s("rules_default_severity", cfg.rules_default_severity);
  s("rules_cache_dir",
    cfg.rules_cache_dir.empty() ? cfg.data_dir + "/rules-cache" : cfg.rules_cache_dir);
  s("log_format", cfg.log_format);
  s("metrics", cfg.metrics ? "on" : "off");
  s("metrics_listen", cfg.metrics_listen);
  s("metrics_bearer_file", cfg.metrics_bearer_file);
  s("secret_scanning_keys_file", cfg.secret_scanning_keys_file);
  s("secret_scanning_keys_url", cfg.secret_scanning_keys_url);
  // The flag is --trusted-proxy (repeatable); the file takes trusted_proxies or trusted_proxy.
  out << "trusted_proxy = [";
  for (size_t n = 0; n < cfg.trusted_proxies.size(); ++n)
    out << (n ? ", " : "") << Quote(cfg.trusted_proxies[n]);
  out << "]\n";
  // The flag is --webhook-allow-cidr (repeatable).
  out << "webhook_allow_cidr = [";
  for (size_t n = 0; n < cfg.webhook_allow_cidrs.size(); ++n)
    out << (n ? ", " : "") << Quote(cfg.webhook_allow_cidrs[n]);
  out << "]\n";
  s("webhook_ca_file", cfg.webhook_ca_file);  // --webhook-ca-file
}

int MigrateDryRun(const std::string& url, const std::function<int(const Status&)>& fail) {
  int64_t current = 0;
  int target = 0;
  if (app::IsPostgresUrl(url)) {
    target = store::PgSchemaVersion();
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(url.c_str()), &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK)
      return fail(Status::Unavailable("Cannot connect to " + MaskUrl(url) + "."));
    std::unique_ptr<PGresult, decltype(&PQclear)> r(
        PQexec(conn.get(),
               "SELECT CASE WHEN to_regclass('schema_version') IS NULL THEN 0 ELSE "
               "(SELECT coalesce(max(version), 0) FROM schema_version) END"),
        &PQclear);
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) != 1)
      return fail(Status::Unavailable("Cannot read the schema version of " + MaskUrl(url) + "."));
    current = std::strtoll(PQgetvalue(r.get(), 0, 0), nullptr, 10);
  } else {
    std::string path = url;
    if (path.rfind("sqlite://", 0) == 0)
      path = path.substr(9);
    else if (path.rfind("sqlite:", 0) == 0)
      path = path.substr(7);
    target = store::SqliteSchemaVersion();
    struct stat st {};
    if (stat(path.c_str(), &st) == 0) {
      sqlite3* db = nullptr;
      int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
      std::unique_ptr<sqlite3, decltype(&sqlite3_close_v2)> guard(db, &sqlite3_close_v2);
      if (rc != SQLITE_OK) return fail(Status::Unavailable("Cannot open " + path + "."));
      sqlite3_busy_timeout(db, 5000);
      sqlite3_stmt* s = nullptr;
      bool has = false;
      if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE name = 'schema_version'",
                             -1, &s, nullptr) == SQLITE_OK &&
          sqlite3_step(s) == SQLITE_ROW)
        has = sqlite3_column_int(s, 0) > 0;
      else
        rc = SQLITE_ERROR;
      sqlite3_finalize(s);
      if (has && sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_version", -1,
                                    &s, nullptr) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
          current = sqlite3_column_int64(s, 0);
        else
          rc = SQLITE_ERROR;
        sqlite3_finalize(s);
      }
      if (rc != SQLITE_OK)
        return fail(Status::Unavailable(path + " is not a database this build can read."));
    }
  }
  std::cout << "schema version " << current << "; this build's version " << target << "\n";
  if (current > target) {
    std::cout << "the store is newer than this build: nothing can be applied\n";
    return 1;
  }
  if (current == target) {
    std::cout << "no pending migrations\n";
    return 0;
  }
  std::cout << (target - current) << " pending migration(s), not applied (dry run):\n";
  for (int v = static_cast<int>(current) + 1; v <= target; ++v) {
    const char* sql =
        app::IsPostgresUrl(url) ? store::PgMigrationSql(v) : store::SqliteMigrationSql(v);
    std::cout << "-- migration " << v << "\n" << sql << "\n";
  }
  return 0;
}

namespace {

struct InitOptions {
  std::string admin_name = "admin";
};

struct MigrateOptions {
  bool dry_run = false;
};

struct LifecycleOptions {
  std::string check_file;
  std::string backup_to;
  bool include_key = false;
  std::string restore_from, restore_data, restore_key;
};

}  // namespace

void AddInitCommand(CLI::App& app, const Context& ctx) {
  auto o = std::make_shared<InitOptions>();
  auto* init = app.add_subcommand(
      "init", "Create the data directory, the key file and the first provider admin");
  AddCommon(init, *ctx.flags, false);
  init->add_option("--admin", o->admin_name, "Username of the first provider admin");
  init->callback([ctx, o] {
    int& rc = *ctx.rc;
    auto opened = OpenInstance(*ctx.flags, true);
    if (!opened.ok()) {
      rc = Fail(opened.status());
      return;
    }
    auto empty = (*opened)->Empty();
    if (!empty.ok()) {
      rc = Fail(empty.status());
      return;
    }
    if (!empty.value()) {
      rc = Fail(Status::Conflict("ALREADY_INITIALIZED", "The data directory already has users."));
      return;
    }
    auto pw = (*opened)->CreateFirstAdmin(o->admin_name);
    if (!pw.ok()) {
      rc = Fail(pw.status());
      return;
    }
    std::cout << "Initialized " << (*opened)->config().data_dir << ".\nProvider admin '"
              << o->admin_name << "' password (shown once): " << pw.value() << "\n";
  });
}

void AddMigrateCommand(CLI::App& app, const Context& ctx) {
  auto o = std::make_shared<MigrateOptions>();
  auto* migrate = app.add_subcommand(
      "migrate",
      "Apply pending schema migrations to the store (required before serving a new "
      "version on PostgreSQL; SQLite migrates by itself)");
  AddCommon(migrate, *ctx.flags, false);
  migrate->add_flag("--dry-run", o->dry_run, "Print the pending migrations without applying them");
  migrate->callback([ctx, o] {
    int& rc = *ctx.rc;
    auto cfg = ResolveConfig(*ctx.flags);
    if (!cfg.ok()) {
      rc = Fail(cfg.status());
      return;
    }
    const std::string url = cfg->store.empty() ? cfg->data_dir + "/sandgate.db" : cfg->store;
    if (o->dry_run) {
      rc = MigrateDryRun(url, Fail);
      return;
    }
    auto st = app::OpenStoreUrl(url, /*migrate=*/true);
    if (!st.ok()) {
      rc = Fail(st.status());
      return;
    }
    std::cout << "schema of " << (*st)->Describe() << " is up to date (version "
              << (app::IsPostgresUrl(url) ? store::PgSchemaVersion() : store::SqliteSchemaVersion())
              << ")\n";
  });
}

void AddLifecycleCommands(CLI::App& app, const Context& ctx) {
  auto o = std::make_shared<LifecycleOptions>();
  int* rc = ctx.rc;
  // config check
  auto* config = app.add_subcommand("config", "The configuration file");
  config->require_subcommand(1);
  auto* check = config->add_subcommand(
      "check", "Validate a config file and print the effective settings (secrets masked)");
  check->add_option("FILE", o->check_file, "TOML config file")->required();
  check->callback([rc, o] {
    app::Config cfg;
    Status st = app::LoadConfigFile(o->check_file, &cfg);
    if (st.ok()) st = Validate(cfg);
    if (!st.ok()) {
      *rc = Fail(st);
      return;
    }
    std::cout << "# " << o->check_file << ": valid; effective settings:\n";
    PrintEffectiveConfig(cfg, std::cout);
  });

  // backup
  auto* backup = app.add_subcommand(
      "backup",
      "Take a consistent snapshot of a SQLite installation while it serves, with a manifest "
      "(the key file only with --include-key)");
  AddCommon(backup, *ctx.flags, false);
  backup->add_option("--to", o->backup_to, "Backup directory (new or empty)")->required();
  backup->add_flag("--include-key", o->include_key,
                   "Also copy the key file (without it the backup reveals no token; keep the "
                   "key apart)");
  backup->callback([ctx, rc, o] {
    auto cfg = ResolveConfig(*ctx.flags);
    if (!cfg.ok()) {
      *rc = Fail(cfg.status());
      return;
    }
    auto r = app::Backup(*cfg, o->backup_to, o->include_key);
    if (!r.ok()) {
      *rc = Fail(r.status());
      return;
    }
    std::cout << "backup in " << r->dir << ": schema version " << r->schema_version << ", "
              << r->audit_records << " audit record(s) (newest " << r->audit_head_id << ", chain "
              << r->audit_head_chain << "), " << r->tokens << " token(s)"
              << (r->key_included ? ", key file included" : ", key file NOT included") << "\n";
    for (const auto& [t, n] : r->tables) std::cout << "  " << t << ": " << n << " rows\n";
  });

  // restore
  auto* restore = app.add_subcommand(
      "restore",
      "Restore a backup into a new data directory, after checking its manifest, checksums, "
      "audit chain and tokens");
  restore->add_option("--from", o->restore_from, "Backup directory")->required();
  restore->add_option("--data", o->restore_data, "New data directory (absent or empty)")
      ->required();
  restore->add_option("--key-file", o->restore_key,
                      "The installation's key file, when the backup has none");
  restore->callback([rc, o] {
    auto r = app::Restore(o->restore_from, o->restore_data, o->restore_key);
    if (!r.ok()) {
      *rc = Fail(r.status());
      return;
    }
    std::cout << "restored into " << r->dir << ": schema version " << r->schema_version << ", "
              << r->audit_records << " audit record(s), chain intact (newest " << r->audit_head_id
              << "), " << r->tokens << " token(s) open with the key file\n";
  });
}

}  // namespace sandgate::cli
