// The offline analysis engine behind /zscsb/submit and /zscsb/discan:
//  - Quick:  file type + MIME (libmagic), ssdeep (libfuzzy), AV scan (libclamav with Sandgate's own
//            signatures in share/signatures; archives, mail, OLE2, PDF, ... are unpacked),
//  - Static: YARA rules from share/rules (modules pe, elf, math),
//  - Classify: the verdict rules (pure function, below).
//
// Lifecycle and threading:
//  - Engine::Load compiles signatures and rules once; the Engine is immutable afterwards. Every
//    public method is const and thread-safe: any number of threads may call Quick/Static/
//    AnalyzeFile at the same time on one Engine (ClamAV scans a compiled engine read-only, each
//    YARA scan gets its own YR_SCANNER, libmagic handles come from an internal pool, one per call).
//  - Share an Engine as std::shared_ptr<const Engine>. EngineHolder swaps in a freshly loaded
//    Engine (SIGHUP) while in-flight scans keep the old one alive through their own shared_ptr;
//    the old Engine is freed by whichever thread drops the last reference.
//  - Process-wide library initialisation (cl_init, yr_initialize) happens once, on the first Load,
//    and is never undone.
//  - Nothing throws across this interface; failures are Status values (500 INTERNAL for I/O and
//    library errors, 504 ANALYSIS_TIMEOUT when YARA exceeds its time budget).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/severity.h"
#include "analysis/stream_hasher.h"
#include "common/status.h"

#ifndef SANDGATE_SOURCE_DIR
#define SANDGATE_SOURCE_DIR "."
#endif

struct cl_engine;
struct cl_fmap;
struct YR_RULES;

namespace sandgate::analysis {
class CompiledRules;
}

namespace sandgate::analysis {

struct EngineConfig {
  // Every ClamAV database file in this directory is loaded (here: sandgate.ndb, sandgate.hdb).
  // The system ClamAV database is never used.
  std::string signatures_dir = SANDGATE_SOURCE_DIR "/share/signatures";
  // Every *.yar / *.yara file in this directory is compiled (yara_rules.h: the external variables
  // of public rule sets are defined; a file that does not compile is skipped and reported unless
  // rules_strict). A rule's risk comes from its meta severity (word or 0..100) or score (0..100),
  // else rules_default_risk (severity.h); description and section (a Zscaler report list name) are
  // optional. Files are grouped by the modules they import (import statements
  // before the first rule): a file importing "pe" runs only on files starting with MZ, one
  // importing "elf" only on ELF files (both: either), any other file on every file. (Loading the
  // pe module costs ~0.4 ms per scan, so it is not paid for non-PE input.) Rules may reference
  // rules of files in the same group only.
  std::string rules_dir = SANDGATE_SOURCE_DIR "/share/rules";
  // All or nothing: the first rule file that does not compile (or an unknown severity word, or a
  // rule name in two groups) fails the load.
  bool rules_strict = false;
  // Risk of rules that carry neither severity nor score.
  Risk rules_default_risk = Risk::kModerate;
  // Module gating (below: pe-importing files run only on MZ input, elf-importing ones only on
  // ELF) is right only for rule files written for it, like the shipped ones: public sets put
  // rules for scripts and configs in files that import "pe" (signature-base does). Unset: on
  // for the shipped rules directory only; any other directory runs every rule on every file.
  std::optional<bool> gate_by_import;
  // Compiled-rules cache (rule_cache.h); empty = compile at every load.
  std::string rules_cache_dir;
  // false: load no YARA rules at all (the av-scan child only runs ClamAV).
  bool load_rules = true;
  // ClamAV's scratch directory for unpacked archive members; empty = $TMPDIR or /tmp.
  std::string temp_dir;
  // YARA sees at most this many bytes from the start of a file, so memory stays bounded whatever
  // the upload's size (hashes, entropy and the AV scan still cover the whole file).
  uint64_t static_scan_limit = 16ull << 20;
  // ClamAV scans files (and archive contents) up to this size, in total per scan (the file and
  // everything unpacked from it) — when no av_subprocess is set. With av_subprocess (serve), an
  // in-process scan (uploads up to av_subprocess_threshold) reads at most
  // max(av_subprocess_threshold, av_extract_limit) bytes in total, and a child scan at most twice
  // the upload plus av_extract_limit: what one upload may expand to is bounded whatever its format.
  uint64_t av_scan_limit = 512ull << 20;
  uint64_t av_extract_limit = 64ull << 20;
  // Nested files per scan, archive depth, and ClamAV's time budget per scan. A file over any limit
  // is reported as ClamAV names it ("Heuristics.Limits.Exceeded.*") and classified SUSPICIOUS.
  int av_max_files = 1000;
  int av_max_recursion = 10;
  int av_max_scan_ms = 60'000;
  // AV scans running at once in this process (in-process and child scans alike): with the
  // limits above, the scratch space ClamAV uses in temp_dir stays under this many times the
  // per-scan limit.
  int av_concurrent_scans = 4;
  // When set, files larger than av_subprocess_threshold are AV-scanned by running this executable
  // as `<exe> av-scan --signatures-dir DIR FILE` (the sandgate binary), so a large scan's memory is
  // not the server's and a parser crash cannot take the server down.
  std::string av_subprocess;
  uint64_t av_subprocess_threshold = 32ull << 20;
  // Child scans that may start before their file is complete (Engine::StartAvScan, issue 19,
  // target 5), on top of av_concurrent_scans: such a child waits for the bytes it needs, so a slow
  // upload may hold it; 0 turns early scans off.
  int av_early_scans = 1;
  // Per-file YARA time budget.
  int yara_timeout_seconds = 60;
};

std::string_view RiskName(Risk risk);  // "LOW", "MODERATE", "HIGH"

// One static-analysis finding, shaped like an entry of a Zscaler "Full Details" list.
struct Finding {
  Risk risk = Risk::kLow;                      // from the rule's meta severity
  std::string signature;                       // meta description, or the rule name
  std::vector<std::string> signature_sources;  // {"YARA:<rule>"}
  std::string rule;                            // the YARA rule name
  // Which report list it belongs to: SystemSummary (default), Networking, SecurityBypass, Stealth,
  // Persistence, Spyware, Exploit (rule meta section).
  std::string section = "SystemSummary";
  // Set when the rule matched a member of an archive rather than the file itself: the member's
  // path inside the upload as libclamav extracted it ("outer.zip/inner.tar/evil.ps1"); the
  // signature text then ends with " (in <member>)".
  std::string member;
};

struct StaticResult {
  std::vector<Finding> findings;  // sorted: highest risk first, then by rule name
  // Sum of HIGH 50, MODERATE 30, LOW 10 per matching rule, capped at 89 (90+ is for AV hits).
  int score = 0;
  // The YARA time budget ran out: findings are those seen so far; a LOW finding
  // "Sandgate.YaraTimeout" says so in the report (it adds nothing to the score).
  bool timed_out = false;
  size_t members_scanned = 0;  // archive members given to YARA
};

struct QuickResult {
  Hashes hashes;       // as passed to Quick
  double entropy = 0;  // as passed to Quick (bits per byte)
  // Zscaler FileType: exe, dll, elf, zip, 7z, pdf, doc, docx, js, ps1, txt, bin, ... (file_type.h)
  std::string file_type;
  // Zscaler Category: EXECS, ARCHIVE, DOCS, PDF, SCRIPT, JAR, ANDROID, FLASH, OTHER
  std::string category;
  bool identified = false;  // libmagic recognised the format (false: "data" -> file_type "bin")
  std::string mime;         // libmagic MIME type
  // libmagic description; for text/* files only the text classification ("ASCII text, with CRLF
  // line terminators"), as the MIME type already names the kind of text.
  std::string description;
  std::string ssdeep;      // fuzzy hash
  std::string virus_name;  // empty when ClamAV found nothing (".UNOFFICIAL" suffix removed)
  std::string virus_type;  // VirusTypeFromName(virus_name); empty when clean
  std::string av_error;    // set when ClamAV could not finish (e.g. malformed or too-deep archive)
};

enum class VerdictType { kMalicious, kSuspicious, kBenign, kUnknown };
std::string_view VerdictTypeName(VerdictType type);  // "MALICIOUS", ..., "UNKNOWN"

struct Verdict {
  VerdictType type = VerdictType::kUnknown;  // Classification.Type
  int score = 0;                             // Classification.Score, 0..100
  // Classification.Category: BENIGN, SUSPICIOUS, ADWARE, MALWARE_BOTNET, or UNKNOWN
  std::string category;
  std::string detected_malware;  // Classification.DetectedMalware: the AV name, else empty
  std::string submission;        // sandboxSubmission: "Virus", "Suspicious", "Clean", "Unknown"
};

// The verdict rules (pure, thread-safe). static_result may be null (Quick-only path, e.g. discan).
//  1. AV hit (quick.virus_name set) -> MALICIOUS, score 95 (100 when the static score is >= 50),
//     category ADWARE for virus types Adware/PUA else MALWARE_BOTNET, DetectedMalware = virus name,
//     submission "Virus".
//  2. Otherwise score = max(static score, entropy indicator), where the entropy indicator is 30 for
//     an unidentified format ("bin") of >= 1 KiB with entropy > 7.2 bits/byte (random or encrypted
//     data; container formats are identified by libmagic and never get it), else 0.
//     score >= 30 (any HIGH or MODERATE rule, three LOW rules, or the entropy indicator)
//     -> SUSPICIOUS / SUSPICIOUS / "Suspicious".
//  3. Otherwise, an unidentified format ("bin": nothing we run understands it) -> UNKNOWN / UNKNOWN
//     / "Unknown", score as computed (0..29).
//  4. Otherwise BENIGN / BENIGN / "Clean", score as computed (0..29: LOW findings only).
Verdict Classify(const QuickResult& quick, const StaticResult* static_result);

// Virus type from an AV signature name (documented mapping, case-insensitive):
//  "EICAR" anywhere, or a ".Test."/"-Test-" token -> "Virus" (test signatures are reported the way
//  Zscaler reports EICAR); otherwise the ClamAV category token of "Platform.Category.Name":
//  Trojan/Downloader/Dropper -> "Trojan", Worm, Ransomware, Adware, Spyware/Keylogger -> "Spyware",
//  Backdoor, Exploit, Phishing, PUA/Pua -> "PUA", Coinminer/Miner -> "Coinminer"; anything else
//  -> "Virus". Empty name -> empty.
std::string VirusTypeFromName(std::string_view virus_name);

// Everything about one file: what AnalyzeFile returns and the report is made from.
struct Analysis {
  QuickResult quick;
  StaticResult statics;
  Verdict verdict;
};

class Engine;

// An AV scan in a child process started while its file is still being written (issue 19, target
// 5: the scan overlaps the upload instead of following it). The child reads the file as it grows
// and waits for each byte it needs until the file holds the size given at the start; the caller
// must write exactly that many bytes (or destroy this object). Owns the child and one of
// av_early_scans' slots: Finish waits for the answer; destroying an unfinished scan kills and
// reaps the child. Thread-compatible (one thread at a time).
class EarlyAvScan {
 public:
  ~EarlyAvScan();
  EarlyAvScan(const EarlyAvScan&) = delete;
  EarlyAvScan& operator=(const EarlyAvScan&) = delete;

  // Waits for the child's answer, as a scan started after the upload would give it: *virus (the
  // raw signature name) or *av_error set, or neither for a clean file. Once only.
  Status Finish(std::string* virus, std::string* av_error);

 private:
  friend class Engine;
  EarlyAvScan(int pid, int out_fd) : pid_(pid), out_fd_(out_fd) {}
  int pid_;     // the child; -1 once reaped
  int out_fd_;  // the read end of its stdout; -1 once closed
};

class Engine {
 public:
  // Loads and compiles signatures_dir (ClamAV) and rules_dir (YARA) and checks that libmagic opens.
  // Errors: 500 INTERNAL naming the directory/file and the library's message (missing directory,
  // bad signature line, YARA syntax error, rule without a valid severity).
  static Result<std::shared_ptr<Engine>> Load(const EngineConfig& config);

  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // File type, MIME, ssdeep and AV scan of the file at `path`. `hashes`/`entropy` are those the
  // caller computed while receiving the bytes (StreamHasher, EntropyAccumulator); they are copied
  // into the result. Errors: 500 INTERNAL when the file cannot be read. A ClamAV failure on a
  // malformed file is not an error: it is reported in av_error.
  // With ssdeep = false the fuzzy hash is not computed (QuickResult::ssdeep stays empty): for
  // callers that computed it while the bytes arrived (side_digest.h, issue 19, target 5).
  // `content`, when given, is the whole file (a small upload the caller holds in memory): the
  // head, ssdeep and the in-process AV scan read it there instead of from `path` (issue 19,
  // target 3: small bodies scanned from memory; no map, no reads). libmagic still reads `path`:
  // from a buffer it would say less (no ELF section details, no tests at offsets from the end of
  // the file, e.g. gzip's original size). Same result as without `content`.
  // `early_av`, when given, is the AV scan of this file started while it was written
  // (StartAvScan): Quick waits for its answer instead of scanning again.
  Result<QuickResult> Quick(const std::string& path, const Hashes& hashes, double entropy,
                            bool ssdeep = true,
                            std::optional<std::string_view> content = std::nullopt,
                            EarlyAvScan* early_av = nullptr) const;

  // Starts the AV scan of the file at `path`, which is being written and will hold exactly `size`
  // bytes, in a child process that follows it (EarlyAvScan). Null (not an error) when scans of
  // this size do not run in a child (no av_subprocess, size up to av_subprocess_threshold) or
  // when all av_early_scans slots are taken: the caller then scans after the file is complete.
  // 500 INTERNAL when the child cannot be started. Does not block.
  Result<std::unique_ptr<EarlyAvScan>> StartAvScan(const std::string& path, uint64_t size) const;

  // YARA scan of the file at `path` and, for archives up to static_scan_limit, of every member
  // libclamav extracts (within its extraction limits). `filename` is the client's name for the
  // file (externals filename/filepath/extension; may be empty). The whole call has one time budget
  // (yara_timeout_seconds): when it runs out the result is partial and says so (timed_out).
  // Errors: 500 INTERNAL (unreadable file, YARA failure). `content`, when given, is the whole file
  // held in memory (a small upload): the rules scan it there instead of mapping `path`; archive
  // members are still extracted from `path`. Same result as without `content`.
  Result<StaticResult> Static(const std::string& path, std::string_view filename = {},
                              std::optional<std::string_view> content = std::nullopt) const;

  // DigestFile + Quick + Static + Classify, for callers that hold a complete file.
  Result<Analysis> AnalyzeFile(const std::string& path) const;

  const EngineConfig& config() const { return config_; }
  unsigned signature_count() const { return signature_count_; }  // ClamAV signatures loaded
  size_t rule_count() const { return rule_count_; }              // YARA rules compiled
  // The loaded rules: skipped files, warnings, load time, cache use; null when load_rules=false.
  const CompiledRules* rules() const { return rules_.get(); }

 private:
  class MagicPool;
  Engine();
  Status ScanAvInChild(const std::string& path, uint64_t size, std::string* virus,
                       std::string* av_error) const;
  // Starts `<av_subprocess> av-scan ... path` (plus --follow-bytes when follow) with its stdout on
  // a pipe: the child's pid and the pipe's read end.
  Status SpawnAvChild(const std::string& path, uint64_t size, bool follow, int* pid,
                      int* out_fd) const;

 public:
  // The in-process ClamAV scan (what `sandgate av-scan` runs). *virus is the raw signature name.
  // follow_bytes > 0: the file is still being written and will hold that many bytes; each read
  // waits until the file holds the bytes it asks for (`av-scan --follow-bytes`, the child of
  // StartAvScan). Such a read fails if the file stops growing for follow_stall_ms or if the
  // process that started this one is gone.
  Status ScanAv(const std::string& path, std::string* virus, std::string* av_error,
                uint64_t follow_bytes = 0, int follow_stall_ms = 120'000) const;

 private:
  // The same scan of bytes in memory; `name` is what errors call them.
  Status ScanAvBytes(std::string_view bytes, const std::string& name, std::string* virus,
                     std::string* av_error) const;
  // Scans `map` (closed by the caller); the verdict of ScanAv and ScanAvBytes.
  Status ScanAvMap(cl_fmap* map, const std::string& name, std::string* virus,
                   std::string* av_error) const;
  EngineConfig config_;
  cl_engine* clam_ = nullptr;  // owned; compiled, then only read
  // Runs the rule groups that apply on one buffer; false when the time budget ran out.
  bool ScanBuffer(const uint8_t* data, size_t size, std::string_view name, int timeout_seconds,
                  std::vector<Finding>* findings, Status* error) const;
  std::unique_ptr<CompiledRules> rules_;
  std::unique_ptr<MagicPool> magic_;
  unsigned signature_count_ = 0;
  size_t rule_count_ = 0;
};

// Holds the current Engine and replaces it on reload. Thread-safe: Get() from any number of
// threads while another thread reloads; reloads are serialised.
class EngineHolder {
 public:
  // Loads the first engine. Errors: as Engine::Load.
  static Result<std::unique_ptr<EngineHolder>> Open(const EngineConfig& config);
  // Wraps an already loaded engine (must not be null); Reload() uses `config`.
  EngineHolder(EngineConfig config, std::shared_ptr<const Engine> engine);

  // The current engine; never null. Callers keep the shared_ptr for the whole scan, so a reload
  // during the scan does not affect it.
  std::shared_ptr<const Engine> Get() const;

  // Loads a new engine from the held config (re-reading the directories) and swaps it in only if it
  // loaded completely; on failure the current engine stays and the load error is returned.
  Status Reload();
  // As Reload(), from `config`; the config is adopted only on success.
  Status Reload(const EngineConfig& config);

  // 1 after construction, +1 for every successful reload.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  std::atomic<std::shared_ptr<const Engine>> current_;
  std::atomic<uint64_t> generation_{1};
  std::mutex reload_mu_;  // serialises reloads; guards config_
  EngineConfig config_;
};

}  // namespace sandgate::analysis
