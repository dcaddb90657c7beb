#include "app/instance.h"

#include <sys/stat.h>
#include <toml++/toml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string_view>

namespace sandgate::app {
namespace {

// Sandgate's config keys are all top-level, so a table header ("[name]", "[[name]]") is never
// valid; it is refused before toml++ sees it. toml++ 3.3 (Debian 12) asserts (or, built by clang
// with NDEBUG, assumes) that a header's '[' is followed by a key, which "[ =" is not: found by
// config_toml_fuzz (fuzz/corpus/config_toml/regress-table-header-assert).
std::optional<size_t> TableHeaderLine(std::string_view text) {
  size_t line = 1;
  bool line_start = true;
  for (char c : text) {
    if (c == '\n') {
      ++line;
      line_start = true;
    } else if (line_start && (c == ' ' || c == '\t' || c == '\r')) {
      continue;
    } else if (line_start && c == '[') {
      return line;
    } else {
      line_start = false;
    }
  }
  return std::nullopt;
}

}  // namespace

Status LoadConfigFile(const std::string& path, Config* cfg) {
  constexpr size_t kMaxBytes = 1 << 20;
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::Invalid("CONFIG_INVALID", "Cannot open config file " + path + ".");
  std::string text(kMaxBytes + 1, '\0');
  f.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(f.gcount()));
  if (text.size() > kMaxBytes)
    return Status::Invalid("CONFIG_INVALID", "Config file " + path + " is larger than 1 MiB.");
  if (auto line = TableHeaderLine(text))
    return Status::Invalid("CONFIG_INVALID",
                           "Config file " + path + " has a table header (line " +
                               std::to_string(*line) +
                               "); every key is top-level, e.g. listen = \"...\".");
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
    else if (k == "log_file")
      st = str(&cfg->log_file);
    else if (k == "listen")
      st = str(&cfg->listen);
    else if (k == "base_url")
      st = str(&cfg->base_url);
    else if (k == "analysis_workers" || k == "analysis_queue") {
      auto v = value.value<int64_t>();
      if (!v || *v < 0 || *v > 100000)
        st = Status::Invalid("CONFIG_INVALID", "Config key '" + k + "' must be 0 to 100000.");
      else
        (k == "analysis_workers" ? cfg->analysis_workers : cfg->analysis_queue) =
            static_cast<int>(*v);
    } else if (k == "threads") {
      auto v = value.value<int64_t>();
      if (!v || *v < 0 || *v > 256)
        st = Status::Invalid("CONFIG_INVALID", "Config key 'threads' must be 0 to 256.");
      else
        cfg->threads = static_cast<int>(*v);
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
  auto store = store::OpenSqliteStore(cfg.database);
  if (!store.ok()) return store.status();
  inst->store_ = std::move(store.value());
  std::shared_ptr<Clock> clock = SystemClock();
  if (const char* f = std::getenv("SANDGATE_TEST_CLOCK_FILE"); f && *f) clock = OffsetFileClock(f);
  inst->services_ = std::make_unique<service::Services>(inst->store_, inst->keys_, clock,
                                                        service::Settings{cfg.base_url});
  Status s = inst->services_->LoadIndex();
  if (!s.ok()) return s;
  return inst;
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
