// `sandgate serve`: the HTTP server (portal, API, Submission API, /metrics) over the data
// directory; and `av-scan`, the child process it runs to AV-scan large files.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
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

#include <cctype>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "analysis/engine.h"
#include "analysis/yara_rules.h"
#include "api/api.h"
#include "app/instance.h"
#include "app/sd_notify.h"
#include "auth/sessions.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "common/allocator.h"
#include "common/log_format.h"
#include "common/secret.h"
#include "http/metrics_endpoint.h"
#include "http/server.h"
#include "metrics/process_metrics.h"
#include "metrics/sandgate_metrics.h"
#include "notify/delivery.h"
#include "service/webhook_service.h"
#include "web/assets.h"

namespace sandgate::cli {
namespace {

// Operational messages go to stderr and the log file, flushed with every line. Request lines
// ("access" logger, see http::Server) go to the log file only (stderr when there is none) through
// the same sink, so lines never interleave; they are buffered and reach the file within a second,
// or sooner with the next operational message: one write per buffer, not per request (the way
// nginx's `access_log ... buffer= flush=` works).
// Lines are "2026-12-05T10:28:33.684Z info MESSAGE" (MakeTextFormatter), or JSON.
constexpr size_t kLogBufferBytes = 64 * 1024;

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
    if (!log_file.empty()) {
      // A 64 KiB stdio buffer, as nginx's `access_log ... buffer=64k`: request lines reach the
      // file in one write per 64 KiB (or per second, or with the next operational message), not
      // one per 4 KiB.
      spdlog::file_event_handlers on_open;
      on_open.after_open = [](const spdlog::filename_t&, std::FILE* f) {
        std::setvbuf(f, nullptr, _IOFBF, kLogBufferBytes);
      };
      sinks.push_back(file_sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(
                          log_file, false, on_open));
    }
  }
  auto logger = std::make_shared<spdlog::logger>("sandgate", sinks.begin(), sinks.end());
  logger->set_formatter(json ? MakeJsonFormatter() : MakeTextFormatter());
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  spdlog::sink_ptr access_sink = file_sink ? file_sink : stderr_sink;
  if (access_sink) {
    auto access = std::make_shared<spdlog::logger>("access", access_sink);
    access->set_formatter(json ? MakeJsonFormatter() : MakeTextFormatter());
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

int Serve(const CommonFlags& c, const ServeFlags& f) {
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
  spdlog::info("memory allocator: {}", AllocatorDescription());
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
void AddServeCommand(CLI::App& app, const Context& ctx) {
  auto f = std::make_shared<ServeFlags>();
  auto* serve = app.add_subcommand("serve", "Run the HTTP server");
  AddCommon(serve, *ctx.flags, true);
  serve->add_flag("--demo", f->demo,
                  "On an empty data directory, create a demo organization and three logins");
  serve->callback([ctx, f] { *ctx.rc = Serve(*ctx.flags, *f); });
}

namespace {

struct AvScanOptions {
  std::string file, sigs, rules, tmp;
  uint64_t max_bytes = 0;
  uint64_t follow_bytes = 0;
};

}  // namespace

void AddAvScanCommand(CLI::App& app, const Context& ctx) {
  auto o = std::make_shared<AvScanOptions>();
  auto* avscan = app.add_subcommand("av-scan", "Scan one file with ClamAV (used by serve)");
  avscan->group("");
  avscan->add_option("FILE", o->file)->required();
  avscan->add_option("--signatures-dir", o->sigs);
  avscan->add_option("--rules-dir", o->rules);
  avscan->add_option("--temp-dir", o->tmp);
  avscan->add_option("--max-scan-bytes", o->max_bytes,
                     "What the scan may read in total: the file and what it unpacks");
  avscan->add_option("--follow-bytes", o->follow_bytes,
                     "The file is still being written and will hold this many bytes: wait for "
                     "each byte the scan needs (Engine::StartAvScan)");
  avscan->callback([o, rc = ctx.rc] {
    analysis::EngineConfig ec;
    if (o->max_bytes > 0) ec.av_scan_limit = o->max_bytes;
    if (!o->sigs.empty()) ec.signatures_dir = o->sigs;
    if (!o->rules.empty()) ec.rules_dir = o->rules;
    ec.load_rules = false;  // ClamAV only: the child never runs the YARA rules
    ec.temp_dir = o->tmp;
    auto engine = analysis::Engine::Load(ec);
    if (!engine.ok()) {
      std::cout << "ERROR " << engine.status().message() << "\n";
      *rc = 1;
      return;
    }
    // A following scan dies with the server that waits for it (it could wait for bytes forever).
    // It runs beside the upload it follows, at a lower priority (nice 10, like the side digests'
    // follower) so the receive keeps its pace (target 4); once the body is in, nothing at a higher
    // priority is left to yield to.
    if (o->follow_bytes > 0) {
      (void)::prctl(PR_SET_PDEATHSIG, SIGKILL);
      (void)::setpriority(PRIO_PROCESS, 0, 10);
    }
    std::string virus, av_error;
    Status st = engine.value()->ScanAv(o->file, &virus, &av_error, o->follow_bytes);
    if (!st.ok()) {
      std::cout << "ERROR " << st.message() << "\n";
      *rc = 1;
    } else if (!virus.empty()) {
      std::cout << "VIRUS " << virus << "\n";
    } else if (!av_error.empty()) {
      std::cout << "AVERROR " << av_error << "\n";
    } else {
      std::cout << "CLEAN\n";
    }
  });
}

}  // namespace sandgate::cli
