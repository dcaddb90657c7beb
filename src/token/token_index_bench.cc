// Manual benchmark of TokenIndex::Verify (not built by CMake: *_bench.cc is excluded). The body is
// compiled only with -DSANDGATE_TOKEN_BENCH, so globbing src/token/*.cc into a test binary does not
// add a second main(). Build and run e.g.:
//   g++ -std=c++20 -O2 -DSANDGATE_TOKEN_BENCH -Isrc src/common/clock.cc src/domain/model.cc
//     src/domain/decision.cc $(ls src/token/*.cc | grep -v _test) -lsodium -lpthread
//     -o /tmp/token_index_bench
//   /tmp/token_index_bench [tokens=1000000] [threads=1]
#ifdef SANDGATE_TOKEN_BENCH
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "token/token_format.h"
#include "token/token_index.h"

using namespace sandgate;

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1'000'000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  const TimeMs now = 1'800'000'000'000;
  auto keys = token::Keyring::Ephemeral();
  token::TokenIndex index(keys);
  std::vector<std::string> tokens;
  tokens.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    domain::OrgState s;
    s.org_id = static_cast<domain::OrgId>(i + 1);
    s.subscription = domain::Subscription::kActive;
    s.ends_at = now + 1'000'000;
    index.PutOrg(s);
    tokens.push_back(token::Generate());
    index.PutToken(s.org_id, keys->LookupHash(tokens.back()), token::Last4(tokens.back()));
  }
  // The presented token arrives in a request buffer that is already in cache. Emulate that: tokens
  // are stored contiguously and the next one is prefetched an iteration ahead, so the timings show
  // Verify's own memory traffic, not the benchmark's.
  std::string flat;
  flat.reserve(n * token::kTokenLength);
  for (const std::string& t : tokens) flat += t;
  const size_t calls = 2'000'000;
  // mode 0: Parse + LookupHashBytes only (the cryptographic floor); mode 1: the full Verify.
  auto run = [&](int mode, int seed, size_t* bad) {
    uint64_t x = 0x9E3779B97F4A7C15ull * (seed + 1);
    auto next = [&] {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // random order: defeat the cache like real traffic
      return std::string_view(flat).substr(x % n * token::kTokenLength, token::kTokenLength);
    };
    std::string_view ahead = next();
    for (size_t i = 0; i < calls; ++i) {
      const std::string_view t = ahead;
      ahead = next();
      __builtin_prefetch(ahead.data());
      __builtin_prefetch(ahead.data() + ahead.size() - 1);
      if (mode == 0) {
        if (!token::Parse(t).ok() || keys->LookupHashBytes(t)[0] == 0x5A) ++*bad;
      } else if (!index.Verify(t, now).status.ok()) {
        ++*bad;
      }
    }
  };
  size_t total_bad = 0;
  for (int mode : {0, 1}) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<size_t> bad(threads, 0);
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) ts.emplace_back(run, mode, t, &bad[t]);
    for (auto& t : ts) t.join();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    size_t mode_bad = 0;
    for (size_t b : bad) mode_bad += b;
    if (mode == 1) total_bad = mode_bad;
    std::printf("%s, %zu tokens, %d thread(s): %.0f ns per call per thread, %.2f M calls/s\n",
                mode == 0 ? "Parse+LookupHash" : "Verify", n, threads, secs * 1e9 / calls,
                threads * calls / secs / 1e6);
  }
  std::printf("Verify refused %zu valid tokens\n", total_bad);
  if (FILE* f = std::fopen("/proc/self/smaps_rollup", "r")) {  // whether THP backs the table
    char line[256];
    while (std::fgets(line, sizeof line, f))
      if (std::strncmp(line, "AnonHugePages", 13) == 0) std::fputs(line, stdout);
    std::fclose(f);
  }
  // Refusals: malformed input (parse only) and unknown tokens (hash + miss).
  std::string bad_token = tokens[0];
  bad_token.back() = bad_token.back() == 'a' ? 'b' : 'a';
  const std::string unknown = token::Generate();
  for (const std::string* t : {&std::as_const(bad_token), &unknown}) {
    const auto t1 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < 1'000'000; ++i)
      if (index.Verify(*t, now).status.ok()) std::abort();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    std::printf("%s: %.0f ns per Verify\n", t == &unknown ? "unknown" : "malformed", s * 1e3);
  }
  return total_bad == 0 ? 0 : 1;
}

#endif  // SANDGATE_TOKEN_BENCH
