// `sandgate keys ...`: the key file's seal keys (rotate, reseal, list, retire-old).
#include <iostream>
#include <optional>
#include <set>

#include "cli/commands.h"
#include "cli/common.h"

namespace sandgate::cli {
namespace {

struct KeysOptions {
  bool no_reseal = false;
};

void PrintReseal(const service::ResealResult& r) {
  std::cout << "resealed " << r.resealed << " token(s) under key " << r.key_id << " (" << r.tokens
            << " token(s) in the store)\n";
}

}  // namespace

void AddKeysCommands(CLI::App& app, const Context& ctx) {
  auto o = std::make_shared<KeysOptions>();
  auto* keys = app.add_subcommand("keys", "Manage the key file's seal keys");
  keys->require_subcommand(1);
  auto* keys_rotate = keys->add_subcommand(
      "rotate",
      "Add a new seal key to the key file (the old one kept) and re-seal every token with it; "
      "tokens do not change and running servers keep working");
  AddCommon(keys_rotate, *ctx.flags, false);
  keys_rotate->add_flag("--no-reseal", o->no_reseal,
                        "Only write the new key file (several nodes: copy it to every node, then "
                        "run `sandgate keys reseal`)");
  keys_rotate->callback(OnInstance(ctx, [o](app::Instance& i) {
    const std::string before = i.keys()->key_id();
    auto id = i.keys()->Rotate();
    if (!id.ok()) return Fail(id.status());
    std::cout << "key file " << i.keys()->path() << ": new seal key " << id.value()
              << " (previous key " << before << " kept as an old key)\n";
    if (o->no_reseal) {
      Status st = i.services().Audit(service::Actor::Cli(), std::nullopt, "KEYS_ROTATE", "ALLOWED",
                                     "new key " + id.value() + "; not resealed");
      if (!st.ok()) return Fail(st);
      std::cout << "tokens not resealed; run `sandgate keys reseal` once every node has the file\n";
      return 0;
    }
    auto r = i.services().ResealTokens(service::Actor::Cli(), "KEYS_ROTATE");
    if (!r.ok()) return Fail(r.status());
    PrintReseal(r.value());
    return 0;
  }));
  auto* keys_reseal = keys->add_subcommand(
      "reseal", "Re-seal every token not sealed under the key file's current seal key");
  AddCommon(keys_reseal, *ctx.flags, false);
  keys_reseal->callback(OnInstance(ctx, [](app::Instance& i) {
    auto r = i.services().ResealTokens(service::Actor::Cli(), "KEYS_RESEAL");
    if (!r.ok()) return Fail(r.status());
    PrintReseal(r.value());
    return 0;
  }));
  auto* keys_list =
      keys->add_subcommand("list", "List the seal key ids and how many tokens each seals");
  AddCommon(keys_list, *ctx.flags, false);
  keys_list->callback(OnInstance(ctx, [](app::Instance& i) {
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
  AddCommon(keys_retire, *ctx.flags, false);
  keys_retire->callback(OnInstance(ctx, [](app::Instance& i) {
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
}

}  // namespace sandgate::cli
