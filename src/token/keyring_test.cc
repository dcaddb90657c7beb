#include "token/keyring.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "token/token_format.h"

namespace sandgate::token {
namespace {

namespace fs = std::filesystem;

class KeyringFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "sandgate-keyring-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "keys").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  void WriteFile(const std::string& content,
                 fs::perms mode = fs::perms::owner_read | fs::perms::owner_write) {
    {
      std::ofstream f(path_, std::ios::binary | std::ios::trunc);
      f << content;
    }
    fs::permissions(path_, mode);
  }
  std::string ReadFile() const {
    std::ifstream f(path_, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  void ExpectInvalid(const std::string& content) {
    WriteFile(content);
    auto r = Keyring::Load(path_);
    ASSERT_FALSE(r.ok()) << content;
    EXPECT_EQ(r.status().http_status(), 500);
    EXPECT_EQ(r.status().code(), "KEYFILE_INVALID") << content;
  }

  fs::path dir_;
  std::string path_;
};

const std::string kHex64a(64, 'a');
const std::string kHex64b = "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef";

TEST_F(KeyringFileTest, CreatesKeyFileWithMode0600) {
  auto r = Keyring::LoadOrCreate(path_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  const std::string text = ReadFile();
  EXPECT_TRUE(text.starts_with("sandgate-keyfile 1\nlookup ")) << text;
  EXPECT_EQ(text.size(), 19u + 7 + 64 + 1 + 5 + 64 + 1);
  EXPECT_EQ((*r)->key_id().size(), 8u);
}

TEST_F(KeyringFileTest, ReloadGivesSameKeys) {
  auto a = Keyring::LoadOrCreate(path_);
  ASSERT_TRUE(a.ok());
  const std::string content = ReadFile();
  auto b = Keyring::LoadOrCreate(path_);
  auto c = Keyring::Load(path_);
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(ReadFile(), content);  // not rewritten
  const std::string token = Generate();
  EXPECT_EQ((*a)->LookupHash(token), (*b)->LookupHash(token));
  EXPECT_EQ((*a)->LookupHash(token), (*c)->LookupHash(token));
  EXPECT_EQ((*a)->Mac("session", "x"), (*c)->Mac("session", "x"));
  EXPECT_EQ((*a)->key_id(), (*c)->key_id());
  auto opened = (*c)->Unseal((*a)->Seal(token));
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened.value(), token);
}

TEST_F(KeyringFileTest, LoadsHandWrittenFile) {
  WriteFile("sandgate-keyfile 1\nlookup " + kHex64a + "\nseal " + kHex64b + "\n");
  auto a = Keyring::Load(path_);
  ASSERT_TRUE(a.ok()) << a.status().message();
  WriteFile("sandgate-keyfile 1\nlookup " + kHex64a + "\nseal " + kHex64b);  // no final newline
  auto b = Keyring::Load(path_);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ((*a)->LookupHash("t"), (*b)->LookupHash("t"));
}

TEST_F(KeyringFileTest, MissingFile) {
  auto r = Keyring::Load(path_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().http_status(), 500);
  EXPECT_EQ(r.status().code(), "KEYFILE_MISSING");
  EXPECT_FALSE(fs::exists(path_));  // Load never creates
}

TEST_F(KeyringFileTest, CreateFailsWhenDirectoryMissing) {
  auto r = Keyring::LoadOrCreate((dir_ / "no-such-dir" / "keys").string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().http_status(), 500);
  EXPECT_EQ(r.status().code(), "KEYFILE_CREATE_FAILED");
}

TEST_F(KeyringFileTest, RefusesFileAccessibleByGroupOrOthers) {
  ASSERT_TRUE(Keyring::LoadOrCreate(path_).ok());
  const std::string content = ReadFile();
  for (fs::perms extra : {fs::perms::group_read, fs::perms::others_read, fs::perms::group_write,
                          fs::perms::others_write, fs::perms::others_exec}) {
    fs::permissions(path_, fs::perms::owner_read | fs::perms::owner_write | extra);
    auto r = Keyring::Load(path_);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().http_status(), 500);
    EXPECT_EQ(r.status().code(), "KEYFILE_INSECURE");
    auto r2 = Keyring::LoadOrCreate(path_);  // refuses too, and leaves the file alone
    ASSERT_FALSE(r2.ok());
    EXPECT_EQ(r2.status().code(), "KEYFILE_INSECURE");
    EXPECT_EQ(ReadFile(), content);
  }
  fs::permissions(path_, fs::perms::owner_read);  // 0400 is fine
  EXPECT_TRUE(Keyring::Load(path_).ok());
}

TEST_F(KeyringFileTest, RefusesMalformedFile) {
  const std::string good_lookup = "lookup " + kHex64a + "\n";
  const std::string good_seal = "seal " + kHex64b + "\n";
  ExpectInvalid("");
  ExpectInvalid("\n");
  ExpectInvalid("sandgate-keyfile 2\n" + good_lookup + good_seal);
  ExpectInvalid("sandgate-keyfile 1\n" + good_lookup);                                  // no seal
  ExpectInvalid("sandgate-keyfile 1\n" + good_seal + good_lookup);                      // order
  ExpectInvalid("sandgate-keyfile 1\nlookup " + kHex64a.substr(1) + "\n" + good_seal);  // short
  ExpectInvalid("sandgate-keyfile 1\nlookup " + kHex64a + "aa\n" + good_seal);          // long
  ExpectInvalid("sandgate-keyfile 1\nlookup " + std::string(63, 'a') + "g\n" + good_seal);
  ExpectInvalid("sandgate-keyfile 1\nlookup  " + kHex64a + "\n" + good_seal);  // double space
  ExpectInvalid("sandgate-keyfile 1\r\n" + good_lookup + good_seal);
  ExpectInvalid("sandgate-keyfile 1\n" + good_lookup + good_seal + "extra\n");
  ExpectInvalid("sandgate-keyfile 1\n" + good_lookup + good_seal + "\n");
  ExpectInvalid(std::string(100000, 'a'));
  // A directory is not a key file.
  fs::remove(path_);
  fs::create_directory(path_);
  fs::permissions(path_, fs::perms::owner_all);
  auto r = Keyring::Load(path_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), "KEYFILE_INVALID");
}

TEST_F(KeyringFileTest, ErrorMessagesNeverContainKeyMaterial) {
  WriteFile("sandgate-keyfile 1\nlookup " + kHex64a + "\nseal " + kHex64b.substr(2) + "\n");
  auto r = Keyring::Load(path_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().find("aaaaaaaa"), std::string::npos);
  EXPECT_EQ(r.status().message().find("0123456789"), std::string::npos);
}

TEST(Keyring, LookupHashIsKeyedAndDeterministic) {
  auto a = Keyring::Ephemeral();
  auto b = Keyring::Ephemeral();
  const std::string t = Generate();
  EXPECT_EQ(a->LookupHash(t).size(), 32u);
  EXPECT_EQ(a->LookupHash(t), a->LookupHash(t));
  EXPECT_NE(a->LookupHash(t), a->LookupHash(Generate()));
  EXPECT_NE(a->LookupHash(t), b->LookupHash(t));
  const Keyring::Hash h = a->LookupHashBytes(t);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(h.data()), h.size()), a->LookupHash(t));
  EXPECT_NE(a->key_id(), b->key_id());
}

TEST(Keyring, MacIsDomainSeparated) {
  auto k = Keyring::Ephemeral();
  EXPECT_EQ(k->Mac("session", "abc").size(), 32u);
  EXPECT_EQ(k->Mac("session", "abc"), k->Mac("session", "abc"));
  EXPECT_NE(k->Mac("session", "abc"), k->Mac("csrf", "abc"));
  EXPECT_NE(k->Mac("session", "abc"), k->Mac("session", "abd"));
  EXPECT_NE(k->Mac("ab", "c"), k->Mac("a", "bc"));  // purpose boundary is unambiguous
  EXPECT_NE(k->Mac("", "abc"), k->LookupHash("abc"));
  // Not even the Mac's own encoded input, hashed as a lookup, collides.
  const std::string encoded = std::string("\0\0\0\0\0\0\0\x07session", 15) + "abc";
  EXPECT_NE(k->Mac("session", "abc"), k->LookupHash(encoded));
  EXPECT_NE(k->Mac("session", "abc"), Keyring::Ephemeral()->Mac("session", "abc"));
}

TEST(Keyring, SealRoundTrip) {
  auto k = Keyring::Ephemeral();
  const std::string t = Generate();
  const std::string s1 = k->Seal(t);
  const std::string s2 = k->Seal(t);
  EXPECT_EQ(s1.size(), 24 + t.size() + 16);
  EXPECT_NE(s1, s2);  // fresh nonce
  EXPECT_EQ(s1.find(t), std::string::npos);
  for (const std::string& s : {s1, s2}) {
    auto r = k->Unseal(s);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value(), t);
  }
  auto empty = k->Unseal(k->Seal(""));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty.value(), "");
}

void ExpectUnsealFails(const Keyring& k, const std::string& sealed) {
  auto r = k.Unseal(sealed);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().http_status(), 500);
  EXPECT_EQ(r.status().code(), "UNSEAL_FAILED");
}

TEST(Keyring, UnsealRejectsTampering) {
  auto k = Keyring::Ephemeral();
  const std::string s = k->Seal(Generate());
  for (size_t i = 0; i < s.size(); ++i) {  // nonce, ciphertext and tag
    std::string t = s;
    t[i] = static_cast<char>(t[i] ^ 0x01);
    ExpectUnsealFails(*k, t);
  }
  ExpectUnsealFails(*k, "");
  ExpectUnsealFails(*k, s.substr(0, 39));
  ExpectUnsealFails(*k, s.substr(0, s.size() - 1));
  ExpectUnsealFails(*k, s + "x");
  ExpectUnsealFails(*k, std::string(40, '\0'));
}

TEST(Keyring, UnsealRejectsOtherKey) {
  auto a = Keyring::Ephemeral();
  auto b = Keyring::Ephemeral();
  ExpectUnsealFails(*b, a->Seal(Generate()));
}

}  // namespace
}  // namespace sandgate::token
