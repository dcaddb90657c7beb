#include "store/migration_runner.h"

#include "store/store_errors.h"

namespace sandgate::store {

Status RunMigrations(int target, int known, std::string_view too_new_hint,
                     const MigrationSteps& steps) {
  for (;;) {
    if (Status st = steps.begin(); !st.ok()) return st;
    struct RollbackUnlessCommitting {
      const MigrationSteps& steps;
      bool committing = false;
      ~RollbackUnlessCommitting() {
        if (!committing) steps.rollback();
      }
    } guard{steps};
    if (Status st = steps.prepare(); !st.ok()) return st;
    auto current = steps.current();
    if (!current.ok()) return current.status();
    if (*current > known) return errors::SchemaTooNew(*current, known, too_new_hint);
    if (*current >= target) {
      guard.committing = true;
      return steps.commit("reading the schema version");
    }
    const int next = static_cast<int>(*current) + 1;
    if (Status st = steps.apply(next); !st.ok()) return st;
    guard.committing = true;
    if (Status st = steps.commit("migrating to schema version " + std::to_string(next)); !st.ok())
      return st;
  }
}

}  // namespace sandgate::store
