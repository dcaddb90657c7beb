// sandgate_bench_seed: adds many organizations, each with an active subscription and one token, to
// an existing data directory (created by `sandgate serve --demo` or `sandgate init`), for the
// benchmarks' scale runs. The server must not be running (its token index is loaded at start).
//
//   sandgate_bench_seed --data DIR --count N [--prefix NAME] [--batch B] [--print-tokens K]
//
// Rows go through the Store interface (the same records the services write: keyed lookup hash,
// sealed token, key id), B organizations per transaction, without audit records: this is test
// data, not an operator's action. Organizations are named "<prefix>-<i>"; the first K tokens are
// printed, one per line, on standard output (progress goes to standard error).
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "store/store.h"
#include "token/keyring.h"
#include "token/token_format.h"

using namespace sandgate;

namespace {

int Usage() {
  std::cerr << "usage: sandgate_bench_seed --data DIR --count N [--prefix NAME] [--batch B] "
               "[--print-tokens K]\n";
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
  long long count = -1, batch = 10000, print = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return Usage();
    std::string v = argv[++i];
    char* end = nullptr;
    if (a == "--data") {
      data = v;
    } else if (a == "--prefix") {
      prefix = v;
    } else if (a == "--count" || a == "--batch" || a == "--print-tokens") {
      long long n = std::strtoll(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || n < 0) return Usage();
      (a == "--count" ? count : a == "--batch" ? batch : print) = n;
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
  std::cerr << "seeded " << count << " organizations with tokens in " << secs << " s\n";
  return 0;
}
