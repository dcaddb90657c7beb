#include "token/token_format.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <vector>

#include "token/sodium_init.h"

namespace sandgate::token {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr size_t kBodyBytes = 32;
constexpr size_t kChecksummed = 4 + kBodyChars;  // prefix + body: the CRC's input
static_assert(kTokenLength == 53);

// Whether each byte is a base62 digit.
constexpr std::array<bool, 256> kIsDigit = [] {
  std::array<bool, 256> t{};
  for (size_t i = 0; i < 62; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = true;
  return t;
}();

// Slicing-by-8 tables: kCrc[0] is the classic byte table (reflected polynomial 0xEDB88320),
// kCrc[k][b] is the CRC of byte b followed by k zero bytes.
constexpr std::array<std::array<uint32_t, 256>, 8> kCrc = [] {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[0][i] = c;
  }
  for (size_t k = 1; k < 8; ++k)
    for (size_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
  return t;
}();

uint32_t Load32Le(const unsigned char* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// Divides the big-endian number num[0..n) by 62 in place and returns the remainder.
constexpr unsigned DivMod62(unsigned char* num, size_t n) {
  unsigned rem = 0;
  for (size_t i = 0; i < n; ++i) {
    const unsigned cur = rem * 256 + num[i];
    num[i] = static_cast<unsigned char>(cur / 62);
    rem = cur % 62;
  }
  return rem;
}

// Writes exactly `width` base62 digits of the big-endian number bytes[0..n) (n <= 32) to out.
// The value must fit in `width` digits. The working copy is wiped (token bodies are secrets).
void EncodeFixed(const unsigned char* bytes, size_t n, char* out, size_t width) {
  unsigned char num[kBodyBytes];
  std::memcpy(num, bytes, n);
  for (size_t i = width; i-- > 0;) out[i] = kAlphabet[DivMod62(num, n)];
  sodium_memzero(num, sizeof num);
}

// The 6-character checksum of the first 47 characters, written to out.
void EncodeChecksum(uint32_t crc, char* out) {
  // Allocation-free and branch-light: Parse calls this on every request.
  for (size_t i = kChecksumChars; i-- > 0;) {
    out[i] = kAlphabet[crc % 62];
    crc /= 62;
  }
}

// The body of 2^256 - 1: the greatest valid body. Base62 digits sort in ASCII order, so a 43-char
// body encodes a value < 2^256 exactly when it compares <= this string.
constexpr std::array<char, kBodyChars> kMaxBody = [] {
  std::array<unsigned char, kBodyBytes> num{};
  for (auto& b : num) b = 0xFF;
  std::array<char, kBodyChars> out{};
  for (size_t i = kBodyChars; i-- > 0;) out[i] = kAlphabet[DivMod62(num.data(), num.size())];
  return out;
}();

}  // namespace

std::string Generate() {
  EnsureSodium();
  unsigned char raw[kBodyBytes];
  randombytes_buf(raw, sizeof raw);
  std::string token(kTokenLength, '0');
  std::memcpy(token.data(), kPrefix.data(), kPrefix.size());
  EncodeFixed(raw, sizeof raw, token.data() + kPrefix.size(), kBodyChars);
  sodium_memzero(raw, sizeof raw);
  EncodeChecksum(Crc32(std::string_view(token).substr(0, kChecksummed)),
                 token.data() + kChecksummed);
  return token;
}

Status InvalidToken() { return Status(401, "INVALID_TOKEN", "Invalid API token"); }

Status Parse(std::string_view text) {
  if (text.size() != kTokenLength) return InvalidToken();
  if (std::memcmp(text.data(), kPrefix.data(), kPrefix.size()) != 0) return InvalidToken();
  bool digits = true;
  for (size_t i = kPrefix.size(); i < kTokenLength; ++i)
    digits &= kIsDigit[static_cast<unsigned char>(text[i])];
  if (!digits) return InvalidToken();
  if (std::memcmp(text.data() + kPrefix.size(), kMaxBody.data(), kBodyChars) > 0)
    return InvalidToken();
  char expected[kChecksumChars];
  EncodeChecksum(Crc32(text.substr(0, kChecksummed)), expected);
  if (std::memcmp(expected, text.data() + kChecksummed, kChecksumChars) != 0) return InvalidToken();
  return Status::Ok();
}

std::string Last4(std::string_view token) {
  return std::string(token.size() <= 4 ? token : token.substr(token.size() - 4));
}

std::string Mask(std::string_view last4) {
  std::string out(kPrefix);
  for (int i = 0; i < 8; ++i) out += "\xE2\x80\xA2";  // U+2022 BULLET
  out += last4;
  return out;
}

std::string Base62Encode(const unsigned char* bytes, size_t n, size_t width) {
  std::vector<unsigned char> num(bytes, bytes + n);
  size_t start = 0;    // index of the first non-zero byte of num
  std::string digits;  // least significant first
  while (true) {
    while (start < n && num[start] == 0) ++start;
    if (start == n) break;
    digits += kAlphabet[DivMod62(num.data() + start, n - start)];
  }
  if (digits.empty()) digits.push_back('0');
  if (digits.size() < width) digits.append(width - digits.size(), '0');
  sodium_memzero(num.data(), num.size());
  return std::string(digits.rbegin(), digits.rend());
}

uint32_t Crc32(std::string_view data) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  uint32_t c = 0xFFFFFFFFu;
  for (; n >= 8; p += 8, n -= 8) {  // eight bytes per step: Parse hashes 47 bytes per request
    const uint32_t lo = Load32Le(p) ^ c;
    const uint32_t hi = Load32Le(p + 4);
    c = kCrc[7][lo & 0xFF] ^ kCrc[6][(lo >> 8) & 0xFF] ^ kCrc[5][(lo >> 16) & 0xFF] ^
        kCrc[4][lo >> 24] ^ kCrc[3][hi & 0xFF] ^ kCrc[2][(hi >> 8) & 0xFF] ^
        kCrc[1][(hi >> 16) & 0xFF] ^ kCrc[0][hi >> 24];
  }
  for (; n > 0; ++p, --n) c = kCrc[0][(c ^ *p) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string RedactTokens(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t at = text.find(kPrefix); at != std::string_view::npos; at = text.find(kPrefix)) {
    size_t end = at + kPrefix.size();
    const size_t stop = std::min(text.size(), end + kBodyChars + kChecksumChars);  // one token
    while (end < stop && std::isalnum(static_cast<unsigned char>(text[end]))) ++end;
    out.append(text.substr(0, at)).append("sbx_[redacted]");
    text.remove_prefix(end);
  }
  out.append(text);
  return out;
}

}  // namespace sandgate::token
