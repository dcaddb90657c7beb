#include "token/password.h"

#include <sodium.h>

#include "token/sodium_init.h"

namespace sandgate::token {
namespace {

constexpr size_t kMinBytes = 12;
constexpr size_t kMaxBytes = 256;
constexpr size_t kRandomLength = 20;
constexpr char kUnambiguous[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz";

using token::EnsureSodium;  // sodium_init() once, thread-safely

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
// Fuzz harnesses only (CMake SANDGATE_FUZZ): sign-ins must not cost 64 MiB and tens of ms each.
constexpr auto kOpsLimit = crypto_pwhash_OPSLIMIT_MIN;
constexpr auto kMemLimit = crypto_pwhash_MEMLIMIT_MIN;
#else
constexpr auto kOpsLimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
constexpr auto kMemLimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
#endif

}  // namespace

std::string HashPassword(std::string_view pw) {
  EnsureSodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, pw.data(), pw.size(), kOpsLimit, kMemLimit) != 0) return {};
  return std::string(out);
}

bool VerifyPassword(const std::string& hash, std::string_view pw) {
  EnsureSodium();
  // crypto_pwhash_str_verify reads a NUL-terminated string of fewer than STRBYTES bytes.
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES || hash.find('\0') != std::string::npos)
    return false;
  return crypto_pwhash_str_verify(hash.c_str(), pw.data(), pw.size()) == 0;
}

std::string RandomPassword() {
  EnsureSodium();
  constexpr uint32_t kAlphabetSize = sizeof kUnambiguous - 1;
  std::string out(kRandomLength, '\0');
  for (char& c : out) c = kUnambiguous[randombytes_uniform(kAlphabetSize)];
  return out;
}

bool PasswordAcceptable(std::string_view pw, std::string* why) {
  const char* problem = nullptr;
  if (pw.size() < kMinBytes) {
    problem = "The password must be at least 12 characters long.";
  } else if (pw.size() > kMaxBytes) {
    problem = "The password must be at most 256 bytes long.";
  }
  if (problem == nullptr) return true;
  if (why != nullptr) *why = problem;
  return false;
}

}  // namespace sandgate::token
