// `sandgate token ...`: check a token as the Submission API would, report a leaked one, show an
// organization's token status.
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "common/secret.h"

namespace sandgate::cli {
namespace {

struct TokenOptions {
  std::string token_text;  // wiped once used
  std::string leak_url, leak_scanner;
  int64_t org_id = 0;
};

}  // namespace

void AddTokenCommands(CLI::App& app, const Context& ctx) {
  auto o = std::make_shared<TokenOptions>();
  auto* tok = app.add_subcommand("token", "Inspect tokens");
  tok->require_subcommand(1);
  auto* tok_verify = tok->add_subcommand(
      "verify", "Check a token as the Submission API would (exit 0 if accepted)");
  AddCommon(tok_verify, *ctx.flags, false);
  tok_verify->add_option("TOKEN", o->token_text, "The token (or - to read it from standard input)")
      ->required();
  tok_verify->callback(OnInstance(ctx, [o](app::Instance& i) {
    if (o->token_text == "-") std::getline(std::cin, o->token_text);
    auto v = i.services().index().Verify(o->token_text, i.services().clock().now());
    Wipe(o->token_text);
    if (v.status.ok()) {
      std::cout << "accepted: organization " << *v.org << "\n";
      return 0;
    }
    std::cout << "refused: " << v.status.message() << " (" << v.status.code() << ")\n";
    return 1;
  }));
  // token report-leak (issue 20): a report from a scanner other than GitHub's partner program.
  auto* tok_leak = tok->add_subcommand(
      "report-leak",
      "Report a token found in public: a live token is revoked (or only reported, by the "
      "organization's leak policy), audited and notified");
  AddCommon(tok_leak, *ctx.flags, false);
  tok_leak->add_option("TOKEN", o->token_text, "The token (or - to read it from standard input)")
      ->required();
  tok_leak->add_option("--source", o->leak_url, "Where it was found (a URL)")->required();
  tok_leak->add_option("--scanner", o->leak_scanner, "Which scanner found it (default cli)");
  tok_leak->callback(OnInstance(ctx, [o](app::Instance& i) {
    if (o->token_text == "-") std::getline(std::cin, o->token_text);
    WipeOnExit wipe_token(o->token_text);
    auto r = i.services().ReportLeak(
        service::Actor::Cli(), o->token_text,
        service::LeakReport{o->leak_url, o->leak_scanner.empty() ? "cli" : o->leak_scanner});
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
  AddCommonWithOrg(tok_show, ctx, &o->org_id);
  tok_show->callback(OnInstance(ctx, [o](app::Instance& i) {
    return PrintResult(i.services().ReadToken(service::Actor::Cli(), o->org_id));
  }));
}

}  // namespace sandgate::cli
