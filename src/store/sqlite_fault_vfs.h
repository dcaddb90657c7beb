// A shim SQLite VFS over the default one that consults the fault-injection seam (common/fault.h)
// before writing: xWrite and xTruncate fail with SQLITE_IOERR_WRITE / SQLITE_IOERR_TRUNCATE (eio)
// or SQLITE_FULL (enospc) while fault::Site::kStoreWrite is armed; xSync fails with
// SQLITE_IOERR_FSYNC (eio) or SQLITE_FULL (enospc) while kStoreSync is armed. A faulted call does
// no I/O. Everything else passes straight through to the default VFS.
#pragma once

namespace sandgate::store {

// The VFS name for sqlite3_open_v2: the shim's (registered on first call, thread-safe) when fault
// injection is enabled in this process, otherwise nullptr (the default VFS, no indirection).
const char* FaultVfsNameIfEnabled();

}  // namespace sandgate::store
