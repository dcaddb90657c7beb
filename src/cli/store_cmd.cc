// `sandgate store copy`: every row of one store into another, empty one.
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"

namespace sandgate::cli {
namespace {

struct StoreOptions {
  std::string copy_from, copy_to;
};

}  // namespace

void AddStoreCommands(CLI::App& app, const Context& ctx) {
  auto o = std::make_shared<StoreOptions>();
  auto* storecmd = app.add_subcommand("store", "Move data between stores");
  storecmd->require_subcommand(1);
  auto* copy = storecmd->add_subcommand(
      "copy", "Copy every row of one store into another, empty one (e.g. SQLite to PostgreSQL)");
  copy->add_option("--from", o->copy_from, "Source store URL (sqlite:PATH or postgres://...)")
      ->required();
  copy->add_option("--to", o->copy_to, "Target store URL; must be empty (its schema is created)")
      ->required();
  copy->callback([o, rc = ctx.rc] {
    auto from = app::OpenStoreUrl(o->copy_from, /*migrate=*/false);
    if (!from.ok()) {
      *rc = Fail(from.status());
      return;
    }
    auto to = app::OpenStoreUrl(o->copy_to, /*migrate=*/true);
    if (!to.ok()) {
      *rc = Fail(to.status());
      return;
    }
    Status st = store::CopyStore(**from, **to, [](const std::string& table, int64_t n) {
      std::cout << table << ": " << n << " rows\n";
    });
    if (!st.ok()) {
      *rc = Fail(st);
      return;
    }
    std::cout << "copied " << (*from)->Describe() << " to " << (*to)->Describe() << "\n";
  });
}

}  // namespace sandgate::cli
