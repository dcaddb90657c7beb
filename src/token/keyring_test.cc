#include "token/keyring.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

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
  EXPECT_TRUE(text.starts_with("sandgate-keyfile 2\nlookup ")) << text;
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
  std::string id;
  const std::string sealed = (*a)->Seal(token, &id);
  EXPECT_EQ(id, (*a)->key_id());
  auto opened = (*c)->Unseal(sealed, id);
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

// The index key of every stored token: BLAKE2b-256 keyed with the file's lookup key, the same
// bytes as libsodium's one-shot crypto_generichash (LookupHashBytes starts from a state keyed
// once; a different answer would lock every existing token out).
TEST_F(KeyringFileTest, LookupHashIsBlake2bKeyedWithTheFilesLookupKey) {
  WriteFile("sandgate-keyfile 1\nlookup " + kHex64a + "\nseal " + kHex64b + "\n");
  auto k = Keyring::Load(path_);
  ASSERT_TRUE(k.ok()) << k.status().message();
  unsigned char key[32];
  ASSERT_EQ(
      sodium_hex2bin(key, sizeof key, kHex64a.data(), kHex64a.size(), nullptr, nullptr, nullptr),
      0);
  for (const std::string& t :
       {std::string(), std::string("t"), Generate(), std::string(300, 'x')}) {
    unsigned char want[32];
    crypto_generichash(want, sizeof want, reinterpret_cast<const unsigned char*>(t.data()),
                       t.size(), key, sizeof key);
    EXPECT_EQ((*k)->LookupHash(t), std::string(reinterpret_cast<const char*>(want), sizeof want))
        << t.size() << " bytes";
  }
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
  ExpectInvalid("sandgate-keyfile 3\n" + good_lookup + good_seal);
  ExpectInvalid("sandgate-keyfile 1\n" + good_lookup + good_seal + "seal-old " + kHex64a + "\n");
  ExpectInvalid("sandgate-keyfile 2\n" + good_lookup + "seal-old " + kHex64b + "\n");
  ExpectInvalid("sandgate-keyfile 2\n" + good_lookup + good_seal + "seal " + kHex64a + "\n");
  ExpectInvalid("sandgate-keyfile 2\n" + good_lookup + good_seal + "seal-old " + kHex64b +
                "\n");  // the same key twice
  ExpectInvalid("sandgate-keyfile 2\n" + good_lookup + good_seal + "seal-old " + kHex64a.substr(2) +
                "\n");
  ExpectInvalid("sandgate-keyfile 2\n" + good_lookup + good_seal + "seal-old " + kHex64a + "\n\n");
  ExpectInvalid("sandgate-keyfile 2\n" + good_seal + good_lookup);
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

TEST_F(KeyringFileTest, ReadsVersion1AndVersion2WithTheSameKeyIds) {
  WriteFile("sandgate-keyfile 1\nlookup " + kHex64a + "\nseal " + kHex64b + "\n");
  auto v1 = Keyring::Load(path_);
  ASSERT_TRUE(v1.ok()) << v1.status().message();
  const std::string old_id = (*v1)->key_id();
  const std::string t = Generate();
  const std::string sealed_old = (*v1)->Seal(t);
  const std::string kHex64c(64, 'c');
  WriteFile("sandgate-keyfile 2\nlookup " + kHex64a + "\nseal " + kHex64c + "\nseal-old " +
            kHex64b);  // no final newline
  auto v2 = Keyring::Load(path_);
  ASSERT_TRUE(v2.ok()) << v2.status().message();
  EXPECT_NE((*v2)->key_id(), old_id);
  EXPECT_EQ((*v2)->key_ids(), (std::vector<std::string>{(*v2)->key_id(), old_id}));
  EXPECT_EQ((*v2)->LookupHash(t), (*v1)->LookupHash(t));
  auto opened = (*v2)->Unseal(sealed_old, old_id);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_EQ(opened.value(), t);
  std::string id;
  const std::string sealed_new = (*v2)->Seal(t, &id);
  EXPECT_EQ(id, (*v2)->key_id());
  EXPECT_TRUE((*v2)->Unseal(sealed_new, id).ok());
  // A version 2 file with no old key is fine too.
  WriteFile("sandgate-keyfile 2\nlookup " + kHex64a + "\nseal " + kHex64b + "\n");
  auto v2b = Keyring::Load(path_);
  ASSERT_TRUE(v2b.ok());
  EXPECT_EQ((*v2b)->key_id(), old_id);
  EXPECT_EQ((*v2b)->key_ids().size(), 1u);
}

TEST_F(KeyringFileTest, UnknownKeyIdIsRefused) {
  auto k = Keyring::LoadOrCreate(path_);
  ASSERT_TRUE(k.ok());
  const std::string sealed = (*k)->Seal(Generate());
  auto r = (*k)->Unseal(sealed, "00000000");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().http_status(), 500);
  EXPECT_EQ(r.status().code(), "UNSEAL_KEY_UNKNOWN");
  auto e = Keyring::Ephemeral();
  auto r2 = e->Unseal(e->Seal("x"), "00000000");
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().code(), "UNSEAL_KEY_UNKNOWN");
  EXPECT_EQ(e->Reload().code(), "KEYFILE_NONE");
  EXPECT_FALSE(e->Rotate().ok());
}

TEST_F(KeyringFileTest, RotateKeepsOldKeysAndReplacesTheFileAtomically) {
  auto k = Keyring::LoadOrCreate(path_);
  ASSERT_TRUE(k.ok());
  const std::string id1 = (*k)->key_id();
  const std::string t = Generate();
  const std::string sealed1 = (*k)->Seal(t);
  struct stat before {};
  ASSERT_EQ(::stat(path_.c_str(), &before), 0);
  const std::string text1 = ReadFile();

  auto id2 = (*k)->Rotate();
  ASSERT_TRUE(id2.ok()) << id2.status().message();
  EXPECT_NE(id2.value(), id1);
  EXPECT_EQ((*k)->key_id(), id2.value());
  struct stat after {};
  ASSERT_EQ(::stat(path_.c_str(), &after), 0);
  EXPECT_NE(after.st_ino, before.st_ino);  // a new file renamed into place
  EXPECT_EQ(after.st_mode & 07777, 0600u);
  const std::string text2 = ReadFile();
  // lookup line unchanged; the old "seal" line is now a "seal-old" line.
  const std::string lookup_line = text1.substr(19, 7 + 64 + 1);
  const std::string old_seal_hex = text1.substr(19 + 72 + 5, 64);
  EXPECT_TRUE(text2.starts_with("sandgate-keyfile 2\n" + lookup_line + "seal ")) << text2.size();
  EXPECT_TRUE(text2.ends_with("seal-old " + old_seal_hex + "\n"));
  EXPECT_EQ(text2.size(), 19u + 72 + 70 + 74);
  // Nothing left behind but the key file and its lock file.
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_)) names.insert(e.path().filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"keys", "keys.lock"}));

  // The rotated keyring and a fresh load of the file open both generations; lookup unchanged.
  std::string sid;
  const std::string sealed2 = (*k)->Seal(t, &sid);
  EXPECT_EQ(sid, id2.value());
  auto fresh = Keyring::Load(path_);
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  EXPECT_EQ((*fresh)->key_ids(), (std::vector<std::string>{id2.value(), id1}));
  EXPECT_EQ((*fresh)->LookupHash(t), (*k)->LookupHash(t));
  EXPECT_EQ((*fresh)->Mac("session", "x"), (*k)->Mac("session", "x"));
  for (auto* kr : {k->get(), fresh->get()}) {
    auto a = kr->Unseal(sealed1, id1);
    auto b = kr->Unseal(sealed2, id2.value());
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a.value(), t);
    EXPECT_EQ(b.value(), t);
    EXPECT_EQ(kr->Unseal(sealed1, id2.value()).status().code(), "UNSEAL_FAILED");
  }

  // A second rotation: newest first, every older key kept.
  auto id3 = (*fresh)->Rotate();
  ASSERT_TRUE(id3.ok());
  auto third = Keyring::Load(path_);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ((*third)->key_ids(), (std::vector<std::string>{id3.value(), id2.value(), id1}));
}

TEST_F(KeyringFileTest, RunningKeyringReloadsOnAnUnknownKeyId) {
  auto running = Keyring::LoadOrCreate(path_);
  ASSERT_TRUE(running.ok());
  auto cli = Keyring::Load(path_);
  ASSERT_TRUE(cli.ok());
  const std::string id1 = (*running)->key_id();
  // The running process keeps sealing with its key while another process rotates.
  const std::string t = Generate();
  const std::string sealed_by_running = (*running)->Seal(t);
  auto id2 = (*cli)->Rotate();
  ASSERT_TRUE(id2.ok());
  EXPECT_EQ((*running)->key_id(), id1);  // nothing re-read yet
  std::string sid;
  const std::string resealed = (*cli)->Seal(t, &sid);
  auto opened = (*running)->Unseal(resealed, sid);  // unknown id: re-reads the file
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_EQ(opened.value(), t);
  EXPECT_EQ((*running)->key_id(), id2.value());  // and now seals with the new key
  auto old = (*running)->Unseal(sealed_by_running, id1);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old.value(), t);
  // A file with another installation's lookup key is not taken.
  WriteFile("sandgate-keyfile 2\nlookup " + kHex64a + "\nseal " + kHex64b + "\n");
  EXPECT_EQ((*running)->Reload().code(), "KEYFILE_MISMATCH");
  EXPECT_EQ((*running)->Unseal(resealed, "00000000").status().code(), "UNSEAL_KEY_UNKNOWN");
  EXPECT_EQ((*running)->key_id(), id2.value());
  EXPECT_FALSE((*running)->Rotate().ok());
}

TEST_F(KeyringFileTest, ConcurrentUnsealWhileAnotherProcessRotates) {
  auto running = Keyring::LoadOrCreate(path_);
  ASSERT_TRUE(running.ok());
  auto cli = Keyring::Load(path_);
  ASSERT_TRUE(cli.ok());
  const std::string t = Generate();
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        std::string id;
        const std::string s = (*running)->Seal(t, &id);
        auto r = (*running)->Unseal(s, id);
        if (!r.ok() || r.value() != t) ++failures;
        std::string cid;
        const std::string cs = (*cli)->Seal(t, &cid);
        auto r2 = (*running)->Unseal(cs, cid);
        if (!r2.ok() || r2.value() != t) ++failures;
      }
    });
  }
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*cli)->Rotate().ok());
  stop = true;
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ((*running)->key_ids().size(), 6u);
}

TEST_F(KeyringFileTest, RetireOldDropsOnlyUnusedOldKeys) {
  auto k = Keyring::LoadOrCreate(path_);
  ASSERT_TRUE(k.ok());
  const std::string id1 = (*k)->key_id();
  const std::string t = Generate();
  const std::string sealed1 = (*k)->Seal(t);
  auto id2 = (*k)->Rotate();
  ASSERT_TRUE(id2.ok());
  const std::string text = ReadFile();
  auto refused = (*k)->RetireOld({id1, id2.value()});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().http_status(), 409);
  EXPECT_EQ(refused.status().code(), "KEYS_IN_USE");
  EXPECT_EQ(ReadFile(), text);
  auto retired = (*k)->RetireOld({id2.value()});
  ASSERT_TRUE(retired.ok()) << retired.status().message();
  EXPECT_EQ(retired.value(), std::vector<std::string>{id1});
  auto fresh = Keyring::Load(path_);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ((*fresh)->key_ids(), std::vector<std::string>{id2.value()});
  EXPECT_EQ((*fresh)->Unseal(sealed1, id1).status().code(), "UNSEAL_KEY_UNKNOWN");
  EXPECT_TRUE((*k)->Unseal(sealed1, id1).ok());  // this process still remembers it
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(KeyringFileTest, FailedRotationLeavesFileAndKeysUnchanged) {
  auto k = Keyring::LoadOrCreate(path_);
  ASSERT_TRUE(k.ok());
  const std::string id1 = (*k)->key_id();
  const std::string text = ReadFile();
  // Writing the new file fails (file size limit of 1 byte: write gets EFBIG; works for root too).
  struct rlimit saved {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit tiny = saved;
  tiny.rlim_cur = 1;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &tiny), 0);
  auto r = (*k)->Rotate();
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().http_status(), 500);
  EXPECT_EQ(r.status().code(), "KEYFILE_WRITE_FAILED");
  EXPECT_EQ(ReadFile(), text);
  EXPECT_EQ((*k)->key_id(), id1);
  EXPECT_EQ((*k)->key_ids().size(), 1u);
  // No temporary file is left behind.
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_FALSE(e.path().filename().string().starts_with(".sandgate-key-")) << e.path();
  // And the next rotation works.
  EXPECT_TRUE((*k)->Rotate().ok());
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
  const std::string id = k->key_id();
  const std::string s1 = k->Seal(t);
  std::string id2;
  const std::string s2 = k->Seal(t, &id2);
  EXPECT_EQ(id2, id);
  EXPECT_EQ(s1.size(), 24 + t.size() + 16);
  EXPECT_NE(s1, s2);  // fresh nonce
  EXPECT_EQ(s1.find(t), std::string::npos);
  for (const std::string& s : {s1, s2}) {
    auto r = k->Unseal(s, id);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value(), t);
  }
  auto empty = k->Unseal(k->Seal(""), id);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty.value(), "");
}

void ExpectUnsealFails(const Keyring& k, const std::string& sealed) {
  auto r = k.Unseal(sealed, k.key_id());
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
  EXPECT_EQ(b->Unseal(a->Seal(Generate()), a->key_id()).status().code(), "UNSEAL_KEY_UNKNOWN");
}

}  // namespace
}  // namespace sandgate::token
