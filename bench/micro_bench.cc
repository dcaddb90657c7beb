// Sandgate microbenchmarks (Google Benchmark), run by `make bench` through scripts/bench.sh and on
// their own: build/release/bench/sandgate_micro_bench [--benchmark_filter=REGEX].
//
// Families (names are stable: scripts/bench.sh and docs/PERFORMANCE.md refer to them):
//   Token/Parse/*, Token/Generate, Token/LookupHash   token text format and the keyed hash
//   Verify/<N>/{hit,miss,malformed}                    TokenIndex::Verify with N tokens indexed
//   Peer/SqlitePointLookup/<N>                         the same lookup as an SQLite primary-key read
//   Keyring/Seal, Keyring/Unseal                       XChaCha20-Poly1305 of a token
//   Quota/ReserveCommit/{1org,1000orgs}                QuotaManager admission + commit
//   Engine/<step>/<file>                               the analysis engine on sample files
//   Rules/{none,bundled,sigbase}/{1KiB,1MiB}           scans per second (Quick + Static) of a
//                                                      text file: without YARA, with the shipped
//                                                      rules, with signature-base (the vendored
//                                                      subset, or the full set when
//                                                      SANDGATE_SIGNATURE_BASE names its yara/)
//   Hash/*/64MiB                                       whole-file streaming digests
// Sample files are written to a temporary directory (removed at exit); clam.exe comes from
// Debian's clamav-testfiles (/usr/share/clamav-testfiles). SANDGATE_BENCH_SAMPLE_1K=PATH replaces
// the generated 1 KiB clean text file (scripts/bench.sh uses the file it uploads).
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "analysis/engine.h"
#include "analysis/stream_hasher.h"
#include "domain/model.h"
#include "quota/quota.h"
#include "token/keyring.h"
#include "token/token_format.h"
#include "token/token_index.h"

namespace {

using namespace sandgate;

constexpr TimeMs kNow = 1'800'000'000'000;  // a fixed instant (2027-01-15)
const char* const kClamExe = "/usr/share/clamav-testfiles/clam.exe";

int HwThreads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

// ---- Token text -------------------------------------------------------------------------------

void BM_TokenParseValid(benchmark::State& state) {
  std::vector<std::string> toks;
  for (int i = 0; i < 1024; ++i) toks.push_back(token::Generate());
  size_t i = 0;
  for (auto _ : state) {
    Status st = token::Parse(toks[i++ & 1023]);
    benchmark::DoNotOptimize(st);
  }
}

void BM_TokenParseBadChecksum(benchmark::State& state) {
  std::string tok = token::Generate();
  tok.back() = tok.back() == 'A' ? 'B' : 'A';
  for (auto _ : state) {
    Status st = token::Parse(tok);
    benchmark::DoNotOptimize(st);
  }
}

void BM_TokenGenerate(benchmark::State& state) {
  for (auto _ : state) {
    std::string t = token::Generate();
    benchmark::DoNotOptimize(t);
  }
}

void BM_LookupHash(benchmark::State& state) {
  auto keys = token::Keyring::Ephemeral();
  const std::string tok = token::Generate();
  for (auto _ : state) {
    auto h = keys->LookupHashBytes(tok);
    benchmark::DoNotOptimize(h);
  }
}

// ---- TokenIndex::Verify -------------------------------------------------------------------------

// An index of n active organizations, each with one token, and the tokens to query.
// The query texts live in one contiguous array (64 bytes per token) walked in order, so the text
// is as hot as a token just read from a request (the hardware prefetcher streams it), while the
// index entries are visited in random order: with 1,000,000 tokens every probe is a cold
// access, as in a server whose clients use many organizations' tokens.
struct IndexFixture {
  static constexpr size_t kStride = 64;
  std::shared_ptr<token::Keyring> keys = token::Keyring::Ephemeral();
  std::unique_ptr<token::TokenIndex> index = std::make_unique<token::TokenIndex>(keys);
  std::vector<char> known;    // every indexed token, shuffled
  std::vector<char> unknown;  // well-formed tokens not in the index
  std::vector<std::string> hashes;  // every lookup hash (for the SQLite peer)

  explicit IndexFixture(size_t n) {
    std::vector<std::string> tokens;
    tokens.reserve(n);
    hashes.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const domain::OrgId org = static_cast<domain::OrgId>(i + 1);
      domain::OrgState s;
      s.org_id = org;
      s.subscription = domain::Subscription::kActive;
      index->PutOrg(s);
      std::string tok = token::Generate();
      std::string h = keys->LookupHash(tok);
      index->PutToken(org, h, token::Last4(tok));
      hashes.push_back(std::move(h));
      tokens.push_back(std::move(tok));
    }
    std::mt19937_64 rng(42);
    std::shuffle(tokens.begin(), tokens.end(), rng);
    known = Pack(tokens);
    std::vector<std::string> fresh;
    for (size_t i = 0; i < std::min<size_t>(n, 65536); ++i) fresh.push_back(token::Generate());
    unknown = Pack(fresh);
  }
  static std::vector<char> Pack(const std::vector<std::string>& tokens) {
    std::vector<char> out(tokens.size() * kStride);
    for (size_t i = 0; i < tokens.size(); ++i)
      std::memcpy(&out[i * kStride], tokens[i].data(), tokens[i].size());
    return out;
  }
  static size_t Count(const std::vector<char>& packed) { return packed.size() / kStride; }
  static std::string_view At(const std::vector<char>& packed, size_t i) {
    return {&packed[i * kStride], token::kTokenLength};
  }
};

IndexFixture& Fixture(size_t n) {
  // Built once per size, on first use, and kept for the process (the 1M index takes a few seconds).
  static std::mutex mu;
  static std::vector<std::pair<size_t, std::unique_ptr<IndexFixture>>> all;
  std::lock_guard<std::mutex> lock(mu);
  for (auto& [size, f] : all)
    if (size == n) return *f;
  all.emplace_back(n, std::make_unique<IndexFixture>(n));
  return *all.back().second;
}

void BM_Verify(benchmark::State& state, size_t n, int kind) {
  IndexFixture& f = Fixture(n);
  std::string malformed(IndexFixture::At(f.unknown, 0));
  malformed[10] = malformed[10] == 'x' ? 'y' : 'x';  // checksum no longer matches
  const std::vector<char>& set = kind == 0 ? f.known : f.unknown;
  const size_t count = IndexFixture::Count(set);
  // Threads start at different places of the walk.
  size_t i = static_cast<size_t>(state.thread_index()) * (count / 2 + 1) % count;
  for (auto _ : state) {
    const std::string_view tok = kind == 2 ? std::string_view(malformed) : IndexFixture::At(set, i);
    if (++i == count) i = 0;
    token::Verification v = f.index->Verify(tok, kNow);
    benchmark::DoNotOptimize(v);
  }
  if (kind == 0 && !f.index->Verify(IndexFixture::At(f.known, 0), kNow).status.ok())
    state.SkipWithError("known token refused");
  state.counters["tokens"] = static_cast<double>(f.index->token_count());
}

// The same lookup done by SQLite (in memory, primary key on the 32-byte hash, prepared statement):
// what a per-request database read would cost, hash included.
void BM_SqlitePointLookup(benchmark::State& state, size_t n) {
  IndexFixture& f = Fixture(n);
  sqlite3* db = nullptr;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
    state.SkipWithError("sqlite3_open failed");
    return;
  }
  sqlite3_exec(db,
               "CREATE TABLE tokens(lookup_hash BLOB PRIMARY KEY, org_id INTEGER NOT NULL) "
               "WITHOUT ROWID",
               nullptr, nullptr, nullptr);
  sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
  sqlite3_stmt* ins = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO tokens VALUES(?1, ?2)", -1, &ins, nullptr);
  for (size_t i = 0; i < f.hashes.size(); ++i) {
    sqlite3_bind_blob(ins, 1, f.hashes[i].data(), static_cast<int>(f.hashes[i].size()),
                      SQLITE_STATIC);
    sqlite3_bind_int64(ins, 2, static_cast<sqlite3_int64>(i + 1));
    sqlite3_step(ins);
    sqlite3_reset(ins);
  }
  sqlite3_finalize(ins);
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_stmt* q = nullptr;
  sqlite3_prepare_v2(db, "SELECT org_id FROM tokens WHERE lookup_hash = ?1", -1, &q, nullptr);
  const size_t count = IndexFixture::Count(f.known);
  size_t i = 0;
  int64_t found = 0;
  for (auto _ : state) {
    const std::string_view tok = IndexFixture::At(f.known, i);
    if (++i == count) i = 0;
    if (!token::Parse(tok).ok()) state.SkipWithError("parse failed");
    const auto h = f.keys->LookupHashBytes(tok);
    sqlite3_bind_blob(q, 1, h.data(), static_cast<int>(h.size()), SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW) found += sqlite3_column_int64(q, 0) > 0;
    sqlite3_reset(q);
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  if (found != static_cast<int64_t>(state.iterations())) state.SkipWithError("lookup missed");
}

// ---- Keyring seal / unseal ----------------------------------------------------------------------

void BM_Seal(benchmark::State& state) {
  auto keys = token::Keyring::Ephemeral();
  const std::string tok = token::Generate();
  for (auto _ : state) {
    std::string s = keys->Seal(tok);
    benchmark::DoNotOptimize(s);
  }
}

void BM_Unseal(benchmark::State& state) {
  auto keys = token::Keyring::Ephemeral();
  std::string key_id;
  const std::string sealed = keys->Seal(token::Generate(), &key_id);
  for (auto _ : state) {
    auto r = keys->Unseal(sealed, key_id);
    benchmark::DoNotOptimize(r);
  }
  if (!keys->Unseal(sealed, key_id).ok()) state.SkipWithError("unseal failed");
}

// ---- Quota accounting ---------------------------------------------------------------------------

void BM_QuotaReserveCommit(benchmark::State& state, int orgs) {
  quota::QuotaManager qm([](domain::OrgId, int64_t) -> Result<std::pair<int64_t, int64_t>> {
    return std::pair<int64_t, int64_t>{0, 0};
  });
  const quota::Limits unlimited{int64_t{1} << 60, int64_t{1} << 60, int64_t{1} << 60, 100};
  domain::OrgId org = 0;
  for (auto _ : state) {
    org = org % orgs + 1;
    quota::Admission a = qm.Reserve(org, unlimited, kNow);
    if (!a.status.ok()) {
      state.SkipWithError("reservation refused");
      break;
    }
    qm.Commit(org, a.day);
  }
}

// ---- Analysis engine ----------------------------------------------------------------------------

// Temporary sample files, removed at exit.
struct Samples {
  std::filesystem::path dir;
  std::string clean_1k;  // 1 KiB of plain English text
  std::string big_64m;   // 64 MiB of pseudo-random bytes

  Samples() {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/sandgate-bench-XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) std::abort();
    dir = buf.data();
    // scripts/bench.sh passes its own file so the HTTP scenario and this baseline read the same
    // bytes.
    if (const char* given = std::getenv("SANDGATE_BENCH_SAMPLE_1K"); given && *given) {
      clean_1k = given;
      return;
    }
    clean_1k = (dir / "clean-1k.txt").string();
    std::string text;
    static const char* const kWords[] = {"the",     "quarterly", "report",  "shows",   "steady",
                                         "growth",  "in",        "every",   "region",  "and",
                                         "our",     "customers", "renewed", "their",   "plans",
                                         "without", "delay",     "thanks",  "to",      "support"};
    size_t w = 0;
    while (text.size() < 1024) {
      text += kWords[w % 20];
      text += (++w % 12 == 0) ? ".\n" : " ";
    }
    text.resize(1023);
    text += '\n';
    std::ofstream(clean_1k, std::ios::binary) << text;
  }
  ~Samples() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  const std::string& Big() {
    std::lock_guard<std::mutex> lock(mu_);
    if (big_64m.empty()) {
      big_64m = (dir / "random-64m.bin").string();
      std::ofstream out(big_64m, std::ios::binary);
      std::mt19937_64 rng(7);
      std::vector<uint64_t> chunk(1 << 13);
      for (size_t written = 0; written < (64u << 20); written += chunk.size() * 8) {
        for (auto& x : chunk) x = rng();
        out.write(reinterpret_cast<const char*>(chunk.data()),
                  static_cast<std::streamsize>(chunk.size() * 8));
      }
    }
    return big_64m;
  }

 private:
  std::mutex mu_;
};

Samples& GetSamples() {
  static Samples s;
  return s;
}

const analysis::Engine* GetEngine(benchmark::State& state) {
  static std::once_flag once;
  static std::shared_ptr<analysis::Engine> engine;
  static std::string error;
  std::call_once(once, [] {
    analysis::EngineConfig cfg;
    cfg.temp_dir = GetSamples().dir.string();
    auto r = analysis::Engine::Load(cfg);
    if (r.ok())
      engine = r.value();
    else
      error = r.status().message();
  });
  if (!engine) state.SkipWithError(("engine load failed: " + error).c_str());
  return engine.get();
}

// ---- Rule sets: scans per second -----------------------------------------------------------------

enum class RuleSet { kNone, kBundled, kSignatureBase };

const analysis::Engine* GetRulesEngine(benchmark::State& state, RuleSet set) {
  static std::mutex mu;
  static std::shared_ptr<analysis::Engine> engines[3];
  static std::string errors[3];
  std::lock_guard<std::mutex> lock(mu);
  const int i = static_cast<int>(set);
  if (!engines[i] && errors[i].empty()) {
    analysis::EngineConfig cfg;
    cfg.temp_dir = GetSamples().dir.string();
    if (set == RuleSet::kNone) cfg.load_rules = false;
    if (set == RuleSet::kSignatureBase) {
      const char* full = std::getenv("SANDGATE_SIGNATURE_BASE");
      cfg.rules_dir = full != nullptr && *full != '\0'
                          ? std::string(full)
                          : std::string(SANDGATE_SOURCE_DIR "/tests/fixtures/signature-base-subset/yara");
    }
    auto r = analysis::Engine::Load(cfg);
    if (r.ok())
      engines[i] = r.value();
    else
      errors[i] = r.status().message();
  }
  if (!engines[i]) state.SkipWithError(("engine load failed: " + errors[i]).c_str());
  return engines[i].get();
}

// A text file of `size` bytes (words of a small vocabulary: the rules' string atoms are tried
// throughout, as on real documents and scripts).
const std::string& TextSample(size_t size) {
  static std::mutex mu;
  static std::map<size_t, std::string> paths;
  std::lock_guard<std::mutex> lock(mu);
  auto it = paths.find(size);
  if (it != paths.end()) return it->second;
  const std::string path = (GetSamples().dir / ("text_" + std::to_string(size))).string();
  static constexpr const char* kWords[] = {"the ",   "invoice ", "function ", "return ", "var ",
                                           "http ",  "data ",    "select ",   "from ",   "user ",
                                           "file\n", "value ",   "report ",   "total ",  "=\n"};
  std::string text;
  std::mt19937 rng(11);
  while (text.size() < size) text += kWords[rng() % std::size(kWords)];
  text.resize(size);
  std::ofstream(path, std::ios::binary) << text;
  return paths.emplace(size, path).first->second;
}

void BM_Rules(benchmark::State& state, RuleSet set, size_t size) {
  const analysis::Engine* engine = GetRulesEngine(state, set);
  if (!engine) return;
  const std::string& path = TextSample(size);
  auto digest = analysis::DigestFile(path);
  if (!digest.ok()) {
    state.SkipWithError(("cannot read " + path).c_str());
    return;
  }
  for (auto _ : state) {
    if (!engine->Quick(path, digest->hashes, digest->entropy).ok() || !engine->Static(path).ok()) {
      state.SkipWithError("analysis failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());  // scans per second
  state.counters["rules"] = static_cast<double>(engine->rule_count());
}

enum class Step { kQuick, kStatic, kQuickStatic, kAnalyzeFile };

void BM_Engine(benchmark::State& state, Step step, bool clam) {
  const analysis::Engine* engine = GetEngine(state);
  if (!engine) return;
  const std::string path = clam ? kClamExe : GetSamples().clean_1k;
  auto digest = analysis::DigestFile(path);
  if (!digest.ok()) {
    state.SkipWithError(("cannot read " + path).c_str());
    return;
  }
  for (auto _ : state) {
    bool ok = true;
    switch (step) {
      case Step::kQuick:
        ok = engine->Quick(path, digest->hashes, digest->entropy).ok();
        break;
      case Step::kStatic:
        ok = engine->Static(path).ok();
        break;
      case Step::kQuickStatic:
        ok = engine->Quick(path, digest->hashes, digest->entropy).ok() &&
             engine->Static(path).ok();
        break;
      case Step::kAnalyzeFile:
        ok = engine->AnalyzeFile(path).ok();
        break;
    }
    if (!ok) {
      state.SkipWithError("analysis failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(digest->hashes.size));
}

// ---- Streaming digests --------------------------------------------------------------------------

// Feeds 64 MiB (in memory) in 64 KiB chunks, as the server's body loop does.
void BM_Hash64MiB(benchmark::State& state, int mode) {
  constexpr size_t kSize = 64u << 20, kChunk = 64u << 10;
  static std::vector<unsigned char> data = [] {
    std::vector<unsigned char> d(kSize);
    std::mt19937_64 rng(3);
    for (size_t i = 0; i < kSize; i += 8) {
      uint64_t x = rng();
      std::memcpy(&d[i], &x, 8);
    }
    return d;
  }();
  for (auto _ : state) {
    if (mode == 0 || mode == 1) {  // StreamHasher (MD5+SHA-1+SHA-256), + entropy in mode 1
      analysis::StreamHasher h;
      analysis::EntropyAccumulator e;
      for (size_t off = 0; off < kSize; off += kChunk) {
        h.Update(&data[off], kChunk);
        if (mode == 1) e.Update(&data[off], kChunk);
      }
      auto r = h.Finish();
      benchmark::DoNotOptimize(r);
      if (mode == 1) benchmark::DoNotOptimize(e.Bits());
    } else {  // SHA-256 alone (what sha256sum computes), OpenSSL EVP
      EVP_MD_CTX* ctx = EVP_MD_CTX_new();
      EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
      for (size_t off = 0; off < kSize; off += kChunk) EVP_DigestUpdate(ctx, &data[off], kChunk);
      unsigned char md[EVP_MAX_MD_SIZE];
      unsigned len = 0;
      EVP_DigestFinal_ex(ctx, md, &len);
      EVP_MD_CTX_free(ctx);
      benchmark::DoNotOptimize(md);
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kSize));
}

// The whole-file path on disk: DigestFile (read + MD5/SHA-1/SHA-256 + entropy) of a 64 MiB file.
void BM_DigestFile64MiB(benchmark::State& state) {
  const std::string& path = GetSamples().Big();
  for (auto _ : state) {
    auto d = analysis::DigestFile(path);
    if (!d.ok()) {
      state.SkipWithError("DigestFile failed");
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(64u << 20));
}

void Register() {
  using benchmark::RegisterBenchmark;
  const int hw = HwThreads();
  RegisterBenchmark("Token/Parse/valid", BM_TokenParseValid);
  RegisterBenchmark("Token/Parse/bad_checksum", BM_TokenParseBadChecksum);
  RegisterBenchmark("Token/Generate", BM_TokenGenerate);
  RegisterBenchmark("Token/LookupHash", BM_LookupHash);
  for (size_t n : {size_t{1000}, size_t{1000000}}) {
    const std::string ns = std::to_string(n);
    RegisterBenchmark(("Verify/" + ns + "/hit").c_str(), BM_Verify, n, 0);
    RegisterBenchmark(("Verify/" + ns + "/miss").c_str(), BM_Verify, n, 1);
    RegisterBenchmark(("Verify/" + ns + "/malformed").c_str(), BM_Verify, n, 2);
    RegisterBenchmark(("Peer/SqlitePointLookup/" + ns).c_str(), BM_SqlitePointLookup, n);
  }
  if (hw > 1)
    RegisterBenchmark("Verify/1000000/hit", BM_Verify, size_t{1000000}, 0)
        ->Threads(hw)
        ->UseRealTime();
  RegisterBenchmark("Keyring/Seal", BM_Seal);
  RegisterBenchmark("Keyring/Unseal", BM_Unseal);
  RegisterBenchmark("Quota/ReserveCommit/1org", BM_QuotaReserveCommit, 1);
  RegisterBenchmark("Quota/ReserveCommit/1000orgs", BM_QuotaReserveCommit, 1000);
  for (bool clam : {false, true}) {
    const std::string file = clam ? "clam.exe" : "clean_1KiB";
    RegisterBenchmark(("Engine/Quick/" + file).c_str(), BM_Engine, Step::kQuick, clam)
        ->Unit(benchmark::kMicrosecond);
    RegisterBenchmark(("Engine/Static/" + file).c_str(), BM_Engine, Step::kStatic, clam)
        ->Unit(benchmark::kMicrosecond);
    RegisterBenchmark(("Engine/QuickStatic/" + file).c_str(), BM_Engine, Step::kQuickStatic, clam)
        ->Unit(benchmark::kMicrosecond);
    // AnalyzeFile = DigestFile + Quick + Static + Classify: the complete analysis of one file, the
    // in-process baseline of the valid-submission scenario (one thread, and all cores).
    auto* b = RegisterBenchmark(("Engine/AnalyzeFile/" + file).c_str(), BM_Engine,
                                Step::kAnalyzeFile, clam)
                  ->Unit(benchmark::kMicrosecond)
                  ->UseRealTime();
    if (hw > 1) b->Threads(1)->Threads(hw);
  }
  for (RuleSet set : {RuleSet::kNone, RuleSet::kBundled, RuleSet::kSignatureBase}) {
    const std::string name = set == RuleSet::kNone      ? "none"
                             : set == RuleSet::kBundled ? "bundled"
                                                        : "sigbase";
    for (size_t size : {size_t{1} << 10, size_t{1} << 20}) {
      RegisterBenchmark(("Rules/" + name + (size == 1024 ? "/1KiB" : "/1MiB")).c_str(), BM_Rules,
                        set, size)
          ->Unit(benchmark::kMicrosecond);
    }
  }
  RegisterBenchmark("Hash/StreamHasher/64MiB", BM_Hash64MiB, 0)->Unit(benchmark::kMillisecond);
  RegisterBenchmark("Hash/StreamHasher+Entropy/64MiB", BM_Hash64MiB, 1)
      ->Unit(benchmark::kMillisecond);
  RegisterBenchmark("Hash/SHA256only/64MiB", BM_Hash64MiB, 2)->Unit(benchmark::kMillisecond);
  RegisterBenchmark("Hash/DigestFile/64MiB", BM_DigestFile64MiB)->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  Register();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
