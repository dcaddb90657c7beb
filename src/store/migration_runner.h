// Internal to the store backends: the migration runner both use. Each step runs in its own
// transaction together with its schema_version row; the version is re-read under the schema lock
// each time, so two processes migrating at once are safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sandgate::store {

struct MigrationSteps {
  std::function<Status()> begin;             // opens the transaction
  std::function<Status()> prepare;           // takes the schema lock; schema_version exists
  std::function<Result<int64_t>()> current;  // the schema version (0: none)
  std::function<Status(int version)> apply;  // runs migration `version`, records its row
  std::function<Status(std::string_view what)> commit;
  std::function<void()> rollback;  // after a failure before commit
};

// Brings the schema up to `target` (<= known, the newest version this build has), one migration
// per transaction. A database already past `target` (but not past `known`) is left as it is; one
// past `known` is 500 SCHEMA_TOO_NEW (`too_new_hint` appended to its sentence).
Status RunMigrations(int target, int known, std::string_view too_new_hint,
                     const MigrationSteps& steps);

}  // namespace sandgate::store
