// libFuzzer target: whole HTTP requests through the real router and handlers of an in-process
// Sandgate (the API, the portal and the Submission API, over a temporary data directory with a real
// SQLite store, key file and analysis engine). The bytes are parsed with Beast's request_parser and
// dispatched as src/http/server.cc does (target split, route lookup, body limit, buffered or
// streamed body), minus the socket.
//
// Placeholders in the input are replaced by live secrets so the fuzzer reaches signed-in handlers:
//   @PSID@ @PCSRF@  provider admin session cookie value and CSRF token
//   @ASID@ @ACSRF@  organization admin (Fuzz Corp)     @VSID@ @VCSRF@  read-only user
//   @TOKEN@         Fuzz Corp's Submission API token   @ORG@ Fuzz Corp's id   @UID@ its admin's id
// Up to four pipelined requests per input.
//
// Properties: no crash, no uncaught exception, no 500, every response serializes, and no response
// contains a session id or a password hash, nor the token except the answer to .../token/reveal
// (unless the client put that very text in its JSON body, which an error may quote, or planted it
// earlier where the server keeps it, such as a path that an audit record quotes: App::planted).
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <boost/asio.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/engine.h"
#include "api/api.h"
#include "app/instance.h"
#include "auth/sessions.h"
#include "http/router.h"
#include "http/server.h"
#include "submission/submission.h"
#include "web/assets.h"

using namespace sandgate;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

namespace {

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "http_request_fuzz: %s\n", why.c_str());
  std::abort();
}

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) Die(std::string(what) + ": " + r.status().message());
  return std::move(r.value());
}

struct Login {
  Login(const char* u, domain::Role r, const char* pw) : user(u), role(r), password(pw) {}
  const char* user;
  domain::Role role;
  std::string password;
  std::string sid, csrf;
  store::UserId uid = 0;
};

struct App {
  std::unique_ptr<app::Instance> inst;
  std::unique_ptr<analysis::EngineHolder> engines;
  std::unique_ptr<submission::SubmissionService> subs;
  std::unique_ptr<auth::SessionManager> sessions;
  std::shared_ptr<http::Router> router;
  std::shared_ptr<void> api_state;
  std::unique_ptr<asio::thread_pool> blocking;
  domain::OrgId org_id = 0;
  Login provider{"provider", domain::Role::kProviderAdmin, "fuzz-password-p"};
  Login admin{"fuzz-admin", domain::Role::kOrgAdmin, "fuzz-password-a"};
  Login viewer{"fuzz-viewer", domain::Role::kOrgReadonly, "fuzz-password-v"};
  std::string token, org, uid;
  std::string raw;     // the current input before placeholders were replaced
  bool stale = false;  // an input signed out, deleted a user or changed a password or role
  // Secrets an input put somewhere the server may keep them (a path, a note, a name): a later
  // response that quotes them quotes the client, not a leak. Planted sessions are replaced at the
  // next input (stale) and a planted token is regenerated, so the checks go on with fresh ones.
  std::set<std::string> planted;
  uint64_t requests = 0;
};

// (Re)creates the three users with their known passwords and roles and signs them in, so inputs
// that sign out, delete users or reset passwords do not lock later inputs out. Best effort: a
// sign-in the throttle refuses keeps the old (perhaps dead) session.
void SignIn(App& app) {
  auto& s = app.inst->services();
  const auto cli = service::Actor::Cli();
  for (Login* l : {&app.provider, &app.admin, &app.viewer}) {
    const std::optional<domain::OrgId> org = l->role == domain::Role::kProviderAdmin
                                                 ? std::nullopt
                                                 : std::optional<domain::OrgId>(app.org_id);
    bool exists = l->uid && s.ResetPassword(cli, org, l->uid, l->password).ok();
    if (exists && org) exists = s.ChangeRole(cli, *org, l->uid, l->role).ok();
    if (!exists) {
      auto u = s.CreateUser(cli, {l->user, l->role, org, l->password});
      if (u.ok()) l->uid = u->first.id;
    }
    int64_t retry = 0;
    auto r = app.sessions->Login(l->user, l->password, "127.0.0.1", &retry);
    if (r.ok()) {
      l->sid = r->session_id;
      l->csrf = r->csrf_token;
    }
  }
  app.uid = std::to_string(app.admin.uid);
  app.stale = false;
}

App* TheApp() {
  static App* a = [] {
    spdlog::set_level(spdlog::level::off);
    auto* app = new App();
    const char* base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string tmpl = std::string(base) + "/sandgate-http-fuzz-XXXXXX";
    if (!mkdtemp(tmpl.data())) Die("mkdtemp failed");
    app::Config cfg;
    cfg.data_dir = tmpl + "/data";
    app->inst = Must(app::Instance::Open(cfg, true), "open the data directory");
    auto& s = app->inst->services();
    const auto cli = service::Actor::Cli();
    auto org = Must(s.CreateOrg(cli, "Fuzz Corp"), "create org");
    app->org_id = org.org.id;
    app->org = std::to_string(app->org_id);
    Must(s.ChangeSubscription(cli, app->org_id, domain::Action::kActivate, std::nullopt),
         "activate");
    service::OrgPatch unlimited;
    unlimited.daily_allowance = unlimited.rate_per_second = unlimited.rate_per_hour =
        unlimited.disable_threshold = 1'000'000'000;
    Must(s.PatchOrg(cli, app->org_id, unlimited), "unlimited quota");
    Must(s.CreateOrg(cli, "Other Corp"), "second org");

    analysis::EngineConfig ec;
    ec.temp_dir = cfg.data_dir + "/spool";
    mkdir(ec.temp_dir.c_str(), 0700);
    app->engines = Must(analysis::EngineHolder::Open(ec), "analysis engine");
    submission::SubmissionOptions so;
    so.spool_dir = ec.temp_dir;
    so.static_workers = 1;
    so.static_queue = 8;
    app->subs = std::make_unique<submission::SubmissionService>(s, *app->engines, so);
    app->sessions = std::make_unique<auth::SessionManager>(s);
    app->router = std::make_shared<http::Router>();
    api::ApiOptions ao;
    ao.submissions = app->subs.get();
    app->api_state = api::RegisterApi(*app->router, s, *app->sessions, ao);
    web::RegisterPortal(*app->router, "");
    app->subs->Register(*app->router);
    app->blocking = std::make_unique<asio::thread_pool>(1);

    SignIn(*app);
    if (app->admin.sid.empty()) Die("the organization admin cannot sign in");
    auto who = Must(app->sessions->Authenticate(app->admin.sid), "authenticate");
    (void)s.AddToken(who.actor("127.0.0.1"), app->org_id);  // activation may have provisioned one
    app->token = Must(s.RevealToken(who.actor("127.0.0.1"), app->org_id), "reveal");
    return app;
  }();
  return a;
}

void ReplaceAll(std::string& s, std::string_view from, const std::string& to) {
  for (size_t i = s.find(from); i != std::string::npos; i = s.find(from, i + to.size()))
    s.replace(i, from.size(), to);
}

// The server's BodyReader over the rest of the input instead of a socket.
class MemoryBodyReader : public http::BodyReader {
 public:
  MemoryBodyReader(bhttp::request_parser<bhttp::buffer_body>& p, std::string_view& rest)
      : p_(p), rest_(rest) {}
  asio::awaitable<Result<size_t>> Read(char* buf, size_t n) override {
    if (gone_) co_return Status(499, "CLIENT_GONE", "The client went away.");
    if (p_.is_done()) co_return size_t{0};
    for (;;) {
      p_.get().body().data = buf;
      p_.get().body().size = n;
      p_.get().body().more = true;
      beast::error_code ec;
      size_t used = p_.put(asio::buffer(rest_.data(), rest_.size()), ec);
      rest_.remove_prefix(used);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec == bhttp::error::body_limit)
        co_return Status(413, "PAYLOAD_TOO_LARGE", "The request body is too large.");
      size_t got = n - p_.get().body().size;
      if (ec == bhttp::error::need_more) ec = {};  // the input ends here: handled just below
      if (ec || (got == 0 && used == 0 && !p_.is_done())) {
        gone_ = true;  // malformed or truncated: the connection would be dropped
        co_return Status(499, "CLIENT_GONE", "The client went away.");
      }
      if (got > 0 || p_.is_done()) co_return got;
    }
  }
  std::optional<uint64_t> content_length() const override {
    auto n = p_.content_length();
    return n ? std::optional<uint64_t>(*n) : std::nullopt;
  }
  bool done() const override { return p_.is_done(); }
  bool gone() const { return gone_; }

 private:
  bhttp::request_parser<bhttp::buffer_body>& p_;
  std::string_view& rest_;
  bool gone_ = false;
};

// `echoable`: what the client itself put where a response may quote it (the JSON body, whose
// unknown field names are echoed in the error); a secret found there is not a leak.
void CheckResponse(App& app, http::Response& res, const std::string& path,
                   std::string_view echoable) {
  res.version(11);
  http::AddCommonHeaders(res);
  res.prepare_payload();
  std::ostringstream out;
  out << res;
  const std::string wire = out.str();
  if (res.result_int() == 500) Die("500 for " + path + ": " + res.body());
  auto leaked = [&](const std::string& secret) {
    return wire.find(secret) != std::string::npos && echoable.find(secret) == std::string::npos &&
           app.raw.find(secret) == std::string::npos && !app.planted.contains(secret);
  };
  for (const Login* l : {&app.provider, &app.admin, &app.viewer})
    if (leaked(l->sid)) Die("a session id in the response to " + path);
  if (leaked("$argon2")) Die("a password hash in the response to " + path);
  if (path != "/api/v1/sandbox/token/reveal" && leaked(app.token))
    Die("the token in the response to " + path);
}

// One request from the front of `rest`; false when the connection would end.
bool ServeOne(App& app, std::string_view& rest) {
  bhttp::request_parser<bhttp::empty_body> head;
  head.header_limit(16 * 1024);
  head.body_limit(boost::none);
  beast::error_code ec;
  size_t used = head.put(asio::buffer(rest.data(), rest.size()), ec);
  rest.remove_prefix(used);
  if (ec || !head.is_header_done()) return false;  // 400/431 or truncated: no handler runs
  const auto& h = head.get();
  const bhttp::verb method = h.method();
  const bool has_body = head.content_length().value_or(0) > 0 || head.chunked();
  http::RequestContext ctx;
  ctx.client_addr = "fuzz-" + std::to_string(++app.requests);  // no throttle carries over
  http::Response res;
  bool keep = h.keep_alive();
  bool body_read = false;
  std::string echoable;
  if (!http::SplitTarget(h.target(), &ctx.path, &ctx.query)) {
    res = http::JsonError(h.version(), 400, "BAD_REQUEST", "The request target is not valid.");
  } else {
    auto match = app.router->Find(h.method(), ctx.path);
    if (!match.route) {
      res = http::JsonError(h.version(), match.status, "NOT_FOUND", "No such resource.");
    } else if (head.content_length() && *head.content_length() > match.route->options.body_limit) {
      res = http::JsonError(h.version(), 413, "PAYLOAD_TOO_LARGE", "Too large.");
    } else if (match.route->stream_handler) {
      bhttp::request_parser<bhttp::buffer_body> sp(std::move(head));
      sp.body_limit(match.route->options.body_limit);
      MemoryBodyReader reader(sp, rest);
      ctx.params = std::move(match.params);
      ctx.blocking = app.blocking.get();
      asio::io_context ioc;
      asio::co_spawn(
          ioc,
          [&]() -> asio::awaitable<void> {
            res = co_await match.route->stream_handler(sp.get(), ctx, reader);
          },
          [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
          });
      ioc.run();
      if (reader.gone()) return false;
      body_read = reader.done();
    } else {
      bhttp::request_parser<bhttp::string_body> full(std::move(head));
      full.body_limit(match.route->options.body_limit);
      while (!full.is_done()) {
        size_t n = full.put(asio::buffer(rest.data(), rest.size()), ec);
        rest.remove_prefix(n);
        if (ec == bhttp::error::body_limit) {
          res = http::JsonError(11, 413, "PAYLOAD_TOO_LARGE", "Too large.");
          break;
        }
        if (ec == bhttp::error::need_more && n == 0) return false;  // truncated: the input ends
        if (ec && ec != bhttp::error::need_more) return false;      // malformed body
        if (n == 0 && rest.empty()) return false;
      }
      if (full.is_done()) {
        body_read = true;
        http::Request req = full.release();
        echoable = req.body();
        ctx.params = std::move(match.params);
        ctx.blocking = app.blocking.get();
        res = match.route->handler(req, ctx);
      }
    }
  }
  if (!body_read && has_body) keep = false;
  CheckResponse(app, res, ctx.path, echoable);
  if (method == bhttp::verb::delete_ || ctx.path.ends_with("/password") ||
      (method == bhttp::verb::patch && ctx.path.find("/users/") != std::string::npos))
    app.stale = true;
  return keep;
}

// Whether `input` holds `secret` anywhere but right after `prefix` (its one proper place).
bool PlacedElsewhere(const std::string& input, const std::string& secret, std::string_view prefix) {
  if (secret.empty()) return false;
  for (size_t p = input.find(secret); p != std::string::npos; p = input.find(secret, p + 1))
    if (p < prefix.size() || input.compare(p - prefix.size(), prefix.size(), prefix) != 0)
      return true;
  return false;
}

// Notes the secrets this input planted (see App::planted).
void NotePlanted(App& app, const std::string& input) {
  if (PlacedElsewhere(input, app.token, "api_token=")) app.planted.insert(app.token);
  for (const Login* l : {&app.provider, &app.admin, &app.viewer}) {
    if (PlacedElsewhere(input, l->sid, "sg_session=")) {
      app.planted.insert(l->sid);
      app.stale = true;
    }
  }
}

// Regenerates a planted token (best effort: a disabled or expired organization keeps it).
void RetireToken(App& app) {
  auto& s = app.inst->services();
  auto who = app.sessions->Authenticate(app.admin.sid);
  if (!who.ok()) return;
  const service::Actor actor = who->actor("127.0.0.1");
  if (!s.RegenerateToken(actor, app.org_id).ok()) return;
  auto t = s.RevealToken(actor, app.org_id);
  if (t.ok()) app.token = t.value();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  TheApp();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  App& app = *TheApp();
  if (app.stale) SignIn(app);
  if (app.planted.contains(app.token)) RetireToken(app);
  std::string input(reinterpret_cast<const char*>(data), size);
  app.raw = input;
  ReplaceAll(input, "@PSID@", app.provider.sid);
  ReplaceAll(input, "@PCSRF@", app.provider.csrf);
  ReplaceAll(input, "@ASID@", app.admin.sid);
  ReplaceAll(input, "@ACSRF@", app.admin.csrf);
  ReplaceAll(input, "@VSID@", app.viewer.sid);
  ReplaceAll(input, "@VCSRF@", app.viewer.csrf);
  ReplaceAll(input, "@TOKEN@", app.token);
  ReplaceAll(input, "@ORG@", app.org);
  ReplaceAll(input, "@UID@", app.uid);
  NotePlanted(app, input);
  std::string_view rest(input);
  for (int i = 0; i < 4 && !rest.empty(); ++i)
    if (!ServeOne(app, rest)) break;
  return 0;
}
