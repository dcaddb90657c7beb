// libFuzzer target: the Submission API token parser (src/token/token_format). Parse() runs on every
// submission with attacker-chosen bytes, before any lookup.
// Properties: Parse never crashes; when it accepts, the text has the documented shape; Last4/Mask
// handle any input; Base62Encode never truncates and decodes back to the same number.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "token/token_format.h"

using namespace sandgate;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

bool IsBase62(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Status st = token::Parse(text);
  if (st.ok()) {
    Check(text.size() == token::kTokenLength);
    Check(text.substr(0, 4) == token::kPrefix);
    for (char c : text.substr(4)) Check(IsBase62(c));
    Check(token::Last4(text) == text.substr(text.size() - 4));
  } else {
    // The refusal never echoes the input and is the one INVALID_TOKEN.
    Check(st.http_status() == 401 && st.code() == token::InvalidToken().code());
    Check(st.message() == token::InvalidToken().message());
  }
  (void)token::Mask(token::Last4(text));
  (void)token::Crc32(text);

  // Base62 of the raw bytes (at most 32, as tokens use): digits only, at least `width` long.
  const size_t n = size > 32 ? 32 : size;
  const size_t width = size ? data[0] % 50 : 0;
  std::string enc = token::Base62Encode(data, n, width);
  Check(enc.size() >= width);
  for (char c : enc) Check(IsBase62(c));
  // Decode back (big-endian base 256) and compare with the input, leading zeros ignored.
  unsigned char back[64] = {};
  for (char c : enc) {
    unsigned carry = c <= '9' ? c - '0' : c <= 'Z' ? c - 'A' + 10 : c - 'a' + 36;
    for (size_t i = sizeof back; i-- > 0;) {
      unsigned cur = back[i] * 62u + carry;
      back[i] = static_cast<unsigned char>(cur & 0xFF);
      carry = cur >> 8;
    }
    Check(carry == 0);
  }
  for (size_t i = 0; i < sizeof back - n; ++i) Check(back[i] == 0);
  for (size_t i = 0; i < n; ++i) Check(back[sizeof back - n + i] == data[i]);
  return 0;
}
