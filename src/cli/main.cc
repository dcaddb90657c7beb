// sandgate: the one binary. `serve` runs the server; every other subcommand works on the data
// directory through the same services as the HTTP API (same rules, same audit).
// Exit codes: 0 success, 1 the operation was refused or failed, 2 wrong arguments.
#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "analysis/engine.h"
#include "analysis/yara_rules.h"
#include "api/api.h"
#include "app/instance.h"
#include "app/sd_notify.h"
#include "auth/sessions.h"
#include "cli/lifecycle.h"
#include "common/log_format.h"
#include "common/secret.h"
#include "http/metrics_endpoint.h"
#include "http/server.h"
#include "metrics/process_metrics.h"
#include "metrics/sandgate_metrics.h"
#include "notify/delivery.h"
#include "service/webhook_service.h"
#include "store/audit_chain.h"
#include "store/pg_store.h"
#include "store/sqlite_store.h"
#include "token/token_format.h"
#include "web/assets.h"

using namespace sandgate;

namespace {

// Flags shared by subcommands; a non-empty flag overrides the config file.
struct Common {
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

int Fail(const Status& st) {
  std::cerr << "error: " << st.message() << " (" << st.code() << ")\n";
  return 1;
}

// Operational messages go to stderr and the log file, flushed with every line. Request lines
// ("access" logger, see http::Server) go to the log file only (stderr when there is none) through
// the same sink, so lines never interleave; they are buffered and reach the file within a second,
// or sooner with the next operational message: one write per buffer, not per request (the way
// nginx's `access_log ... buffer= flush=` works).
constexpr const char* kLogPattern = "%Y-%m-%dT%H:%M:%S.%eZ %l %v";

// `log_file` "-": everything (operational and request lines) goes to standard output only, for
// journald and containers. `json`: one JSON object per line (common/log_format.h).
void SetUpLogging(const std::string& log_file, bool to_stderr, bool json = false) {
  std::vector<spdlog::sink_ptr> sinks;
  spdlog::sink_ptr stderr_sink, file_sink;
  if (log_file == "-") {
    sinks.push_back(file_sink = std::make_shared<spdlog::sinks::stdout_sink_mt>());
  } else {
    if (to_stderr)
      sinks.push_back(stderr_sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    if (!log_file.empty()) {
      // The log names clients and what they did: 0600 when created; an existing file may stay 0640
      // (a log group reads it), anything wider (group write, any bit for others) is narrowed.
      const int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      struct stat st;
      if (fd >= 0 && ::fstat(fd, &st) == 0 && (st.st_mode & 037) != 0)
        (void)::fchmod(fd, st.st_mode & 0640);
      if (fd >= 0) ::close(fd);
    }
    if (!log_file.empty())
      sinks.push_back(file_sink =
                          std::make_shared<spdlog::sinks::basic_file_sink_mt>(log_file, false));
  }
  auto logger = std::make_shared<spdlog::logger>("sandgate", sinks.begin(), sinks.end());
  logger->set_pattern(kLogPattern, spdlog::pattern_time_type::utc);
  if (json) logger->set_formatter(MakeJsonFormatter());
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  spdlog::sink_ptr access_sink = file_sink ? file_sink : stderr_sink;
  if (access_sink) {
    auto access = std::make_shared<spdlog::logger>("access", access_sink);
    access->set_pattern(kLogPattern, spdlog::pattern_time_type::utc);
    if (json) access->set_formatter(MakeJsonFormatter());
    access->flush_on(spdlog::level::warn);
    spdlog::register_logger(access);
    spdlog::flush_every(std::chrono::seconds(1));
  }
}

// Resident memory of this process in KiB (0 when unknown).
uint64_t ResidentKiB() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) / 1024 : 0;
}

// The engine's load at start and on SIGHUP: counts, time, cache, memory, every skipped rule file
// and the compiler's warnings (slow rules, ...).
void LogEngine(const analysis::Engine& e, const char* what) {
  const analysis::CompiledRules* r = e.rules();
  if (r == nullptr) return;
  const analysis::RulesData& d = r->data();
  spdlog::info(
      "analysis engine {}: {} signatures, {} rules from {} of {} rule files ({} skipped), "
      "{} in {:.0f} ms, compiled rules {} KiB, process resident {} KiB",
      what, e.signature_count(), r->rule_count(), d.files_loaded, d.files_total, d.skipped.size(),
      r->from_cache() ? "loaded from the cache" : "compiled", r->load_ms(),
      r->compiled_bytes() / 1024, ResidentKiB());
  for (const analysis::RuleFileProblem& p : d.skipped)
    spdlog::warn("rule file skipped: {}: {}", p.file, p.reason);
  for (const std::string& w : d.warnings) spdlog::warn("rule warning: {}", w);
  if (d.warning_count > d.warnings.size())
    spdlog::warn("{} more rule warnings not shown", d.warning_count - d.warnings.size());
  if (!r->cache_note().empty()) spdlog::warn("rules cache: {}", r->cache_note());
}

// /readyz's "analysis" detail.
boost::json::object AnalysisStatus(const analysis::Engine& e) {
  boost::json::object o;
  o["signatures"] = e.signature_count();
  o["rules"] = e.rule_count();
  if (const analysis::CompiledRules* r = e.rules()) {
    const analysis::RulesData& d = r->data();
    o["ruleFiles"] = d.files_total;
    boost::json::array skipped;
    for (const analysis::RuleFileProblem& p : d.skipped)
      skipped.push_back(boost::json::object{{"file", p.file}, {"reason", p.reason}});
    o["ruleFilesSkipped"] = std::move(skipped);
    o["ruleWarnings"] = d.warning_count;
    o["rulesFromCache"] = r->from_cache();
  }
  return o;
}

Result<app::Config> ResolveConfig(Common& c) {
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

void AddCommon(CLI::App* cmd, Common& c, bool server_flags) {
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

Result<std::unique_ptr<app::Instance>> OpenInstance(Common& c, bool create) {
  auto cfg = ResolveConfig(c);
  if (!cfg.ok()) return cfg.status();
  return app::Instance::Open(cfg.value(), create);
}

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

int PrintResult(const Result<service::TokenView>& r) {
  if (!r.ok()) return Fail(r.status());
  PrintOrg(r.value());
  return 0;
}

std::optional<TimeMs> ParseEnds(const std::string& s, bool* bad) {
  if (s.empty()) return std::nullopt;
  TimeMs t;
  if (!ParseIso8601(s, &t)) {
    *bad = true;
    return std::nullopt;
  }
  return t;
}

// --- serve -------------------------------------------------------------------------------------

struct ServeFlags {
  bool demo = false;
};

Status CreateDemo(app::Instance& inst) {
  auto& s = inst.services();
  auto cli = service::Actor::Cli();
  auto provider_pw = inst.CreateFirstAdmin("provider");
  if (!provider_pw.ok()) return provider_pw.status();
  auto org = s.CreateOrg(cli, "Acme Corp");
  if (!org.ok()) return org.status();
  auto act = s.ChangeSubscription(cli, org->org.id, domain::Action::kActivate, std::nullopt);
  if (!act.ok()) return act.status();
  auto admin = s.CreateUser(cli, {"acme-admin", domain::Role::kOrgAdmin, org->org.id, ""});
  if (!admin.ok()) return admin.status();
  auto viewer = s.CreateUser(cli, {"acme-viewer", domain::Role::kOrgReadonly, org->org.id, ""});
  if (!viewer.ok()) return viewer.status();
  std::cout << "\nSandgate demo: " << (inst.config().tls_cert.empty() ? "http://" : "https://")
            << inst.config().listen << "/\n"
            << "  provider admin:    provider     / " << provider_pw.value() << "\n"
            << "  org admin (Acme):  acme-admin   / " << admin->second << "\n"
            << "  read-only (Acme):  acme-viewer  / " << viewer->second << "\n"
            << "These passwords are shown once.\n\n"
            << std::flush;
  return Status::Ok();
}

// host-pid-random: unique per process, recognisable in the nodes table.
std::string DefaultNodeId() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return std::string(host) + "-" + std::to_string(getpid()) + "-" +
         std::to_string(randombytes_uniform(1u << 20));
}

// Connections cost file descriptors: take the whole hard limit.
void RaiseFileLimit(size_t wanted) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < wanted + 64)
    spdlog::warn("the open-file limit is {}, below the connection cap {}; raise it (ulimit -n)",
                 static_cast<uint64_t>(rl.rlim_cur), wanted);
}

bool IsLoopback(const std::string& address) {
  return address.rfind("127.", 0) == 0 || address.rfind("[::1]", 0) == 0;
}

// Plain HTTP on a reachable address: say that the Submission API token crosses the network in the
// clear (it travels in the query string).
void WarnIfPlain(const http::Server& s, const char* what) {
  if (s.tls() || IsLoopback(s.address())) return;
  spdlog::warn(
      "serving plain HTTP on {} ({}), which is not a loopback address: the Submission API token "
      "travels in the query string, and passwords and session cookies travel, in clear text; use "
      "--tls-cert/--tls-key or a TLS-terminating proxy",
      s.address(), what);
}

// The series read at each scrape from the running server's parts; removed before those parts go.
class SampledMetrics {
 public:
  SampledMetrics(app::Instance& inst, submission::SubmissionService& subs) {
    if (!metrics::Enabled()) return;
    auto& r = metrics::Global();
    auto store = inst.store();
    const std::string backend = store->Shared() ? "postgres" : "sqlite";
    ids_ = metrics::RegisterProcessMetrics(r, "0.1.0", backend);
    auto add = [&](const char* name, const char* help, std::function<double()> fn) {
      ids_.push_back(r.AddSampled(name, help, false, {}, std::move(fn)));
    };
    add("sandgate_analysis_queue_depth", "Submissions waiting for the rule analysis.",
        [&subs] { return static_cast<double>(subs.queue_depth()); });
    add("sandgate_analysis_queue_capacity",
        "Queued rule analyses beyond which submit answers 503 (--analysis-queue).",
        [&subs] { return static_cast<double>(subs.queue_capacity()); });
    const std::string spool = subs.spool_dir();
    add("sandgate_spool_bytes", "Bytes of uploads in the spool directory (in flight or queued).",
        [spool] {
          double sum = 0;
          if (DIR* d = opendir(spool.c_str())) {
            while (dirent* e = readdir(d)) {
              struct stat st {};
              if (e->d_name[0] != '.' && fstatat(dirfd(d), e->d_name, &st, 0) == 0)
                sum += static_cast<double>(st.st_size);
            }
            closedir(d);
          }
          return sum;
        });
    add("sandgate_spool_filesystem_avail_bytes",
        "Bytes available to Sandgate on the spool directory's filesystem.", [spool] {
          struct statvfs v {};
          return statvfs(spool.c_str(), &v) == 0 ? static_cast<double>(v.f_bavail) * v.f_frsize
                                                 : 0.0;
        });
    add("sandgate_spool_filesystem_size_bytes", "Size of the spool directory's filesystem.",
        [spool] {
          struct statvfs v {};
          return statvfs(spool.c_str(), &v) == 0 ? static_cast<double>(v.f_blocks) * v.f_frsize
                                                 : 0.0;
        });
    add("sandgate_store_up", "1 when the store answers a read (checked at each scrape).",
        [store] { return store->Ping().ok() ? 1.0 : 0.0; });
    add("sandgate_store_last_write_ok",
        "1 when this process's last store write succeeded, 0 when it failed (1 before any).",
        [] { return metrics::LastStoreWrite() == 0 ? 0.0 : 1.0; });
    add("sandgate_store_index_trusted",
        "1 when this node's token index may be trusted (PostgreSQL: lease live, caught up).",
        [store] { return store->IndexTrusted() ? 1.0 : 0.0; });
    metrics::RegisterAll();  // every catalogue series exists from the first scrape (rate() needs a
                             // start)
  }
  ~SampledMetrics() {
    for (size_t id : ids_) metrics::Global().RemoveSampled(id);
  }
  SampledMetrics(const SampledMetrics&) = delete;
  SampledMetrics& operator=(const SampledMetrics&) = delete;

 private:
  std::vector<size_t> ids_;
};

int Serve(Common& c, ServeFlags& f) {
  auto opened = OpenInstance(c, true);
  if (!opened.ok()) return Fail(opened.status());
  auto& inst = *opened.value();
  const bool json_logs = inst.config().log_format == "json";
  if (json_logs) SetLogFormat(LogFormat::kJson);
  SetUpLogging(inst.config().log_file, true, json_logs);
  metrics::SetEnabled(inst.config().metrics);
  std::vector<http::Cidr> trusted;
  for (const auto& p : inst.config().trusted_proxies) {
    auto cidr = http::ParseCidr(p);
    if (!cidr)
      return Fail(Status::Invalid("CONFIG_INVALID", "Not a CIDR in trusted_proxies: " + p + "."));
    trusted.push_back(*cidr);
  }
  std::vector<http::Cidr> webhook_allow;
  for (const auto& p : inst.config().webhook_allow_cidrs) {
    auto cidr = http::ParseCidr(p);
    if (!cidr)
      return Fail(
          Status::Invalid("CONFIG_INVALID", "Not a CIDR in webhook_allow_cidrs: " + p + "."));
    webhook_allow.push_back(*cidr);
  }
  std::string metrics_bearer;
  WipeOnExit wipe_bearer(metrics_bearer);
  if (const auto& f = inst.config().metrics_bearer_file; !f.empty()) {
    std::ifstream in(f);
    std::getline(in, metrics_bearer);
    while (!metrics_bearer.empty() &&
           std::isspace(static_cast<unsigned char>(metrics_bearer.back())))
      metrics_bearer.pop_back();
    if (!in && !in.eof())
      return Fail(
          Status::Invalid("CONFIG_INVALID", "Cannot read the metrics bearer file " + f + "."));
    if (metrics_bearer.size() < 16)
      return Fail(Status::Invalid(
          "CONFIG_INVALID",
          "The metrics bearer file " + f + " must hold a token of 16 characters or more."));
  }
  auto empty = inst.Empty();
  if (!empty.ok()) return Fail(empty.status());
  if (empty.value()) {
    if (f.demo || inst.config().demo) {
      Status st = CreateDemo(inst);
      if (!st.ok()) return Fail(st);
    } else {
      auto pw = inst.CreateFirstAdmin("admin");
      if (!pw.ok()) return Fail(pw.status());
      std::cout << "First start: provider admin 'admin' created with password " << pw.value()
                << " (shown once).\n"
                << std::flush;
    }
  }
  analysis::EngineConfig ec;
  if (!inst.config().signatures_dir.empty()) ec.signatures_dir = inst.config().signatures_dir;
  if (!inst.config().rules_dir.empty()) ec.rules_dir = inst.config().rules_dir;
  ec.rules_strict = inst.config().rules_strict;
  analysis::ParseRiskName(inst.config().rules_default_severity, &ec.rules_default_risk);
  ec.rules_cache_dir = inst.config().rules_cache_dir.empty()
                           ? inst.config().data_dir + "/rules-cache"
                           : inst.config().rules_cache_dir;
  ec.temp_dir = inst.config().data_dir + "/spool";
  ec.av_subprocess = "/proc/self/exe";  // large files are AV-scanned in a child process
  submission::SubmissionOptions subo;
  subo.spool_dir = inst.config().data_dir + "/spool";
  subo.static_workers = static_cast<size_t>(inst.config().analysis_workers);
  subo.static_queue = static_cast<size_t>(inst.config().analysis_queue);
  subo.invalid_token_limit = inst.config().invalid_token_limit;
  mkdir(subo.spool_dir.c_str(), 0700);
  auto engines = analysis::EngineHolder::Open(ec);
  if (!engines.ok()) return Fail(engines.status());
  LogEngine(*engines.value()->Get(), "loaded");
  submission::SubmissionService submissions(inst.services(), *engines.value(), subo);
  auth::SessionManager sessions(inst.services());
  auto router = std::make_shared<http::Router>();
  const auto& cfg = inst.config();
  const bool use_tls = !cfg.tls_cert.empty() || !cfg.tls_key.empty();
  RaiseFileLimit(static_cast<size_t>(cfg.max_connections) *
                 (cfg.submission_listen.empty() ? 1 : 2));
  auto server_options = [&](const std::string& listen) {
    http::ServerOptions o;
    o.listen = listen;
    o.threads = cfg.threads;
    o.tls_cert = cfg.tls_cert;
    o.tls_key = cfg.tls_key;
    o.max_connections = static_cast<size_t>(cfg.max_connections);
    o.max_connections_per_address = static_cast<size_t>(cfg.max_connections_per_address);
    o.trusted_proxies = trusted;
    return o;
  };
  api::ApiOptions apio;
  apio.secure_cookies = use_tls;
  apio.submissions = &submissions;
  apio.analysis_status = [&engines] { return AnalysisStatus(*engines.value()->Get()); };
  // Webhooks (issue 20): the routes, and the delivery workers started once listening.
  service::WebhookService webhooks(inst.services(), webhook_allow);
  apio.webhooks = &webhooks;
  // Leaked-token reports (issue 20): the secret scanner's keys, read (and fetched) before serving.
  auth::ScannerKeys scanner_keys(
      auth::ScannerKeysOptions{cfg.secret_scanning_keys_file, cfg.secret_scanning_keys_url},
      inst.services().clock());
  if (scanner_keys.configured()) {
    if (Status kst = scanner_keys.Load(); !kst.ok()) return Fail(kst);
  }
  apio.scanner_keys = &scanner_keys;
  notify::DeliveryOptions delivery_options;
  delivery_options.allow = webhook_allow;
  delivery_options.ca_file = inst.config().webhook_ca_file;
  if (Status st = notify::CheckCaFile(delivery_options.ca_file); !st.ok()) return Fail(st);
  notify::Deliverer deliverer(inst.store(), inst.keys(), inst.services().clock(), delivery_options);
  auto api_state = api::RegisterApi(*router, inst.services(), sessions, apio);
  web::RegisterPortal(*router, cfg.web_dir);
  // The Submission API: on the main port, or on its own (--submission-listen).
  auto sub_router = cfg.submission_listen.empty() ? router : std::make_shared<http::Router>();
  submissions.Register(*sub_router);
  std::unique_ptr<http::Server> sub_server;
  if (!cfg.submission_listen.empty()) {
    http::ServerOptions sub_opt = server_options(cfg.submission_listen);
    sub_opt.handle_signals = false;
    sub_server = std::make_unique<http::Server>(sub_opt, sub_router);
    Status st = sub_server->Bind();
    if (!st.ok()) return Fail(st);
  }
  http::ServerOptions so = server_options(cfg.listen);
  so.on_reload = [&engines, keys = inst.keys()] {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    app::Notify("RELOADING=1\nMONOTONIC_USEC=" +
                std::to_string(static_cast<int64_t>(now.tv_sec) * 1000000 + now.tv_nsec / 1000));
    // The key file: learn seal keys added by `sandgate keys rotate` and seal with its current
    // key from now on (a reveal also re-reads it by itself when it meets an unknown key id).
    if (Status ks = keys->Reload(); ks.ok())
      spdlog::info("key file reloaded: sealing with key {} ({} seal keys known)", keys->key_id(),
                   keys->key_ids().size());
    else
      spdlog::error("key file reload failed, keeping the current keys: {}", ks.message());
    Status st = engines.value()->Reload();
    if (st.ok())
      LogEngine(*engines.value()->Get(), "reloaded");
    else
      spdlog::error("analysis engine reload failed, keeping the current one: {}", st.message());
    app::Notify("READY=1");
  };
  so.on_stop = [] { app::Notify("STOPPING=1"); };
  // GET /metrics: on the main listener, or on its own (--metrics-listen); nowhere when off.
  auto metrics_router = std::make_shared<http::Router>();
  std::unique_ptr<http::Server> metrics_server;
  if (cfg.metrics) {
    if (cfg.metrics_listen.empty()) {
      http::RegisterMetricsEndpoint(*router, metrics::Global(), metrics_bearer);
    } else {
      http::RegisterMetricsEndpoint(*metrics_router, metrics::Global(), metrics_bearer);
      http::ServerOptions mo = server_options(cfg.metrics_listen);
      mo.handle_signals = false;
      mo.threads = 1;
      mo.max_connections = 64;
      mo.max_connections_per_address = 64;
      metrics_server = std::make_unique<http::Server>(mo, metrics_router);
      if (Status mst = metrics_server->Bind(); !mst.ok()) return Fail(mst);
    }
  }
  SampledMetrics sampled(inst, submissions);
  http::Server server(so, router);
  Status st = server.Bind();
  if (!st.ok()) return Fail(st);
  const std::string scheme = use_tls ? "https://" : "http://";
  const std::string api_address = sub_server ? sub_server->address() : server.address();
  inst.services().set_base_url(inst.config().base_url.empty() ? scheme + api_address
                                                              : inst.config().base_url);
  if (inst.store()->Shared()) {
    std::string node = cfg.node_id.empty() ? DefaultNodeId() : cfg.node_id;
    Status fst = inst.StartFollowing(node);
    if (!fst.ok()) return Fail(fst);
    spdlog::info("cluster node {} on {}: following the change log", node, inst.store()->Describe());
  } else if (Status fst = inst.StartFollowing(""); !fst.ok()) {
    return Fail(fst);  // one node: the CLI's changes are applied before each verification
  }
  if (Status dst = deliverer.Start(); !dst.ok()) return Fail(dst);
  spdlog::info("sandgate {} listening on {}{} (data {})", "0.1.0", scheme, server.address(),
               inst.config().data_dir);
  spdlog::info("connection caps: {} per listener, {} per client address", cfg.max_connections,
               cfg.max_connections_per_address);
  WarnIfPlain(server, "the admin API and portal");
  std::thread sub_thread, metrics_thread;
  if (metrics_server) {
    spdlog::info("metrics on {}{}/metrics", scheme, metrics_server->address());
    metrics_thread = std::thread([&] { metrics_server->Run(); });
  }
  if (sub_server) {
    spdlog::info("Submission API listening on {}{}", scheme, sub_server->address());
    WarnIfPlain(*sub_server, "the Submission API");
    sub_thread = std::thread([&] { sub_server->Run(); });
  }
  // systemd (Type=notify): ready once listening; the watchdog pings while the process runs.
  app::Notify("READY=1\nSTATUS=listening on " + server.address());
  std::optional<app::WatchdogPinger> watchdog;
  if (auto interval = app::WatchdogInterval()) watchdog.emplace(*interval);
  server.Run();
  if (sub_server) {
    sub_server->Stop();
    sub_thread.join();
  }
  if (metrics_server) {
    metrics_server->Stop();
    metrics_thread.join();
  }
  deliverer.Stop();
  submissions.Drain();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
#if !defined(__SANITIZE_ADDRESS__)
  prctl(PR_SET_DUMPABLE, 0);  // no core dumps or ptrace reads of key material (LSan needs ptrace)
#endif
  CLI::App app{"Sandgate: one Sandbox Submission API token per organization."};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  Common c;
  int rc = 0;

  // serve
  ServeFlags sf;
  auto* serve = app.add_subcommand("serve", "Run the HTTP server");
  AddCommon(serve, c, true);
  serve->add_flag("--demo", sf.demo,
                  "On an empty data directory, create a demo organization and three logins");
  serve->callback([&] { rc = Serve(c, sf); });

  // init
  std::string admin_name = "admin";
  auto* init = app.add_subcommand(
      "init", "Create the data directory, the key file and the first provider admin");
  AddCommon(init, c, false);
  init->add_option("--admin", admin_name, "Username of the first provider admin");
  init->callback([&] {
    auto opened = OpenInstance(c, true);
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
    auto pw = (*opened)->CreateFirstAdmin(admin_name);
    if (!pw.ok()) {
      rc = Fail(pw.status());
      return;
    }
    std::cout << "Initialized " << (*opened)->config().data_dir << ".\nProvider admin '"
              << admin_name << "' password (shown once): " << pw.value() << "\n";
  });

  // org
  auto* org = app.add_subcommand("org", "Manage organizations (as the provider)");
  org->require_subcommand(1);
  std::string name, search, ends_at, reason = "OTHER", note;
  int64_t org_id = 0;
  int64_t page = 1;
  auto with_org = [&](CLI::App* cmd) {
    AddCommon(cmd, c, false);
    cmd->add_option("ORG_ID", org_id, "Organization id")->required()->check(CLI::PositiveNumber);
  };
  auto run = [&](auto fn) {
    return [&, fn] {
      auto opened = OpenInstance(c, false);
      if (!opened.ok()) {
        rc = Fail(opened.status());
        return;
      }
      rc = fn(**opened);
    };
  };
  auto* org_create = org->add_subcommand("create", "Create an organization");
  AddCommon(org_create, c, false);
  org_create->add_option("NAME", name, "Organization name")->required();
  org_create->callback(run([&](app::Instance& i) {
    return PrintResult(i.services().CreateOrg(service::Actor::Cli(), name));
  }));
  auto* org_list = org->add_subcommand("list", "List organizations");
  AddCommon(org_list, c, false);
  org_list->add_option("--search", search, "Name contains");
  org_list->add_option("--page", page, "Page (50 per page)")->check(CLI::PositiveNumber);
  org_list->callback(run([&](app::Instance& i) {
    auto r = i.services().ListOrgs(service::Actor::Cli(), search, (page - 1) * 50, 50);
    if (!r.ok()) return Fail(r.status());
    for (const auto& o : r->items)
      std::cout << o.id << "\t" << o.name << "\t" << domain::ToString(o.subscription)
                << (o.provider_disabled ? "\tDISABLED" : "") << "\n";
    std::cout << r->total << " organization(s)\n";
    return 0;
  }));
  auto* org_show = org->add_subcommand("show", "Show an organization and its token status");
  with_org(org_show);
  org_show->callback(run([&](app::Instance& i) {
    return PrintResult(i.services().ReadToken(service::Actor::Cli(), org_id));
  }));
  // Not a structured binding: clang 14 cannot capture one in a lambda (the TSan and fuzz builds).
  for (const auto& sub :
       {std::tuple{"activate", domain::Action::kActivate, "Activate the sandbox subscription"},
        std::tuple{"expire", domain::Action::kExpire, "Expire the subscription now"},
        std::tuple{"renew", domain::Action::kRenew, "Renew the subscription"}}) {
    const char* cmd_name = std::get<0>(sub);
    const domain::Action action = std::get<1>(sub);
    const char* help = std::get<2>(sub);
    auto* cmd = org->add_subcommand(cmd_name, help);
    with_org(cmd);
    if (action != domain::Action::kExpire)
      cmd->add_option("--ends-at", ends_at, "End date, e.g. 2027-12-31T00:00:00Z");
    cmd->callback(run([&, action](app::Instance& i) {
      bool bad = false;
      auto ends = ParseEnds(ends_at, &bad);
      if (bad) {
        std::cerr << "error: --ends-at must be a time like 2027-12-31T00:00:00Z\n";
        return 2;
      }
      return PrintResult(
          i.services().ChangeSubscription(service::Actor::Cli(), org_id, action, ends));
    }));
  }
  auto* org_disable = org->add_subcommand("disable", "Disable the organization's token");
  with_org(org_disable);
  org_disable->add_option("--reason", reason, "QUOTA_THRESHOLD, TERMS_VIOLATION or OTHER")
      ->check(CLI::IsMember({"QUOTA_THRESHOLD", "TERMS_VIOLATION", "OTHER"}));
  org_disable->add_option("--note", note, "Free-text note");
  org_disable->callback(run([&](app::Instance& i) {
    return PrintResult(i.services().DisableToken(service::Actor::Cli(), org_id,
                                                 *domain::ParseDisableReason(reason), note));
  }));
  auto* org_enable = org->add_subcommand("enable", "Enable the organization's token again");
  with_org(org_enable);
  org_enable->callback(run([&](app::Instance& i) {
    return PrintResult(i.services().EnableToken(service::Actor::Cli(), org_id));
  }));
  service::OrgPatch patch;
  auto* org_set = org->add_subcommand("set", "Change an organization's name or quota settings");
  with_org(org_set);
  org_set->add_option("--name", patch.name, "New name");
  org_set->add_option("--daily-allowance", patch.daily_allowance, "Submissions per UTC day");
  org_set->add_option("--rate-per-second", patch.rate_per_second, "Submit calls per second");
  org_set->add_option("--rate-per-hour", patch.rate_per_hour, "Submit calls per hour");
  org_set->add_option("--disable-threshold", patch.disable_threshold,
                      "Over-quota attempts per day that disable the token");
  std::string leak_policy;
  org_set
      ->add_option("--leak-policy", leak_policy,
                   "What a report of the token found in public does: REVOKE or NOTIFY")
      ->check(CLI::IsMember({"REVOKE", "NOTIFY"}));
  org_set->callback(run([&](app::Instance& i) {
    if (!leak_policy.empty()) patch.leak_policy = domain::ParseLeakPolicy(leak_policy);
    return PrintResult(i.services().PatchOrg(service::Actor::Cli(), org_id, patch));
  }));

  // user
  auto* user = app.add_subcommand("user", "Manage users (as the provider)");
  user->require_subcommand(1);
  std::string username, role, password;
  int64_t user_id = 0;
  std::optional<int64_t> user_org;
  auto* user_create = user->add_subcommand("create", "Create a user");
  AddCommon(user_create, c, false);
  user_create->add_option("USERNAME", username, "Username")->required();
  user_create->add_option("--role", role, "PROVIDER_ADMIN, ORG_ADMIN or ORG_READONLY")
      ->required()
      ->check(CLI::IsMember({"PROVIDER_ADMIN", "ORG_ADMIN", "ORG_READONLY"}));
  user_create->add_option("--org", user_org, "Organization id (organization users)");
  user_create->callback(run([&](app::Instance& i) {
    auto r = i.services().CreateUser(service::Actor::Cli(),
                                     {username, *domain::ParseRole(role), user_org, ""});
    if (!r.ok()) return Fail(r.status());
    std::cout << "user " << r->first.id << " '" << r->first.username
              << "' created; password (shown once): " << r->second << "\n";
    return 0;
  }));
  auto* user_list =
      user->add_subcommand("list", "List users of an organization (or provider admins)");
  AddCommon(user_list, c, false);
  user_list->add_option("--org", user_org, "Organization id; omit for provider admins");
  user_list->callback(run([&](app::Instance& i) {
    auto r = i.services().ListUsers(service::Actor::Cli(), user_org);
    if (!r.ok()) return Fail(r.status());
    for (const auto& u : r.value())
      std::cout << u.id << "\t" << u.username << "\t" << domain::ToString(u.role) << "\n";
    return 0;
  }));
  auto* user_role = user->add_subcommand("set-role", "Change a user's role");
  AddCommon(user_role, c, false);
  user_role->add_option("USER_ID", user_id)->required()->check(CLI::PositiveNumber);
  user_role->add_option("ROLE", role)
      ->required()
      ->check(CLI::IsMember({"ORG_ADMIN", "ORG_READONLY"}));
  user_role->add_option("--org", user_org, "The user's organization id")->required();
  user_role->callback(run([&](app::Instance& i) {
    auto r =
        i.services().ChangeRole(service::Actor::Cli(), user_org, user_id, *domain::ParseRole(role));
    if (!r.ok()) return Fail(r.status());
    std::cout << "user " << r->id << " is now " << domain::ToString(r->role) << "\n";
    return 0;
  }));
  auto* user_reset = user->add_subcommand("reset-password", "Set a new random password");
  AddCommon(user_reset, c, false);
  user_reset->add_option("USER_ID", user_id)->required()->check(CLI::PositiveNumber);
  user_reset->add_option("--org", user_org, "The user's organization id; omit for provider admins");
  user_reset->callback(run([&](app::Instance& i) {
    auto r = i.services().ResetPassword(service::Actor::Cli(), user_org, user_id, "");
    if (!r.ok()) return Fail(r.status());
    std::cout << "new password (shown once): " << r.value() << "\n";
    return 0;
  }));
  auto* user_delete = user->add_subcommand("delete", "Delete a user");
  AddCommon(user_delete, c, false);
  user_delete->add_option("USER_ID", user_id)->required()->check(CLI::PositiveNumber);
  user_delete->add_option("--org", user_org,
                          "The user's organization id; omit for provider admins");
  user_delete->callback(run([&](app::Instance& i) {
    Status st = i.services().DeleteUser(service::Actor::Cli(), user_org, user_id);
    if (!st.ok()) return Fail(st);
    std::cout << "deleted\n";
    return 0;
  }));

  // migrate
  auto* migrate = app.add_subcommand(
      "migrate",
      "Apply pending schema migrations to the store (required before serving a new "
      "version on PostgreSQL; SQLite migrates by itself)");
  AddCommon(migrate, c, false);
  bool dry_run = false;
  migrate->add_flag("--dry-run", dry_run, "Print the pending migrations without applying them");
  migrate->callback([&] {
    auto cfg = ResolveConfig(c);
    if (!cfg.ok()) {
      rc = Fail(cfg.status());
      return;
    }
    const std::string url = cfg->store.empty() ? cfg->data_dir + "/sandgate.db" : cfg->store;
    if (dry_run) {
      rc = cli::MigrateDryRun(url, Fail);
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

  // store copy
  auto* storecmd = app.add_subcommand("store", "Move data between stores");
  storecmd->require_subcommand(1);
  std::string copy_from, copy_to;
  auto* copy = storecmd->add_subcommand(
      "copy", "Copy every row of one store into another, empty one (e.g. SQLite to PostgreSQL)");
  copy->add_option("--from", copy_from, "Source store URL (sqlite:PATH or postgres://...)")
      ->required();
  copy->add_option("--to", copy_to, "Target store URL; must be empty (its schema is created)")
      ->required();
  copy->callback([&] {
    auto from = app::OpenStoreUrl(copy_from, /*migrate=*/false);
    if (!from.ok()) {
      rc = Fail(from.status());
      return;
    }
    auto to = app::OpenStoreUrl(copy_to, /*migrate=*/true);
    if (!to.ok()) {
      rc = Fail(to.status());
      return;
    }
    Status st = store::CopyStore(**from, **to, [](const std::string& table, int64_t n) {
      std::cout << table << ": " << n << " rows\n";
    });
    if (!st.ok()) {
      rc = Fail(st);
      return;
    }
    std::cout << "copied " << (*from)->Describe() << " to " << (*to)->Describe() << "\n";
  });

  // audit verify
  auto* audit = app.add_subcommand("audit", "The audit trail");
  audit->require_subcommand(1);
  auto* audit_verify = audit->add_subcommand(
      "verify",
      "Check the audit trail's hash chain: names every modified, deleted or reordered "
      "record (exit 0 intact, 1 not)");
  AddCommon(audit_verify, c, false);
  audit_verify->callback(run([&](app::Instance& i) {
    auto rep = store::VerifyAuditChain(*i.store(), i.store()->audit_key());
    if (!rep.ok()) return Fail(rep.status());
    for (const std::string& p : rep->problems) std::cout << "TAMPERED: " << p << "\n";
    std::cout << "audit trail: " << rep->records << " records";
    if (rep->unchained) std::cout << " (" << rep->unchained << " written before the chain)";
    if (rep->records)
      std::cout << "; newest record " << rep->head_id << ", chain " << rep->head_chain;
    std::cout << (rep->problems.empty() ? "\nintact\n" : "\nNOT intact\n");
    return rep->problems.empty() ? 0 : 1;
  }));

  // keys
  auto* keys = app.add_subcommand("keys", "Manage the key file's seal keys");
  keys->require_subcommand(1);
  bool no_reseal = false;
  auto print_reseal = [](const service::ResealResult& r) {
    std::cout << "resealed " << r.resealed << " token(s) under key " << r.key_id << " (" << r.tokens
              << " token(s) in the store)\n";
  };
  auto* keys_rotate = keys->add_subcommand(
      "rotate",
      "Add a new seal key to the key file (the old one kept) and re-seal every token with it; "
      "tokens do not change and running servers keep working");
  AddCommon(keys_rotate, c, false);
  keys_rotate->add_flag("--no-reseal", no_reseal,
                        "Only write the new key file (several nodes: copy it to every node, then "
                        "run `sandgate keys reseal`)");
  keys_rotate->callback(run([&](app::Instance& i) {
    const std::string before = i.keys()->key_id();
    auto id = i.keys()->Rotate();
    if (!id.ok()) return Fail(id.status());
    std::cout << "key file " << i.keys()->path() << ": new seal key " << id.value()
              << " (previous key " << before << " kept as an old key)\n";
    if (no_reseal) {
      Status st = i.services().Audit(service::Actor::Cli(), std::nullopt, "KEYS_ROTATE", "ALLOWED",
                                     "new key " + id.value() + "; not resealed");
      if (!st.ok()) return Fail(st);
      std::cout << "tokens not resealed; run `sandgate keys reseal` once every node has the file\n";
      return 0;
    }
    auto r = i.services().ResealTokens(service::Actor::Cli(), "KEYS_ROTATE");
    if (!r.ok()) return Fail(r.status());
    print_reseal(r.value());
    return 0;
  }));
  auto* keys_reseal = keys->add_subcommand(
      "reseal", "Re-seal every token not sealed under the key file's current seal key");
  AddCommon(keys_reseal, c, false);
  keys_reseal->callback(run([&](app::Instance& i) {
    auto r = i.services().ResealTokens(service::Actor::Cli(), "KEYS_RESEAL");
    if (!r.ok()) return Fail(r.status());
    print_reseal(r.value());
    return 0;
  }));
  auto* keys_list =
      keys->add_subcommand("list", "List the seal key ids and how many tokens each seals");
  AddCommon(keys_list, c, false);
  keys_list->callback(run([&](app::Instance& i) {
    auto counts = i.services().TokensPerKey();
    if (!counts.ok()) return Fail(counts.status());
    const auto ids = i.keys()->key_ids();
    for (size_t k = 0; k < ids.size(); ++k) {
      auto it = counts->find(ids[k]);
      std::cout << ids[k] << "\t" << (k == 0 ? "current" : "old") << "\t"
                << (it == counts->end() ? 0 : it->second) << " token(s)\n";
      if (it != counts->end()) counts->erase(it);
    }
    for (const auto& [id, n] : counts.value())
      std::cout << id << "\tMISSING\t" << n << " token(s)\n";
    return counts->empty() ? 0 : 1;
  }));
  auto* keys_retire = keys->add_subcommand(
      "retire-old",
      "Drop the old seal keys no token is sealed under (refused while any token uses one)");
  AddCommon(keys_retire, c, false);
  keys_retire->callback(run([&](app::Instance& i) {
    auto counts = i.services().TokensPerKey();
    if (!counts.ok()) return Fail(counts.status());
    std::set<std::string> in_use;
    for (const auto& [id, n] : counts.value()) in_use.insert(id);
    auto r = i.keys()->RetireOld(in_use);
    if (!r.ok()) return Fail(r.status());
    std::string ids;
    for (const auto& id : r.value()) ids += " " + id;
    Status st = i.services().Audit(service::Actor::Cli(), std::nullopt, "KEYS_RETIRE", "ALLOWED",
                                   "retired" + (ids.empty() ? std::string(" none") : ids));
    if (!st.ok()) return Fail(st);
    std::cout << "retired " << r->size() << " old key(s)" << ids << "; current key "
              << i.keys()->key_id() << "\n";
    return 0;
  }));

  // token
  auto* tok = app.add_subcommand("token", "Inspect tokens");
  tok->require_subcommand(1);
  std::string token_text;
  auto* tok_verify = tok->add_subcommand(
      "verify", "Check a token as the Submission API would (exit 0 if accepted)");
  AddCommon(tok_verify, c, false);
  tok_verify->add_option("TOKEN", token_text, "The token (or - to read it from standard input)")
      ->required();
  tok_verify->callback(run([&](app::Instance& i) {
    if (token_text == "-") std::getline(std::cin, token_text);
    auto v = i.services().index().Verify(token_text, i.services().clock().now());
    Wipe(token_text);
    if (v.status.ok()) {
      std::cout << "accepted: organization " << *v.org << "\n";
      return 0;
    }
    std::cout << "refused: " << v.status.message() << " (" << v.status.code() << ")\n";
    return 1;
  }));
  // token report-leak (issue 20): a report from a scanner other than GitHub's partner program.
  std::string leak_url, leak_scanner;
  auto* tok_leak = tok->add_subcommand(
      "report-leak",
      "Report a token found in public: a live token is revoked (or only reported, by the "
      "organization's leak policy), audited and notified");
  AddCommon(tok_leak, c, false);
  tok_leak->add_option("TOKEN", token_text, "The token (or - to read it from standard input)")
      ->required();
  tok_leak->add_option("--source", leak_url, "Where it was found (a URL)")->required();
  tok_leak->add_option("--scanner", leak_scanner, "Which scanner found it (default cli)");
  tok_leak->callback(run([&](app::Instance& i) {
    if (token_text == "-") std::getline(std::cin, token_text);
    WipeOnExit wipe_token(token_text);
    auto r = i.services().ReportLeak(
        service::Actor::Cli(), token_text,
        service::LeakReport{leak_url, leak_scanner.empty() ? "cli" : leak_scanner});
    if (!r.ok()) return Fail(r.status());
    // Never the token itself: its organization and last four characters say which it was.
    if (!r->live) {
      std::cout << "false_positive: not a live Sandgate token (unknown, malformed or already "
                   "revoked); nothing changed\n";
      return 0;
    }
    std::cout << "true_positive: organization " << *r->org << ", token ..." << r->last4 << " "
              << (r->action == "REVOKED" ? "revoked" : "reported (still active: policy NOTIFY)")
              << "\n";
    return 0;
  }));
  auto* tok_show = tok->add_subcommand("show", "Show an organization's token status (masked)");
  with_org(tok_show);
  tok_show->callback(run([&](app::Instance& i) {
    return PrintResult(i.services().ReadToken(service::Actor::Cli(), org_id));
  }));

  // config check, backup, restore (src/cli/lifecycle.cc)
  cli::AddLifecycleCommands(
      app, &rc,
      {[&](CLI::App* cmd) { AddCommon(cmd, c, false); }, [&] { return ResolveConfig(c); }, Fail});

  // av-scan: the out-of-process AV scan `serve` uses for large files (hidden from --help).
  std::string av_file, av_sigs, av_rules, av_tmp;
  auto* avscan = app.add_subcommand("av-scan", "Scan one file with ClamAV (used by serve)");
  avscan->group("");
  avscan->add_option("FILE", av_file)->required();
  avscan->add_option("--signatures-dir", av_sigs);
  avscan->add_option("--rules-dir", av_rules);
  avscan->add_option("--temp-dir", av_tmp);
  uint64_t av_max_bytes = 0;
  avscan->add_option("--max-scan-bytes", av_max_bytes,
                     "What the scan may read in total: the file and what it unpacks");
  avscan->callback([&] {
    analysis::EngineConfig ec;
    if (av_max_bytes > 0) ec.av_scan_limit = av_max_bytes;
    if (!av_sigs.empty()) ec.signatures_dir = av_sigs;
    if (!av_rules.empty()) ec.rules_dir = av_rules;
    ec.load_rules = false;  // ClamAV only: the child never runs the YARA rules
    ec.temp_dir = av_tmp;
    auto engine = analysis::Engine::Load(ec);
    if (!engine.ok()) {
      std::cout << "ERROR " << engine.status().message() << "\n";
      rc = 1;
      return;
    }
    std::string virus, av_error;
    Status st = engine.value()->ScanAv(av_file, &virus, &av_error);
    if (!st.ok()) {
      std::cout << "ERROR " << st.message() << "\n";
      rc = 1;
    } else if (!virus.empty()) {
      std::cout << "VIRUS " << virus << "\n";
    } else if (!av_error.empty()) {
      std::cout << "AVERROR " << av_error << "\n";
    } else {
      std::cout << "CLEAN\n";
    }
  });

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
