// `sandgate user ...`: the provider's user commands, through the same Services calls as the API.
#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "cli/common.h"

namespace sandgate::cli {
namespace {

struct UserOptions {
  std::string username, role;
  int64_t user_id = 0;
  std::optional<int64_t> org;
};

}  // namespace

void AddUserCommands(CLI::App& app, const Context& ctx) {
  auto o = std::make_shared<UserOptions>();
  auto* user = app.add_subcommand("user", "Manage users (as the provider)");
  user->require_subcommand(1);
  auto* user_create = user->add_subcommand("create", "Create a user");
  AddCommon(user_create, *ctx.flags, false);
  user_create->add_option("USERNAME", o->username, "Username")->required();
  user_create->add_option("--role", o->role, "PROVIDER_ADMIN, ORG_ADMIN or ORG_READONLY")
      ->required()
      ->check(CLI::IsMember({"PROVIDER_ADMIN", "ORG_ADMIN", "ORG_READONLY"}));
  user_create->add_option("--org", o->org, "Organization id (organization users)");
  user_create->callback(OnInstance(ctx, [o](app::Instance& i) {
    auto r = i.services().CreateUser(service::Actor::Cli(),
                                     {o->username, *domain::ParseRole(o->role), o->org, ""});
    if (!r.ok()) return Fail(r.status());
    std::cout << "user " << r->first.id << " '" << r->first.username
              << "' created; password (shown once): " << r->second << "\n";
    return 0;
  }));
  auto* user_list =
      user->add_subcommand("list", "List users of an organization (or provider admins)");
  AddCommon(user_list, *ctx.flags, false);
  user_list->add_option("--org", o->org, "Organization id; omit for provider admins");
  user_list->callback(OnInstance(ctx, [o](app::Instance& i) {
    auto r = i.services().ListUsers(service::Actor::Cli(), o->org);
    if (!r.ok()) return Fail(r.status());
    for (const auto& u : r.value())
      std::cout << u.id << "\t" << u.username << "\t" << domain::ToString(u.role) << "\n";
    return 0;
  }));
  auto* user_role = user->add_subcommand("set-role", "Change a user's role");
  AddCommon(user_role, *ctx.flags, false);
  user_role->add_option("USER_ID", o->user_id)->required()->check(CLI::PositiveNumber);
  user_role->add_option("ROLE", o->role)
      ->required()
      ->check(CLI::IsMember({"ORG_ADMIN", "ORG_READONLY"}));
  user_role->add_option("--org", o->org, "The user's organization id")->required();
  user_role->callback(OnInstance(ctx, [o](app::Instance& i) {
    auto r = i.services().ChangeRole(service::Actor::Cli(), o->org, o->user_id,
                                     *domain::ParseRole(o->role));
    if (!r.ok()) return Fail(r.status());
    std::cout << "user " << r->id << " is now " << domain::ToString(r->role) << "\n";
    return 0;
  }));
  auto* user_reset = user->add_subcommand("reset-password", "Set a new random password");
  AddCommon(user_reset, *ctx.flags, false);
  user_reset->add_option("USER_ID", o->user_id)->required()->check(CLI::PositiveNumber);
  user_reset->add_option("--org", o->org, "The user's organization id; omit for provider admins");
  user_reset->callback(OnInstance(ctx, [o](app::Instance& i) {
    auto r = i.services().ResetPassword(service::Actor::Cli(), o->org, o->user_id, "");
    if (!r.ok()) return Fail(r.status());
    std::cout << "new password (shown once): " << r.value() << "\n";
    return 0;
  }));
  auto* user_delete = user->add_subcommand("delete", "Delete a user");
  AddCommon(user_delete, *ctx.flags, false);
  user_delete->add_option("USER_ID", o->user_id)->required()->check(CLI::PositiveNumber);
  user_delete->add_option("--org", o->org, "The user's organization id; omit for provider admins");
  user_delete->callback(OnInstance(ctx, [o](app::Instance& i) {
    Status st = i.services().DeleteUser(service::Actor::Cli(), o->org, o->user_id);
    if (!st.ok()) return Fail(st);
    std::cout << "deleted\n";
    return 0;
  }));
}

}  // namespace sandgate::cli
