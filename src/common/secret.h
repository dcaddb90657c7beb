// Wiping secrets (token text, passwords, session ids, CSRF tokens) held in ordinary strings once
// they are no longer needed, so they do not linger in freed heap memory (core files are already
// prevented: the CLI makes the process non-dumpable). sodium_memzero cannot be optimised away.
// Only the bytes in use are wiped: build a secret at its final size rather than by appending.
#pragma once

#include <sodium.h>

#include <string>

namespace sandgate {

// Zeroes s's bytes and empties it. S: std::string, boost::json::string, ... (data(), size(),
// clear()).
template <typename S>
void Wipe(S& s) {
  if (s.size() > 0) sodium_memzero(s.data(), s.size());
  s.clear();
}

// Wipes a string when the scope ends, whichever way it ends.
template <typename S = std::string>
class WipeOnExit {
 public:
  explicit WipeOnExit(S& s) : s_(s) {}
  ~WipeOnExit() { Wipe(s_); }
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;

 private:
  S& s_;
};

}  // namespace sandgate
