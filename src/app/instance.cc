#include "app/instance.h"

#include <sys/stat.h>

// toml++ 3.3 (Debian 12) asserts internal preconditions that malformed input can break ("[ =",
// "x =[[}"): with NDEBUG (Release, gcc) the checks vanish and the parser reports the error, which
// is what LoadConfigFile needs everywhere; without it (Debug, sanitizer and fuzz builds) they
// would abort. Found by config_toml_fuzz; the inputs are in fuzz/corpus/config_toml/regress-*.
#ifndef TOML_ASSERT
#define TOML_ASSERT(expr) static_assert(true)
#endif
#include <toml++/toml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string_view>

#include "common/fault.h"
#include "store/pg_store.h"

namespace sandgate::app {
namespace {

// What toml++ must not see. Sandgate's config keys are all top-level, so a table header ("[name]",
// "[[name]]") is never valid; and the file must be ASCII (its values are paths, addresses and
// URLs). toml++ 3.3 (Debian 12) has bugs on both, found by config_toml_fuzz (inputs in
// fuzz/corpus/config_toml/regress-*): a header's '[' not followed by a key breaks an internal
// assertion, and some non-ASCII characters (e.g. U+0359 after a value) reach
// __builtin_unreachable in its whitespace check: undefined behaviour even in Release.
Status Prescreen(std::string_view text, const std::string& path) {
  size_t line = 1;
  bool line_start = true;
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80)
      return Status::Invalid("CONFIG_INVALID", "Config file " + path +
                                                   " has a non-ASCII character (line " +
                                                   std::to_string(line) + ").");
    if (c == '\n') {
      ++line;
      line_start = true;
    } else if (line_start && (c == ' ' || c == '\t' || c == '\r')) {
      continue;
    } else if (line_start && c == '[') {
      return Status::Invalid("CONFIG_INVALID",
                             "Config file " + path + " has a table header (line " +
                                 std::to_string(line) +
                                 "); every key is top-level, e.g. listen = \"127.0.0.1:8080\".");
    } else {
      line_start = false;
    }
  }
  return Status::Ok();
}

}  // namespace

// An integer config value within [lo, hi]. A float in range counts as its whole part, as toml++'s
// value<int64_t>() gives it; one out of range is refused here, because that conversion would be
// undefined behaviour (found by config_toml_fuzz: `threads = 99999999E98`).
std::optional<int64_t> IntInRange(const toml::node& value, int64_t lo, int64_t hi) {
  std::optional<int64_t> v = value.value_exact<int64_t>();
  if (auto d = value.value_exact<double>();
      d && *d >= static_cast<double>(lo) && *d <= static_cast<double>(hi))
    v = static_cast<int64_t>(*d);
  if (!v || *v < lo || *v > hi) return std::nullopt;
  return v;
}

Status LoadConfigFile(const std::string& path, Config* cfg) {
  constexpr size_t kMaxBytes = 1 << 20;
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::Invalid("CONFIG_INVALID", "Cannot open config file " + path + ".");
  std::string text;
  char buf[4096];
  while (f.read(buf, sizeof buf) || f.gcount() > 0) {
    text.append(buf, static_cast<size_t>(f.gcount()));
    if (text.size() > kMaxBytes)
      return Status::Invalid("CONFIG_INVALID", "Config file " + path + " is larger than 1 MiB.");
  }
  if (Status st = Prescreen(text, path); !st.ok()) return st;
  toml::table t;
  try {
    t = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return Status::Invalid("CONFIG_INVALID", "Cannot read config file " + path + ": " +
                                                 std::string(e.description()) + " (line " +
                                                 std::to_string(e.source().begin.line) + ").");
  }
  for (auto&& kv : t) {  // not a structured binding: clang 14 cannot capture one in a lambda
    const std::string k(kv.first.str());
    const toml::node& value = kv.second;
    auto str = [&](std::string* out) -> Status {
      if (auto v = value.value<std::string>()) {
        *out = *v;
        return Status::Ok();
      }
      return Status::Invalid("CONFIG_INVALID", "Config key '" + k + "' must be a string.");
    };
    Status st;
    if (k == "data")
      st = str(&cfg->data_dir);
    else if (k == "key_file")
      st = str(&cfg->key_file);
    else if (k == "database")
      st = str(&cfg->database);
    else if (k == "store")
      st = str(&cfg->store);
    else if (k == "log_file")
      st = str(&cfg->log_file);
    else if (k == "listen")
      st = str(&cfg->listen);
    else if (k == "base_url")
      st = str(&cfg->base_url);
    else if (k == "support_name")
      st = str(&cfg->support_name);
    else if (k == "support_email")
      st = str(&cfg->support_email);
    else if (k == "support_url")
      st = str(&cfg->support_url);
    else if (k == "support_phone")
      st = str(&cfg->support_phone);
    else if (k == "tls_cert")
      st = str(&cfg->tls_cert);
    else if (k == "tls_key")
      st = str(&cfg->tls_key);
    else if (k == "rules_cache_dir")
      st = str(&cfg->rules_cache_dir);
    else if (k == "rules_strict") {
      if (auto v = value.value_exact<bool>())
        cfg->rules_strict = *v;
      else
        st = Status::Invalid("CONFIG_INVALID", "Config key 'rules_strict' must be true or false.");
    } else if (k == "rules_default_severity") {
      std::string v;
      st = str(&v);
      if (st.ok() && v != "LOW" && v != "MODERATE" && v != "HIGH")
        st = Status::Invalid("CONFIG_INVALID",
                             "Config key 'rules_default_severity' must be LOW, MODERATE or HIGH.");
      if (st.ok()) cfg->rules_default_severity = v;
    } else if (k == "max_connections" || k == "max_connections_per_address") {
      auto v = IntInRange(value, 1, 1000000);
      if (!v)
        st = Status::Invalid("CONFIG_INVALID", "Config key '" + k + "' must be 1 to 1000000.");
      else
        (k == "max_connections" ? cfg->max_connections : cfg->max_connections_per_address) =
            static_cast<int>(*v);
    } else if (k == "analysis_workers" || k == "analysis_queue") {
      auto v = IntInRange(value, 0, 100000);
      if (!v)
        st = Status::Invalid("CONFIG_INVALID", "Config key '" + k + "' must be 0 to 100000.");
      else
        (k == "analysis_workers" ? cfg->analysis_workers : cfg->analysis_queue) =
            static_cast<int>(*v);
    } else if (k == "invalid_token_limit") {
      auto v = IntInRange(value, 1, 1000000000);
      if (!v)
        st = Status::Invalid("CONFIG_INVALID",
                             "Config key 'invalid_token_limit' must be 1 to 1000000000.");
      else
        cfg->invalid_token_limit = static_cast<int>(*v);
    } else if (k == "log_format") {
      st = str(&cfg->log_format);
      if (st.ok() && cfg->log_format != "text" && cfg->log_format != "json")
        st = Status::Invalid("CONFIG_INVALID", "Config key 'log_format' must be text or json.");
    } else if (k == "metrics") {
      if (auto b = value.value_exact<bool>()) {
        cfg->metrics = *b;
      } else if (auto s = value.value<std::string>(); s && (*s == "on" || *s == "off")) {
        cfg->metrics = *s == "on";
      } else {
        st = Status::Invalid("CONFIG_INVALID", "Config key 'metrics' must be on or off.");
      }
    } else if (k == "metrics_listen") {
      st = str(&cfg->metrics_listen);
    } else if (k == "webhook_ca_file") {  // --webhook-ca-file
      st = str(&cfg->webhook_ca_file);
    } else if (k == "metrics_bearer_file") {
      st = str(&cfg->metrics_bearer_file);
    } else if (k == "secret_scanning_keys_file") {
      st = str(&cfg->secret_scanning_keys_file);
    } else if (k == "secret_scanning_keys_url") {
      st = str(&cfg->secret_scanning_keys_url);
    } else if (k == "trusted_proxies" || k == "trusted_proxy") {  // the flag is --trusted-proxy
      const toml::array* arr = value.as_array();
      cfg->trusted_proxies.clear();
      if (arr == nullptr) {
        st = Status::Invalid("CONFIG_INVALID",
                             "Config key 'trusted_proxies' must be a list of CIDR strings.");
      } else {
        for (const auto& el : *arr) {
          auto s = el.value<std::string>();
          if (!s) {
            st = Status::Invalid("CONFIG_INVALID",
                                 "Config key 'trusted_proxies' must be a list of CIDR strings.");
            break;
          }
          cfg->trusted_proxies.push_back(*s);
        }
      }
    } else if (k == "webhook_allow_cidrs" || k == "webhook_allow_cidr") {  // --webhook-allow-cidr
      const toml::array* arr = value.as_array();
      cfg->webhook_allow_cidrs.clear();
      for (size_t n = 0; arr != nullptr && n < arr->size(); ++n) {
        auto v = (*arr)[n].value<std::string>();
        if (!v) {
          arr = nullptr;
          break;
        }
        cfg->webhook_allow_cidrs.push_back(*v);
      }
      if (arr == nullptr)
        st = Status::Invalid("CONFIG_INVALID",
                             "Config key 'webhook_allow_cidrs' must be a list of CIDR strings.");
    } else if (k == "threads") {
      auto v = IntInRange(value, 0, 256);
      if (!v)
        st = Status::Invalid("CONFIG_INVALID", "Config key 'threads' must be 0 to 256.");
      else
        cfg->threads = static_cast<int>(*v);
    } else if (k == "signatures_dir") {
      st = str(&cfg->signatures_dir);
    } else if (k == "rules_dir") {
      st = str(&cfg->rules_dir);
    } else if (k == "submission_listen") {
      st = str(&cfg->submission_listen);
    } else if (k == "web_dir") {
      st = str(&cfg->web_dir);
    } else if (k == "node_id") {
      st = str(&cfg->node_id);
    } else if (k == "demo") {
      if (auto b = value.value_exact<bool>())
        cfg->demo = *b;
      else
        st = Status::Invalid("CONFIG_INVALID", "Config key 'demo' must be true or false.");
    } else {
      st = Status::Invalid("CONFIG_INVALID", "Unknown config key '" + k + "'.");
    }
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

Result<std::unique_ptr<Instance>> Instance::Open(const Config& in, bool create) {
  auto inst = std::unique_ptr<Instance>(new Instance());
  Config& cfg = inst->cfg_;
  cfg = in;
  if (cfg.key_file.empty()) cfg.key_file = cfg.data_dir + "/sandgate.key";
  if (cfg.database.empty()) cfg.database = cfg.data_dir + "/sandgate.db";
  if (cfg.log_file.empty()) cfg.log_file = cfg.data_dir + "/sandgate.log";
  struct stat st {};
  if (stat(cfg.data_dir.c_str(), &st) != 0) {
    if (!create)
      return Status(500, "DATA_DIR_MISSING",
                    "The data directory " + cfg.data_dir + " does not exist; run `sandgate init`.");
    if (mkdir(cfg.data_dir.c_str(), 0700) != 0)
      return Status(500, "DATA_DIR_FAILED",
                    "Cannot create " + cfg.data_dir + ": " + std::strerror(errno));
  }
  auto keys =
      create ? token::Keyring::LoadOrCreate(cfg.key_file) : token::Keyring::Load(cfg.key_file);
  if (!keys.ok()) return keys.status();
  inst->keys_ = keys.value();
  // Test seam: storage faults injected through a file (common/fault.h); before the store opens,
  // so its connections go through the fault-injecting VFS.
  if (const char* f = std::getenv("SANDGATE_TEST_FAULT_FILE"); f && *f) fault::WatchFile(f);
  auto store = OpenStoreUrl(cfg.store.empty() ? cfg.database : cfg.store, /*migrate=*/false);
  if (!store.ok()) return store.status();
  inst->store_ = std::move(store.value());
  inst->store_->SetAuditKey(inst->keys_->Mac("audit-chain", ""));
  // Read before the index is loaded: following resumes from here, so nothing falls in between.
  auto horizon = inst->store_->ChangeHorizon();
  if (!horizon.ok()) return horizon.status();
  inst->index_horizon_ = *horizon;
  std::shared_ptr<Clock> clock = SystemClock();
  if (const char* f = std::getenv("SANDGATE_TEST_CLOCK_FILE"); f && *f) clock = OffsetFileClock(f);
  inst->services_ = std::make_unique<service::Services>(
      inst->store_, inst->keys_, clock,
      service::Settings{cfg.base_url, "", cfg.support_name, cfg.support_email, cfg.support_url,
                        cfg.support_phone});
  Status s = inst->services_->LoadIndex();
  if (!s.ok()) return s;
  return inst;
}

bool IsPostgresUrl(const std::string& url) {
  return url.rfind("postgres://", 0) == 0 || url.rfind("postgresql://", 0) == 0;
}

Result<std::unique_ptr<store::Store>> OpenStoreUrl(const std::string& url, bool migrate) {
  if (IsPostgresUrl(url)) {
    store::PgOptions o;
    o.migrate = migrate;
    return store::OpenPgStore(url, o);
  }
  std::string path = url;
  if (path.rfind("sqlite://", 0) == 0) {
    path = path.substr(9);
  } else if (path.rfind("sqlite:", 0) == 0) {
    path = path.substr(7);
  } else if (path.find("://") != std::string::npos) {
    return Status::Invalid("STORE_INVALID",
                           "Unknown store URL scheme; use sqlite:PATH or postgres://...");
  }
  return store::OpenSqliteStore(path);
}

Status Instance::StartFollowing(const std::string& node_id) {
  services_->set_node_id(node_id);
  store::FollowHooks hooks;
  service::Services* s = services_.get();
  hooks.apply = [s](const std::vector<store::OrgId>& orgs) { return s->RefreshIndex(orgs); };
  hooks.reload = [s] { return s->LoadIndex(); };
  Status st = store_->Follow(node_id, index_horizon_, std::move(hooks));
  // What the index just loaded holds need not stay in the change log (other nodes permitting).
  if (st.ok() && !store_->Shared()) (void)store_->PruneChangeLog();
  return st;
}

Result<bool> Instance::Empty() {
  int64_t users = 0;
  Status st = store_->Read([&](store::Tx& tx) -> Status {
    auto n = tx.CountUsers();
    if (!n.ok()) return n.status();
    users = *n;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return users == 0;
}

Result<std::string> Instance::CreateFirstAdmin(const std::string& username) {
  service::NewUser nu;
  nu.username = username;
  nu.role = domain::Role::kProviderAdmin;
  auto r = services_->CreateUser(service::Actor::Cli(), nu);
  if (!r.ok()) return r.status();
  return r->second;
}

}  // namespace sandgate::app
