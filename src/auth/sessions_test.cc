// Session timeouts on a manual clock (issue 21): idle 30 minutes, absolute 12 hours, both exact at
// the boundary; last_seen is written at most once a minute; an expired session is gone.
#include "auth/sessions.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "store/store.h"
#include "token/keyring.h"

namespace sandgate::auth {
namespace {

namespace fs = std::filesystem;
constexpr TimeMs kStart = 1800000000000;
constexpr TimeMs kMinute = 60 * 1000;

class SessionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "sandgate-sessions-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto keys = token::Keyring::LoadOrCreate((dir_ / "sandgate.key").string());
    ASSERT_TRUE(keys.ok());
    auto st = store::OpenSqliteStore((dir_ / "sandgate.db").string());
    ASSERT_TRUE(st.ok());
    clock_ = std::make_shared<ManualClock>(kStart);
    services_ = std::make_unique<service::Services>(
        std::shared_ptr<store::Store>(std::move(st.value())), *keys, clock_, service::Settings{});
    ASSERT_TRUE(services_->LoadIndex().ok());
    service::NewUser nu;
    nu.username = "session-user";
    nu.role = domain::Role::kProviderAdmin;
    nu.password = "a long enough password 1";
    ASSERT_TRUE(services_->CreateUser(service::Actor::Cli(), nu).ok());
    sessions_ = std::make_unique<SessionManager>(*services_);
  }
  void TearDown() override {
    sessions_.reset();
    services_.reset();
    fs::remove_all(dir_);
  }

  std::string SignIn() {
    int64_t retry_after = 0;
    auto s =
        sessions_->Login("session-user", "a long enough password 1", "127.0.0.1", &retry_after);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? s->session_id : std::string();
  }
  // The status code of Authenticate at the clock's time ("" when signed in).
  std::string At(const std::string& sid) {
    auto a = sessions_->Authenticate(sid);
    return a.ok() ? std::string() : a.status().code();
  }

  fs::path dir_;
  std::shared_ptr<ManualClock> clock_;
  std::unique_ptr<service::Services> services_;
  std::unique_ptr<SessionManager> sessions_;
};

TEST_F(SessionsTest, IdleTimeoutIsExactlyThirtyMinutesFromTheLastTouch) {
  const std::string sid = SignIn();
  clock_->set(kStart + 30 * kMinute - 1);
  EXPECT_EQ(At(sid), "");  // still signed in; this request touches the session
  clock_->advance(30 * kMinute - 1);
  EXPECT_EQ(At(sid), "");
  clock_->advance(30 * kMinute);  // 30 minutes since the last touch
  EXPECT_EQ(At(sid), "SESSION_EXPIRED");
  clock_->set(kStart + 60 * kMinute);  // even back in time: the expired session was deleted
  EXPECT_EQ(At(sid), "UNAUTHENTICATED");
}

TEST_F(SessionsTest, LastSeenIsWrittenAtMostOnceAMinute) {
  const std::string sid = SignIn();
  clock_->set(kStart + kMinute - 1);
  EXPECT_EQ(At(sid), "");  // under a minute: not written, idle time still counts from sign-in
  clock_->set(kStart + 30 * kMinute);
  EXPECT_EQ(At(sid), "SESSION_EXPIRED");

  const std::string sid2 = SignIn();  // signed in at kStart + 30 min
  const TimeMs t0 = kStart + 30 * kMinute;
  clock_->set(t0 + kMinute);
  EXPECT_EQ(At(sid2), "");  // a minute: written
  clock_->set(t0 + kMinute + 30 * kMinute - 1);
  EXPECT_EQ(At(sid2), "");
}

TEST_F(SessionsTest, AnUntouchedCheckDoesNotExtendTheIdleTimeout) {
  // A page's background refresh (touch=false) checks the session without counting as activity.
  const std::string sid = SignIn();
  clock_->set(kStart + 20 * kMinute);
  EXPECT_TRUE(sessions_->Authenticate(sid, /*touch=*/false).ok());
  clock_->set(kStart + 30 * kMinute - 1);
  EXPECT_TRUE(sessions_->Authenticate(sid, /*touch=*/false).ok());
  clock_->set(kStart + 30 * kMinute);  // 30 minutes since sign-in, the last activity
  auto a = sessions_->Authenticate(sid, /*touch=*/false);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), "SESSION_EXPIRED");
}

TEST_F(SessionsTest, AbsoluteTimeoutIsExactlyTwelveHoursWhateverTheActivity) {
  const std::string sid = SignIn();
  for (TimeMs t = 20 * kMinute; t < 12 * 60 * kMinute; t += 20 * kMinute) {
    clock_->set(kStart + t);
    ASSERT_EQ(At(sid), "") << t / kMinute << " minutes";
  }
  clock_->set(kStart + 12 * 60 * kMinute - 1);
  EXPECT_EQ(At(sid), "");
  clock_->set(kStart + 12 * 60 * kMinute);
  EXPECT_EQ(At(sid), "SESSION_EXPIRED");
}

TEST_F(SessionsTest, LogoutEndsTheSessionAndCsrfIsBoundToIt) {
  const std::string a = SignIn();
  const std::string b = SignIn();
  EXPECT_TRUE(sessions_->CsrfValid(a, sessions_->CsrfFor(a)));
  EXPECT_FALSE(sessions_->CsrfValid(a, sessions_->CsrfFor(b)));
  EXPECT_FALSE(sessions_->CsrfValid(a, ""));
  ASSERT_TRUE(sessions_->Logout(a).ok());
  EXPECT_EQ(At(a), "UNAUTHENTICATED");
  EXPECT_EQ(At(b), "");
  EXPECT_EQ(At(""), "UNAUTHENTICATED");
}

}  // namespace
}  // namespace sandgate::auth
