#include "common/no_wait.h"

namespace sandgate::no_wait {
namespace {
thread_local bool t_active = false;
thread_local bool t_would_block = false;
}  // namespace

bool Active() { return t_active; }
void NoteWouldBlock() { t_would_block = true; }
bool TakeWouldBlock() {
  const bool was = t_would_block;
  t_would_block = false;
  return was;
}
Status WouldBlock() {
  return Status(503, "WOULD_BLOCK", "store: this answer needs the database (not on an I/O thread)");
}

Scope::Scope() : prev_active_(t_active), prev_flag_(t_would_block) {
  t_active = true;
  t_would_block = false;
}
Scope::~Scope() {
  t_active = prev_active_;
  t_would_block = prev_flag_;
}

}  // namespace sandgate::no_wait
