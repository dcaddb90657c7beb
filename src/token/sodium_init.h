// libsodium initialisation shared by the token folder.
#pragma once

namespace sandgate::token {

// Calls sodium_init() exactly once, thread-safely; later calls are free. Aborts the process when
// libsodium cannot initialise (no safe way to generate keys or tokens without it).
void EnsureSodium();

}  // namespace sandgate::token
