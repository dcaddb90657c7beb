// The token's text format: "sbx_" + 43 base62 characters encoding 32 bytes from the OS CSPRNG +
// 6 base62 characters of the CRC32 of the preceding 47 characters (GitHub-style, so a secret
// scanner can recognise a token and check it offline). 53 characters in all.
// Base62 alphabet: 0-9, A-Z, a-z (in that order); numbers are big-endian, left-padded with '0'.
// All functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sandgate::token {

inline constexpr std::string_view kPrefix = "sbx_";
inline constexpr size_t kBodyChars = 43;
inline constexpr size_t kChecksumChars = 6;
inline constexpr size_t kTokenLength = 4 + kBodyChars + kChecksumChars;  // 53

// A fresh token from libsodium's randombytes_buf.
std::string Generate();

// OK when `text` is a well-formed token: prefix, length, alphabet, body value < 2^256, checksum.
// Otherwise 401 INVALID_TOKEN with a message that never echoes the input.
// Allocation-free on success; runs on every Submission API request.
Status Parse(std::string_view text);

// The one refusal for a malformed or unknown token: 401 INVALID_TOKEN "Invalid API token". Parse
// and TokenIndex::Verify both return exactly this, so a caller cannot tell malformed from unknown.
Status InvalidToken();

// The last four characters (the fingerprint used in audit records and the masked view).
std::string Last4(std::string_view token);
// "sbx_" + 8 bullets + last 4: what every read shows instead of the token.
std::string Mask(std::string_view last4);

// `text` with everything that may be a token hidden: each "sbx_" and the base62 characters after
// it become "sbx_[redacted]". For text a client chose that we log or audit (a request path): a
// client that puts its token there must not find it in our logs. Returns `text` unchanged (no
// allocation beyond the copy) when it holds no "sbx_".
std::string RedactTokens(std::string_view text);

// Exposed for tests. Big-endian `bytes[0..n)` in base62, left-padded with '0' to at least `width`
// characters (never truncated).
std::string Base62Encode(const unsigned char* bytes, size_t n, size_t width);
// CRC-32 (IEEE 802.3, reflected, as zlib's crc32()).
uint32_t Crc32(std::string_view data);

}  // namespace sandgate::token
