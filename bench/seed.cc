// sandgate_bench_seed: adds many organizations, each with an active subscription and one token, to
// an existing data directory (created by `sandgate serve --demo` or `sandgate init`), for the
// benchmarks' scale runs. The server must not be running (its token index is loaded at start).
//
//   sandgate_bench_seed --data DIR --count N [--prefix NAME] [--batch B] [--print-tokens K]
//                       [--usage-days D]
//
// Rows go through the Store interface (the same records the services write: keyed lookup hash,
// sealed token, key id), B organizations per transaction, without audit records: this is test
// data, not an operator's action. Organizations are named "<prefix>-<i>"; the first K tokens are
// printed, one per line, on standard output (progress goes to standard error). With --usage-days D
// each organization also gets D days of Submission API usage up to today (UTC): accepted
// submissions 0 to 100 (the default allowance) and a few over-quota attempts, drawn from a fixed
// seed, so the provider console's list, search and overview can be measured with usage history
// (scripts/measure-org-list.sh).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>
#include <string>

#include "store/store.h"
#include "token/keyring.h"
#include "token/token_format.h"

using namespace sandgate;

namespace {

int Usage() {
  std::cerr << "usage: sandgate_bench_seed --data DIR --count N [--prefix NAME] [--batch B] "
               "[--print-tokens K] [--usage-days D]\n";
  return 2;
}

TimeMs NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string data, prefix = "bench-seed";
  long long count = -1, batch = 10000, print = 0, usage_days = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return Usage();
    std::string v = argv[++i];
    char* end = nullptr;
    if (a == "--data") {
      data = v;
    } else if (a == "--prefix") {
      prefix = v;
    } else if (a == "--count" || a == "--batch" || a == "--print-tokens" || a == "--usage-days") {
      long long n = std::strtoll(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || n < 0) return Usage();
      (a == "--count"          ? count
       : a == "--batch"        ? batch
       : a == "--usage-days" ? usage_days
                               : print) = n;
    } else {
      return Usage();
    }
  }
  if (data.empty() || count < 0 || batch < 1) return Usage();

  auto keys = token::Keyring::Load(data + "/sandgate.key");
  if (!keys.ok()) {
    std::cerr << "error: " << keys.status().message() << "\n";
    return 1;
  }
  auto store = store::OpenSqliteStore(data + "/sandgate.db");
  if (!store.ok()) {
    std::cerr << "error: " << store.status().message() << "\n";
    return 1;
  }
  const auto& k = *keys.value();
  const auto started = std::chrono::steady_clock::now();
  long long done = 0;
  std::mt19937_64 rng(20261203);
  while (done < count) {
    const long long upto = std::min(count, done + batch);
    const TimeMs now = NowMs();
    Status st = store.value()->Write([&](store::Tx& tx) -> Status {
      for (long long i = done; i < upto; ++i) {
        store::OrgRecord org;
        org.name = prefix + "-" + std::to_string(i + 1);
        org.created_at = now;
        org.subscription = domain::Subscription::kActive;
        auto id = tx.InsertOrg(org);
        if (!id.ok()) return id.status();
        const std::string text = token::Generate();
        store::TokenRecord t;
        t.org_id = id.value();
        t.lookup_hash = k.LookupHash(text);
        t.sealed = k.Seal(text, &t.key_id);
        t.last4 = token::Last4(text);
        t.created_at = now;
        t.last_modified_by = "bench-seed";
        t.last_modified_on = now;
        if (Status s = tx.InsertToken(t); !s.ok()) return s;
        if (i < print) std::cout << text << "\n";
        const int64_t today = now / 86'400'000;
        for (long long d = 0; d < usage_days; ++d) {
          store::UsageRecord u;
          u.org_id = t.org_id;
          u.day = today - d;
          u.used = static_cast<int64_t>(rng() % 101);
          u.over_quota = rng() % 8 == 0 ? static_cast<int64_t>(rng() % 20) : 0;
          u.last_used_at = u.day * 86'400'000 + static_cast<int64_t>(rng() % 86'400'000);
          if (u.day == today) u.last_used_at = std::min(*u.last_used_at, now);
          if (Status s = tx.RestoreUsage(u); !s.ok()) return s;
        }
      }
      return Status::Ok();
    });
    if (!st.ok()) {
      std::cerr << "error: " << st.message() << " (" << st.code() << ")\n";
      return 1;
    }
    done = upto;
    if (count >= 100000 && done % 100000 == 0) std::cerr << "seeded " << done << "\n";
  }
  std::cout << std::flush;
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cerr << "seeded " << count << " organizations with tokens";
  if (usage_days > 0) std::cerr << " and " << usage_days << " days of usage each";
  std::cerr << " in " << secs << " s\n";
  return 0;
}
