// `sandgate org ...`: the provider's organization commands, through the same Services calls as the
// provider console.
#include <iostream>
#include <optional>
#include <tuple>

#include "cli/commands.h"
#include "cli/common.h"
#include "common/clock.h"

namespace sandgate::cli {
namespace {

struct OrgOptions {
  std::string name, search, ends_at, reason = "OTHER", note, leak_policy;
  int64_t org_id = 0;
  int64_t page = 1;
  service::OrgPatch patch;
};

std::optional<TimeMs> ParseEnds(const std::string& s, bool* bad) {
  if (s.empty()) return std::nullopt;
  TimeMs t;
  if (!ParseIso8601(s, &t)) {
    *bad = true;
    return std::nullopt;
  }
  return t;
}

}  // namespace

void AddOrgCommands(CLI::App& app, const Context& ctx) {
  auto o = std::make_shared<OrgOptions>();
  auto* org = app.add_subcommand("org", "Manage organizations (as the provider)");
  org->require_subcommand(1);
  auto* org_create = org->add_subcommand("create", "Create an organization");
  AddCommon(org_create, *ctx.flags, false);
  org_create->add_option("NAME", o->name, "Organization name")->required();
  org_create->callback(OnInstance(ctx, [o](app::Instance& i) {
    return PrintResult(i.services().CreateOrg(service::Actor::Cli(), o->name));
  }));
  auto* org_list = org->add_subcommand("list", "List organizations");
  AddCommon(org_list, *ctx.flags, false);
  org_list->add_option("--search", o->search, "Name contains");
  org_list->add_option("--page", o->page, "Page (50 per page)")->check(CLI::PositiveNumber);
  org_list->callback(OnInstance(ctx, [o](app::Instance& i) {
    auto r = i.services().ListOrgs(service::Actor::Cli(), o->search, (o->page - 1) * 50, 50);
    if (!r.ok()) return Fail(r.status());
    for (const auto& org : r->items)
      std::cout << org.id << "\t" << org.name << "\t" << domain::ToString(org.subscription)
                << (org.provider_disabled ? "\tDISABLED" : "") << "\n";
    std::cout << r->total << " organization(s)\n";
    return 0;
  }));
  auto* org_show = org->add_subcommand("show", "Show an organization and its token status");
  AddCommonWithOrg(org_show, ctx, &o->org_id);
  org_show->callback(OnInstance(ctx, [o](app::Instance& i) {
    return PrintResult(i.services().ReadToken(service::Actor::Cli(), o->org_id));
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
    AddCommonWithOrg(cmd, ctx, &o->org_id);
    if (action != domain::Action::kExpire)
      cmd->add_option("--ends-at", o->ends_at, "End date, e.g. 2027-12-31T00:00:00Z");
    cmd->callback(OnInstance(ctx, [o, action](app::Instance& i) {
      bool bad = false;
      auto ends = ParseEnds(o->ends_at, &bad);
      if (bad) {
        std::cerr << "error: --ends-at must be a time like 2027-12-31T00:00:00Z\n";
        return 2;
      }
      return PrintResult(
          i.services().ChangeSubscription(service::Actor::Cli(), o->org_id, action, ends));
    }));
  }
  auto* org_disable = org->add_subcommand("disable", "Disable the organization's token");
  AddCommonWithOrg(org_disable, ctx, &o->org_id);
  org_disable->add_option("--reason", o->reason, "QUOTA_THRESHOLD, TERMS_VIOLATION or OTHER")
      ->check(CLI::IsMember({"QUOTA_THRESHOLD", "TERMS_VIOLATION", "OTHER"}));
  org_disable->add_option("--note", o->note, "Free-text note");
  org_disable->callback(OnInstance(ctx, [o](app::Instance& i) {
    return PrintResult(i.services().DisableToken(service::Actor::Cli(), o->org_id,
                                                 *domain::ParseDisableReason(o->reason), o->note));
  }));
  auto* org_enable = org->add_subcommand("enable", "Enable the organization's token again");
  AddCommonWithOrg(org_enable, ctx, &o->org_id);
  org_enable->callback(OnInstance(ctx, [o](app::Instance& i) {
    return PrintResult(i.services().EnableToken(service::Actor::Cli(), o->org_id));
  }));
  auto* org_set = org->add_subcommand("set", "Change an organization's name or quota settings");
  AddCommonWithOrg(org_set, ctx, &o->org_id);
  org_set->add_option("--name", o->patch.name, "New name");
  org_set->add_option("--daily-allowance", o->patch.daily_allowance, "Submissions per UTC day");
  org_set->add_option("--rate-per-second", o->patch.rate_per_second, "Submit calls per second");
  org_set->add_option("--rate-per-hour", o->patch.rate_per_hour, "Submit calls per hour");
  org_set->add_option("--disable-threshold", o->patch.disable_threshold,
                      "Over-quota attempts per day that disable the token");
  org_set
      ->add_option("--leak-policy", o->leak_policy,
                   "What a report of the token found in public does: REVOKE or NOTIFY")
      ->check(CLI::IsMember({"REVOKE", "NOTIFY"}));
  org_set->callback(OnInstance(ctx, [o](app::Instance& i) {
    if (!o->leak_policy.empty()) o->patch.leak_policy = domain::ParseLeakPolicy(o->leak_policy);
    return PrintResult(i.services().PatchOrg(service::Actor::Cli(), o->org_id, o->patch));
  }));
}

}  // namespace sandgate::cli
