#include "app/backup.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "common/secret.h"
#include "store/audit_chain.h"
#include "store/sqlite_store.h"
#include "token/keyring.h"

namespace sandgate::app {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

constexpr const char* kFormat = "sandgate-backup 1";
constexpr const char* kDbFile = "sandgate.db";
constexpr const char* kKeyFile = "sandgate.key";
constexpr const char* kManifest = "manifest.json";

Status Failed(const std::string& msg) { return Status(500, "BACKUP_FAILED", msg); }
Status Invalid(const std::string& msg) { return Status::Invalid("BACKUP_INVALID", msg); }

std::string Hex(std::string_view b) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

// A fingerprint of the key file's lookup key: names the key without revealing it.
std::string KeyFingerprint(const token::Keyring& keys) {
  return Hex(keys.Mac("backup-key-fingerprint", "")).substr(0, 32);
}

// Absent (created 0700) or an empty directory; anything else is refused.
Status PrepareTarget(const std::string& dir, bool create) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return Failed("Cannot read " + dir + ": " + std::strerror(errno));
    if (create && mkdir(dir.c_str(), 0700) != 0)
      return Failed("Cannot create " + dir + ": " + std::strerror(errno));
    return Status::Ok();
  }
  if (!S_ISDIR(st.st_mode))
    return Status::Conflict("TARGET_NOT_EMPTY", dir + " exists and is not a directory.");
  std::error_code ec;
  if (!fs::is_empty(dir, ec) || ec)
    return Status::Conflict("TARGET_NOT_EMPTY",
                            dir + " is not empty; give a new or empty directory.");
  return Status::Ok();
}

Status FsyncPath(const std::string& path, bool dir) {
  int fd = open(path.c_str(), (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return Failed("Cannot open " + path + ": " + std::strerror(errno));
  int rc = fsync(fd);
  close(fd);
  if (rc != 0) return Failed("Cannot sync " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

Status CopyFile(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  if (!in) return Failed("Cannot read " + from + ".");
  int fd = open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Failed("Cannot create " + to + ": " + std::strerror(errno));
  char buf[1 << 16];
  bool ok = true;
  while (ok && (in.read(buf, sizeof buf) || in.gcount() > 0)) {
    const char* p = buf;
    size_t left = static_cast<size_t>(in.gcount());
    while (left > 0) {
      ssize_t n = write(fd, p, left);
      if (n <= 0) {
        ok = false;
        break;
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  if (ok && fsync(fd) != 0) ok = false;
  close(fd);
  if (!ok) return Failed("Cannot write " + to + ".");
  return Status::Ok();
}

struct FileSum {
  std::string sha256;
  int64_t bytes = 0;
};

Result<FileSum> Sha256File(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Invalid("Cannot read " + path + ".");
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  char buf[1 << 16];
  FileSum sum;
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    crypto_hash_sha256_update(&st, reinterpret_cast<unsigned char*>(buf),
                              static_cast<unsigned long long>(in.gcount()));
    sum.bytes += in.gcount();
  }
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&st, out);
  sum.sha256 = Hex(std::string_view(reinterpret_cast<char*>(out), sizeof out));
  return sum;
}

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;

// immutable: a file no one else writes (a backup, a scratch copy); no -wal/-shm is created.
Result<Db> OpenDb(const std::string& path, bool immutable, bool readonly = true) {
  sqlite3* raw = nullptr;
  std::string uri = "file:" + path + (immutable ? "?immutable=1" : "");
  int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_URI;
  int rc = sqlite3_open_v2(uri.c_str(), &raw, flags, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK)
    return Failed("Cannot open " + path + ": " + (raw ? sqlite3_errmsg(raw) : "out of memory"));
  sqlite3_busy_timeout(raw, 10000);
  return db;
}

Status Exec(sqlite3* db, const std::string& sql, const std::string& what) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Failed("Failed " + what + ": " + msg);
  }
  return Status::Ok();
}

Result<int64_t> QueryInt(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
    return Invalid(std::string("Cannot read the database: ") + sqlite3_errmsg(db));
  int64_t v = 0;
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return Invalid(std::string("Cannot read the database: ") + sqlite3_errmsg(db));
  return v;
}

// Schema version and rows per table of the database file at `path` (read as immutable).
Status Describe(const std::string& path, BackupSummary* out) {
  auto db = OpenDb(path, true);
  if (!db.ok()) return db.status();
  sqlite3* d = db->get();
  std::vector<std::string> tables;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(d,
                         "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                         "'sqlite\\_%' ESCAPE '\\' ORDER BY name",
                         -1, &s, nullptr) != SQLITE_OK)
    return Invalid(path + " is not a Sandgate database: " + sqlite3_errmsg(d));
  while (sqlite3_step(s) == SQLITE_ROW)
    tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
  sqlite3_finalize(s);
  bool has_version = false;
  out->tables.clear();
  for (const auto& t : tables) {
    char* q = sqlite3_mprintf("SELECT count(*) FROM \"%w\"", t.c_str());
    auto n = QueryInt(d, q);
    sqlite3_free(q);
    if (!n.ok()) return n.status();
    out->tables[t] = *n;
    if (t == "schema_version") has_version = true;
  }
  if (!has_version) return Invalid(path + " is not a Sandgate database (no schema_version).");
  auto v = QueryInt(d, "SELECT coalesce(max(version), 0) FROM schema_version");
  if (!v.ok()) return v.status();
  out->schema_version = static_cast<int>(*v);
  return Status::Ok();
}

// Opens the database at `path` as a store (it may be migrated: a scratch copy or a fresh
// snapshot) and checks the audit chain and that every token opens with `keys` and hashes to its
// lookup hash.
Status CheckContents(const std::string& path, const token::Keyring& keys, BackupSummary* out) {
  auto store = store::OpenSqliteStore(path);
  if (!store.ok()) return Invalid("Cannot open the database: " + store.status().message());
  auto rep = store::VerifyAuditChain(**store, keys.Mac("audit-chain", ""));
  if (!rep.ok()) return Invalid("Cannot read the audit trail: " + rep.status().message());
  if (!rep->problems.empty())
    return Invalid("The audit chain does not verify (" + std::to_string(rep->problems.size()) +
                   " problem(s), first: " + rep->problems.front() + ").");
  out->audit_records = rep->records;
  out->audit_head_id = rep->head_id;
  out->audit_head_chain = rep->head_chain;
  int64_t tokens = 0, bad = 0;
  store::OrgId first_bad = 0;
  Status st = (*store)->Read([&](store::Tx& tx) {
    return tx.ForEachToken([&](const store::TokenRecord& t, const store::OrgRecord&) {
      ++tokens;
      auto text = keys.Unseal(t.sealed, t.key_id);
      bool ok = text.ok() && keys.LookupHash(*text) == t.lookup_hash;
      if (text.ok()) Wipe(*text);
      if (!ok && bad++ == 0) first_bad = t.org_id;
    });
  });
  if (!st.ok()) return Invalid("Cannot read the tokens: " + st.message());
  if (bad)
    return Invalid(std::to_string(bad) +
                   " token(s) do not open with this key file (first: "
                   "organization " +
                   std::to_string(first_bad) + ").");
  out->tokens = tokens;
  return Status::Ok();
}

void RemoveSideFiles(const std::string& db) {
  for (const char* suffix : {"-wal", "-shm", "-stamp", "-journal"})
    std::remove((db + suffix).c_str());
}

std::string SourcePath(const Config& cfg) {
  std::string url = cfg.store.empty() ? cfg.database : cfg.store;
  if (url.empty()) url = cfg.data_dir + "/sandgate.db";
  if (url.rfind("sqlite://", 0) == 0) return url.substr(9);
  if (url.rfind("sqlite:", 0) == 0) return url.substr(7);
  return url;
}

}  // namespace

Result<BackupSummary> Backup(const Config& in, const std::string& to, bool include_key) {
  Config cfg = in;
  if (cfg.key_file.empty()) cfg.key_file = cfg.data_dir + "/sandgate.key";
  if (IsPostgresUrl(cfg.store))
    return Status::Invalid("BACKUP_UNSUPPORTED",
                           "sandgate backup works on SQLite; back up PostgreSQL with pg_dump and "
                           "the key file (README: Backup and restore).");
  const std::string source = SourcePath(cfg);
  struct stat sst {};
  if (stat(source.c_str(), &sst) != 0)
    return Failed("No database at " + source + ": " + std::strerror(errno));
  auto keys = token::Keyring::Load(cfg.key_file);
  if (!keys.ok()) return keys.status();
  if (Status st = PrepareTarget(to, true); !st.ok()) return st;
  const std::string partial = to + "/" + kDbFile + ".partial";
  const std::string db_path = to + "/" + kDbFile;
  BackupSummary sum;
  sum.dir = to;
  {
    // One read transaction over the live database (WAL: the server keeps writing meanwhile).
    auto src = OpenDb(source, false);
    if (!src.ok()) return src.status();
    char* sql = sqlite3_mprintf("VACUUM INTO %Q", partial.c_str());
    Status st = Exec(src->get(), sql, "taking the snapshot");
    sqlite3_free(sql);
    if (!st.ok()) return st;
  }
  if (chmod(partial.c_str(), 0600) != 0) return Failed("Cannot chmod " + partial);
  if (Status st = CheckContents(partial, **keys, &sum); !st.ok()) {
    RemoveSideFiles(partial);
    return Failed("The snapshot does not check out: " + st.message());
  }
  {
    // A single self-contained file: no WAL beside it.
    auto db = OpenDb(partial, false, false);
    if (!db.ok()) return db.status();
    if (Status st = Exec(db->get(), "PRAGMA journal_mode=DELETE", "closing the snapshot"); !st.ok())
      return st;
  }
  RemoveSideFiles(partial);
  if (Status st = Describe(partial, &sum); !st.ok()) return st;
  if (Status st = FsyncPath(partial, false); !st.ok()) return st;
  if (rename(partial.c_str(), db_path.c_str()) != 0)
    return Failed("Cannot rename " + partial + ": " + std::strerror(errno));
  json::object files;
  auto add_file = [&](const std::string& name) -> Status {
    auto s = Sha256File(to + "/" + name);
    if (!s.ok()) return s.status();
    files[name] = json::object{{"sha256", s->sha256}, {"bytes", s->bytes}};
    return Status::Ok();
  };
  if (Status st = add_file(kDbFile); !st.ok()) return st;
  if (include_key) {
    if (Status st = CopyFile(cfg.key_file, to + "/" + kKeyFile); !st.ok()) return st;
    if (Status st = add_file(kKeyFile); !st.ok()) return st;
    sum.key_included = true;
  }
  json::object tables;
  for (const auto& [t, n] : sum.tables) tables[t] = n;
  json::object m{
      {"format", kFormat},
      {"created_at", static_cast<int64_t>(time(nullptr))},
      {"source", source},
      {"schema_version", sum.schema_version},
      {"tables", tables},
      {"files", files},
      {"audit", json::object{{"records", sum.audit_records},
                             {"head_id", sum.audit_head_id},
                             {"head_chain", sum.audit_head_chain}}},
      {"tokens", sum.tokens},
      {"key_included", include_key},
      {"key_fingerprint", KeyFingerprint(**keys)},
  };
  const std::string tmp = to + "/" + kManifest + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << json::serialize(m) << "\n";
    if (!f) return Failed("Cannot write " + tmp);
  }
  if (Status st = FsyncPath(tmp, false); !st.ok()) return st;
  if (rename(tmp.c_str(), (to + "/" + kManifest).c_str()) != 0)
    return Failed("Cannot write the manifest: " + std::string(std::strerror(errno)));
  if (Status st = FsyncPath(to, true); !st.ok()) return st;
  return sum;
}

Result<BackupSummary> Restore(const std::string& from, const std::string& data,
                              const std::string& key_file) {
  if (Status st = PrepareTarget(data, false); !st.ok()) return st;
  // The manifest.
  std::ifstream mf(from + "/" + kManifest);
  if (!mf) return Invalid("No manifest in " + from + " (not a backup, or an unfinished one).");
  std::stringstream text;
  text << mf.rdbuf();
  json::value mv;
  try {
    mv = json::parse(text.str());
  } catch (const std::exception&) {
    return Invalid("The manifest of " + from + " is not JSON.");
  }
  const json::object* m = mv.if_object();
  auto str = [&](const json::object* o, const char* k) -> std::string {
    const json::value* v = o ? o->if_contains(k) : nullptr;
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  auto num = [&](const json::object* o, const char* k) -> std::optional<int64_t> {
    const json::value* v = o ? o->if_contains(k) : nullptr;
    if (v && v->is_int64()) return v->get_int64();
    if (v && v->is_uint64() && v->get_uint64() <= INT64_MAX)
      return static_cast<int64_t>(v->get_uint64());
    return std::nullopt;
  };
  auto obj = [&](const json::object* o, const char* k) -> const json::object* {
    const json::value* v = o ? o->if_contains(k) : nullptr;
    return v ? v->if_object() : nullptr;
  };
  if (!m || str(m, "format") != kFormat)
    return Invalid("The manifest of " + from + " is not a " + kFormat + " manifest.");
  const json::object* files = obj(m, "files");
  const json::object* tables = obj(m, "tables");
  const json::object* audit = obj(m, "audit");
  if (!files || !tables || !audit || !obj(files, kDbFile) || !num(m, "schema_version"))
    return Invalid("The manifest of " + from + " is incomplete.");
  // Checksums of every file it lists.
  for (const auto& f : *files) {
    const std::string name(f.key());
    if (name.find('/') != std::string::npos || name.empty() || name[0] == '.')
      return Invalid("The manifest names a file outside the backup: " + name);
    auto sum = Sha256File(from + "/" + name);
    if (!sum.ok()) return Invalid("The backup lacks " + name + ".");
    const json::object* fo = f.value().if_object();
    if (sum->sha256 != str(fo, "sha256") || sum->bytes != num(fo, "bytes").value_or(-1))
      return Invalid(name + " does not match its checksum in the manifest (damaged or edited).");
  }
  // The key: the backup's own, or the one given.
  const bool has_key = obj(files, kKeyFile) != nullptr;
  if (!has_key && key_file.empty())
    return Status::Invalid("KEY_REQUIRED",
                           "This backup has no key file (taken without --include-key); give the "
                           "installation's key file with --key-file.");
  const std::string key_path = has_key ? from + "/" + kKeyFile : key_file;
  auto keys = token::Keyring::Load(key_path);
  if (!keys.ok()) return keys.status();
  if (KeyFingerprint(**keys) != str(m, "key_fingerprint"))
    return Status::Invalid("KEY_MISMATCH", "The key file " + key_path +
                                               " is not the key file of the installation this "
                                               "backup was taken from.");
  if (has_key && !key_file.empty()) {
    auto given = token::Keyring::Load(key_file);
    if (!given.ok()) return given.status();
    if (KeyFingerprint(**given) != KeyFingerprint(**keys))
      return Status::Invalid("KEY_MISMATCH",
                             "--key-file differs from the key file inside the backup.");
  }
  // Schema version and row counts, as recorded.
  BackupSummary sum;
  sum.dir = data;
  sum.key_included = has_key;
  if (Status st = Describe(from + "/" + kDbFile, &sum); !st.ok()) return st;
  if (sum.schema_version != *num(m, "schema_version"))
    return Invalid("The database's schema version differs from the manifest's.");
  for (const auto& t : *tables) {
    auto it = sum.tables.find(std::string(t.key()));
    auto want = t.value().is_int64() ? t.value().get_int64() : -1;
    if (it == sum.tables.end() || it->second != want)
      return Invalid("Table " + std::string(t.key()) +
                     " does not hold the rows the manifest "
                     "counts.");
  }
  if (sum.tables.size() != tables->size())
    return Invalid("The database has tables the manifest does not count.");
  // The audit chain and the tokens, on a scratch copy (opening a store may migrate it).
  std::string tmpdir = (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp");
  tmpdir += "/sandgate-restore-XXXXXX";
  if (!mkdtemp(tmpdir.data())) return Failed("Cannot create a scratch directory in TMPDIR.");
  Status checked = CopyFile(from + "/" + kDbFile, tmpdir + "/" + kDbFile);
  if (checked.ok()) checked = CheckContents(tmpdir + "/" + kDbFile, **keys, &sum);
  std::error_code ec;
  fs::remove_all(tmpdir, ec);
  if (!checked.ok()) return checked;
  if (sum.audit_records != num(audit, "records") || sum.audit_head_id != num(audit, "head_id") ||
      sum.audit_head_chain != str(audit, "head_chain"))
    return Invalid("The audit trail's head differs from the one the manifest recorded.");
  // Everything checked: write.
  if (Status st = PrepareTarget(data, true); !st.ok()) return st;
  if (Status st = CopyFile(from + "/" + kDbFile, data + "/" + kDbFile); !st.ok()) return st;
  if (Status st = CopyFile(key_path, data + "/" + kKeyFile); !st.ok()) return st;
  if (Status st = FsyncPath(data, true); !st.ok()) return st;
  return sum;
}

}  // namespace sandgate::app
