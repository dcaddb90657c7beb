// The "no waiting on the I/O threads" seam (issue 19). An I/O thread runs a handler inside a
// NoWaitScope; a store that would have to wait for something remote (PostgreSQL: a round trip)
// refuses at once instead (NoteWouldBlock + a WOULD_BLOCK status) and the server runs the handler
// again on the blocking pool, where it may wait. What it can answer from memory (caches, the token
// index) it answers on the I/O thread. Stores whose reads are local (SQLite) ignore the scope.
// Thread-local: each thread has its own scope and flag.
#pragma once

#include "common/status.h"

namespace sandgate::no_wait {

// True while a NoWaitScope is open on this thread.
bool Active();
// Called by a store that refused because of the scope; sets this thread's flag.
void NoteWouldBlock();
// Whether something refused since the scope opened (clears the flag). Ask before the scope
// closes: closing it restores the flag of the enclosing scope.
bool TakeWouldBlock();
// The status a refusing store returns (503 WOULD_BLOCK: never shown to a client, since the
// server runs the handler again on the blocking pool).
Status WouldBlock();

class Scope {
 public:
  Scope();
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  bool prev_active_;
  bool prev_flag_;
};

}  // namespace sandgate::no_wait
