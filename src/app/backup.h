// Online backup and restore of a SQLite installation (`sandgate backup` / `sandgate restore`).
//
// A backup directory holds sandgate.db (a consistent snapshot taken with VACUUM INTO while the
// server runs: one read transaction, so it contains every change committed before it started),
// manifest.json (format, schema version, row counts per table, SHA-256 and size of each file, the
// audit chain's record count and head, a fingerprint of the key file's lookup key) and, only when
// asked, sandgate.key. Without the key file a backup reveals no token (tokens are stored sealed
// and as keyed hashes) and its audit chain cannot be forged: keep the key apart.
//
// Restore checks everything before it writes to the target: the manifest, every checksum, the
// key's fingerprint, the row counts and schema version, the audit chain (on a scratch copy) and
// that every token opens with the key and hashes to its lookup hash. The target must be empty.
// PostgreSQL installations are backed up with pg_dump (README "Backup and restore").
#pragma once

#include <map>
#include <string>
#include <vector>

#include "app/instance.h"
#include "common/status.h"

namespace sandgate::app {

struct BackupSummary {
  std::string dir;
  int schema_version = 0;
  std::map<std::string, int64_t> tables;  // table -> rows
  int64_t audit_records = 0;
  int64_t audit_head_id = 0;
  std::string audit_head_chain;  // hex
  bool key_included = false;
  int64_t tokens = 0;  // restore: tokens checked against the key
};

// `cfg` as given to Instance::Open (the data directory, key file and store). `to` must not exist
// or be empty. 400 BACKUP_UNSUPPORTED on PostgreSQL; 409 TARGET_NOT_EMPTY; 500 BACKUP_FAILED.
Result<BackupSummary> Backup(const Config& cfg, const std::string& to, bool include_key);

// Restores the backup in `from` into the new data directory `data` (absent or empty). `key_file`:
// the key file when the backup has none ("" otherwise; when both, they must match). Errors, all
// before anything is written: 400 BACKUP_INVALID (manifest, checksum, counts, chain, tokens),
// 400 KEY_REQUIRED, 400 KEY_MISMATCH, 409 TARGET_NOT_EMPTY.
Result<BackupSummary> Restore(const std::string& from, const std::string& data,
                              const std::string& key_file);

}  // namespace sandgate::app
