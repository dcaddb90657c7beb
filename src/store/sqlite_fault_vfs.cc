#include "store/sqlite_fault_vfs.h"

#include <sqlite3.h>

#include <cstring>

#include "common/fault.h"

namespace sandgate::store {
namespace {

constexpr const char* kName = "sandgate-fault";

sqlite3_vfs* Real(sqlite3_vfs* v) { return static_cast<sqlite3_vfs*>(v->pAppData); }

// Our file: the real VFS's file object follows it in the same allocation.
struct FaultFile {
  sqlite3_file base;
  sqlite3_file* real;
};
sqlite3_file* R(sqlite3_file* f) { return reinterpret_cast<FaultFile*>(f)->real; }

int Injected(fault::Site site, int io_error) {
  switch (fault::At(site)) {
    case fault::Kind::kIoError:
      return io_error;
    case fault::Kind::kNoSpace:
      return SQLITE_FULL;
    case fault::Kind::kNone:
      break;
  }
  return SQLITE_OK;
}

int Close(sqlite3_file* f) { return R(f)->pMethods->xClose(R(f)); }
int Read(sqlite3_file* f, void* p, int n, sqlite3_int64 off) {
  return R(f)->pMethods->xRead(R(f), p, n, off);
}
int Write(sqlite3_file* f, const void* p, int n, sqlite3_int64 off) {
  if (int rc = Injected(fault::Site::kStoreWrite, SQLITE_IOERR_WRITE); rc != SQLITE_OK) return rc;
  return R(f)->pMethods->xWrite(R(f), p, n, off);
}
int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (int rc = Injected(fault::Site::kStoreWrite, SQLITE_IOERR_TRUNCATE); rc != SQLITE_OK)
    return rc;
  return R(f)->pMethods->xTruncate(R(f), size);
}
int Sync(sqlite3_file* f, int flags) {
  if (int rc = Injected(fault::Site::kStoreSync, SQLITE_IOERR_FSYNC); rc != SQLITE_OK) return rc;
  return R(f)->pMethods->xSync(R(f), flags);
}
int FileSize(sqlite3_file* f, sqlite3_int64* size) { return R(f)->pMethods->xFileSize(R(f), size); }
int Lock(sqlite3_file* f, int l) { return R(f)->pMethods->xLock(R(f), l); }
int Unlock(sqlite3_file* f, int l) { return R(f)->pMethods->xUnlock(R(f), l); }
int CheckReservedLock(sqlite3_file* f, int* out) {
  return R(f)->pMethods->xCheckReservedLock(R(f), out);
}
int FileControl(sqlite3_file* f, int op, void* arg) {
  return R(f)->pMethods->xFileControl(R(f), op, arg);
}
int SectorSize(sqlite3_file* f) { return R(f)->pMethods->xSectorSize(R(f)); }
int DeviceCharacteristics(sqlite3_file* f) { return R(f)->pMethods->xDeviceCharacteristics(R(f)); }
int ShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  return R(f)->pMethods->xShmMap(R(f), region, size, extend, out);
}
int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return R(f)->pMethods->xShmLock(R(f), offset, n, flags);
}
void ShmBarrier(sqlite3_file* f) { R(f)->pMethods->xShmBarrier(R(f)); }
int ShmUnmap(sqlite3_file* f, int del) { return R(f)->pMethods->xShmUnmap(R(f), del); }
int Fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
  return R(f)->pMethods->xFetch(R(f), off, n, out);
}
int Unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return R(f)->pMethods->xUnfetch(R(f), off, p);
}

// Version 1 (no shared memory, no mmap), 2 (shm) and 3 (mmap) tables, so a file never claims a
// method its real file lacks.
const sqlite3_io_methods kMethods[3] = {
    {1, Close, Read, Write, Truncate, Sync, FileSize, Lock, Unlock, CheckReservedLock, FileControl,
     SectorSize, DeviceCharacteristics, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr},
    {2, Close, Read, Write, Truncate, Sync, FileSize, Lock, Unlock, CheckReservedLock, FileControl,
     SectorSize, DeviceCharacteristics, ShmMap, ShmLock, ShmBarrier, ShmUnmap, nullptr, nullptr},
    {3, Close, Read, Write, Truncate, Sync, FileSize, Lock, Unlock, CheckReservedLock, FileControl,
     SectorSize, DeviceCharacteristics, ShmMap, ShmLock, ShmBarrier, ShmUnmap, Fetch, Unfetch},
};

int Open(sqlite3_vfs* v, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  auto* ff = reinterpret_cast<FaultFile*>(f);
  ff->base.pMethods = nullptr;  // SQLite calls no method of a file whose open failed
  ff->real = reinterpret_cast<sqlite3_file*>(ff + 1);
  int rc = Real(v)->xOpen(Real(v), name, ff->real, flags, out_flags);
  if (ff->real->pMethods != nullptr) {
    int version = ff->real->pMethods->iVersion;
    if (version < 1) version = 1;
    if (version > 3) version = 3;
    ff->base.pMethods = &kMethods[version - 1];
  }
  return rc;
}
int Delete(sqlite3_vfs* v, const char* name, int sync_dir) {
  return Real(v)->xDelete(Real(v), name, sync_dir);
}
int Access(sqlite3_vfs* v, const char* name, int flags, int* out) {
  return Real(v)->xAccess(Real(v), name, flags, out);
}
int FullPathname(sqlite3_vfs* v, const char* name, int n, char* out) {
  return Real(v)->xFullPathname(Real(v), name, n, out);
}
void* DlOpen(sqlite3_vfs* v, const char* name) { return Real(v)->xDlOpen(Real(v), name); }
void DlError(sqlite3_vfs* v, int n, char* msg) { Real(v)->xDlError(Real(v), n, msg); }
void (*DlSym(sqlite3_vfs* v, void* h, const char* sym))(void) {
  return Real(v)->xDlSym(Real(v), h, sym);
}
void DlClose(sqlite3_vfs* v, void* h) { Real(v)->xDlClose(Real(v), h); }
int Randomness(sqlite3_vfs* v, int n, char* out) { return Real(v)->xRandomness(Real(v), n, out); }
int Sleep(sqlite3_vfs* v, int us) { return Real(v)->xSleep(Real(v), us); }
int CurrentTime(sqlite3_vfs* v, double* out) { return Real(v)->xCurrentTime(Real(v), out); }
int GetLastError(sqlite3_vfs* v, int n, char* out) {
  return Real(v)->xGetLastError(Real(v), n, out);
}
int CurrentTimeInt64(sqlite3_vfs* v, sqlite3_int64* out) {
  return Real(v)->xCurrentTimeInt64(Real(v), out);
}

sqlite3_vfs* Register() {
  sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
  if (real == nullptr) return nullptr;
  static sqlite3_vfs vfs{};
  vfs.iVersion = 2;  // up to xCurrentTimeInt64; the system-call hooks (v3) stay with the real VFS
  vfs.szOsFile = static_cast<int>(sizeof(FaultFile)) + real->szOsFile;
  vfs.mxPathname = real->mxPathname;
  vfs.zName = kName;
  vfs.pAppData = real;
  vfs.xOpen = Open;
  vfs.xDelete = Delete;
  vfs.xAccess = Access;
  vfs.xFullPathname = FullPathname;
  vfs.xDlOpen = DlOpen;
  vfs.xDlError = DlError;
  vfs.xDlSym = DlSym;
  vfs.xDlClose = DlClose;
  vfs.xRandomness = Randomness;
  vfs.xSleep = Sleep;
  vfs.xCurrentTime = CurrentTime;
  vfs.xGetLastError = GetLastError;
  vfs.xCurrentTimeInt64 = real->iVersion >= 2 ? CurrentTimeInt64 : nullptr;
  if (sqlite3_vfs_register(&vfs, /*makeDflt=*/0) != SQLITE_OK) return nullptr;
  return &vfs;
}

}  // namespace

const char* FaultVfsNameIfEnabled() {
  if (!fault::Enabled()) return nullptr;
  static sqlite3_vfs* vfs = Register();  // thread-safe one-time registration
  return vfs != nullptr ? vfs->zName : nullptr;
}

}  // namespace sandgate::store
