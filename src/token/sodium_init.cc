#include "token/sodium_init.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

namespace sandgate::token {

void EnsureSodium() {
  static const bool initialised = [] {
    if (sodium_init() < 0) {
      std::fputs("sandgate: libsodium failed to initialise\n", stderr);
      std::abort();
    }
    return true;
  }();
  (void)initialised;
}

}  // namespace sandgate::token
