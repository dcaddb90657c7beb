// Passwords of console users: argon2id hashing (libsodium crypto_pwhash_str, interactive limits),
// verification, generation of initial/reset passwords, and the length policy.
// All functions are thread-safe. Hashing takes ~64 MiB and tens of milliseconds per call.
#pragma once

#include <string>
#include <string_view>

namespace sandgate::token {

// The PHC string "$argon2id$v=19$m=...,t=...,p=1$<salt>$<hash>" with a fresh random salt.
// Empty only when libsodium cannot allocate the memory (VerifyPassword never accepts "").
std::string HashPassword(std::string_view pw);

// Whether `pw` matches `hash` (a HashPassword result). False for a malformed or empty hash.
bool VerifyPassword(const std::string& hash, std::string_view pw);

// 20 characters drawn uniformly from an alphabet without look-alikes (no 0/O/o, 1/l/I/i), about 115
// bits of entropy.
std::string RandomPassword();

// The policy for a chosen password: 12 to 256 bytes. Otherwise false, and `*why` (when not null)
// says what is wrong in a sentence for a person; the password itself is never echoed.
bool PasswordAcceptable(std::string_view pw, std::string* why);

}  // namespace sandgate::token
