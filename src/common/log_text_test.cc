#include "common/log_text.h"

#include <gtest/gtest.h>

namespace sandgate {
namespace {

TEST(LogTextTest, PrintableAsciiPassesUnchanged) {
  EXPECT_EQ(LogText("/api/v1/sandbox/token?x=1 ok"), "/api/v1/sandbox/token?x=1 ok");
}

TEST(LogTextTest, ControlCharactersCannotForgeALine) {
  const std::string forged = LogText("/x\r\n2026-12-02T21:00:00.000Z info forged\x1b[31m\x7f");
  EXPECT_EQ(forged, "/x\\x0d\\x0a2026-12-02T21:00:00.000Z info forged\\x1b[31m\\x7f");
  EXPECT_EQ(forged.find_first_of("\r\n\x1b"), std::string::npos);
}

TEST(LogTextTest, NonAsciiAndBackslashAreEscaped) {
  // U+202E (right-to-left override) and a NUL; a literal backslash stays distinguishable.
  EXPECT_EQ(LogText(std::string("a\xe2\x80\xae"
                                "b\\") +
                    std::string(1, '\0')),
            "a\\xe2\\x80\\xaeb\\x5c\\x00");
}

}  // namespace
}  // namespace sandgate
