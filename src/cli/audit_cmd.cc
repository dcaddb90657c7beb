// `sandgate audit verify`: the audit trail's hash chain.
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "store/audit_chain.h"

namespace sandgate::cli {

void AddAuditCommands(CLI::App& app, const Context& ctx) {
  auto* audit = app.add_subcommand("audit", "The audit trail");
  audit->require_subcommand(1);
  auto* audit_verify = audit->add_subcommand(
      "verify",
      "Check the audit trail's hash chain: names every modified, deleted or reordered "
      "record (exit 0 intact, 1 not)");
  AddCommon(audit_verify, *ctx.flags, false);
  audit_verify->callback(OnInstance(ctx, [](app::Instance& i) {
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
}

}  // namespace sandgate::cli
