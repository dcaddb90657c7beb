// Fault injection: the seam through which tests make storage writes fail (LevelDB's Env idea).
//
// Three sites consult it: the SQLite store's files (store/sqlite_fault_vfs: xWrite/xTruncate for
// kStoreWrite, xSync for kStoreSync) and the upload spool (submission/spool: every write of an
// upload's bytes). A site asks At(site) before doing its I/O and, when a fault is armed, fails
// the way the real system call would (EIO -> an I/O error, ENOSPC -> disk full) without doing it.
//
// Inactive unless armed: At() is one relaxed atomic load while nothing enabled injection. It is
// enabled in one of two ways:
// - unit tests call Set()/ClearAll() directly;
// - a running `sandgate` watches a file named by SANDGATE_TEST_FAULT_FILE (app::Instance calls
//   WatchFile). Its content is whitespace- or comma-separated `site=kind` pairs, e.g.
//   `store_write=eio`, `store_write=enospc spool_write=enospc`; sites store_write, store_sync,
//   spool_write; kinds eio, enospc, none. An empty or missing file means no faults. The file is
//   re-read when its size, mtime or inode changes (one stat per I/O call while watching).
// Thread-safe. Process-wide (one disk per process).
#pragma once

#include <string>
#include <string_view>

namespace sandgate::fault {

enum class Site { kStoreWrite = 0, kStoreSync = 1, kSpoolWrite = 2 };
inline constexpr int kSiteCount = 3;
enum class Kind { kNone = 0, kIoError = 1, kNoSpace = 2 };

// The fault armed at `site` now (kNone when injection is not enabled).
Kind At(Site site);

// True once Set() or WatchFile() was called in this process. The SQLite store opens its
// connections through the fault-injecting VFS only then, so production runs on the plain VFS.
bool Enabled();

// Unit tests: arm (or with kNone disarm) a fault at one site; enables injection. With `after` > 0
// the first `after` calls at the site still succeed and the fault hits from the next one on (to
// fail in the middle of a commit).
void Set(Site site, Kind kind, int after = 0);
// Disarms every site and stops watching a file (injection stays enabled).
void ClearAll();

// Enables injection controlled by the file at `path` (see above).
void WatchFile(const std::string& path);

// Parses fault-file content into kinds per site (index: static_cast<int>(Site)); unknown pairs
// are ignored. Exposed for tests.
void Parse(std::string_view text, Kind (&out)[kSiteCount]);

// The errno a faulted system call reports: EIO or ENOSPC (0 for kNone).
int Errno(Kind kind);

}  // namespace sandgate::fault
