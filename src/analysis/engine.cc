#include "analysis/engine.h"

#include <clamav.h>
#include <errno.h>
#include <fcntl.h>
#include <fuzzy.h>
#include <magic.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yara.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <utility>

#include "analysis/file_type.h"
#include "analysis/members.h"
#include "analysis/yara_rules.h"
#include "common/ascii.h"
#include "common/semaphore.h"
#include "metrics/sandgate_metrics.h"

extern char** environ;

namespace sandgate::analysis {
namespace {

// Bytes of the file's beginning given to the text sniffer and zip-entry check.
constexpr size_t kHeadBytes = 64 * 1024;
// libmagic reads at most this much of a file (its default is 7 MiB; every rule we rely on looks at
// the beginning, ELF/PE parsing seeks separately).
constexpr size_t kMagicBytesMax = 1024 * 1024;
// Idle libmagic handles kept for reuse; more are opened on demand under load and closed afterwards.
constexpr size_t kMaxIdleMagic = 8;
// Real errors for unreadable files (not a description saying so); follow symlinks like open() does.
constexpr int kMagicFlags = MAGIC_ERROR | MAGIC_SYMLINK;

constexpr int kWeightHigh = 50;
constexpr int kWeightModerate = 30;
constexpr int kWeightLow = 10;
constexpr int kStaticScoreCap = 89;
constexpr int kSuspiciousThreshold = 30;
constexpr double kHighEntropyBits = 7.2;
constexpr uint64_t kHighEntropyMinSize = 1024;
constexpr int kEntropyIndicatorScore = 30;
// ClamAV's name for a file that went over a scan limit (CL_SCAN_HEURISTIC_EXCEEDS_MAX), lower case.
constexpr std::string_view kLimitsExceededLower = "heuristics.limits.exceeded";

// libclamav and libyara keep process-wide state; initialise both exactly once (thread-safe static).
Status InitLibraries() {
  static const Status status = [] {
    const cl_error_t rc = cl_init(CL_INIT_DEFAULT);
    if (rc != CL_SUCCESS) return Status::Internal(std::string("cl_init: ") + cl_strerror(rc));
    const int yrc = yr_initialize();
    if (yrc != ERROR_SUCCESS) {
      return Status::Internal("yr_initialize failed with YARA error " + std::to_string(yrc));
    }
    return Status::Ok();
  }();
  return status;
}

int Weight(Risk r) {
  switch (r) {
    case Risk::kHigh:
      return kWeightHigh;
    case Risk::kModerate:
      return kWeightModerate;
    case Risk::kLow:
      return kWeightLow;
  }
  return 0;
}

bool IsKnownSection(std::string_view s) {
  static constexpr std::string_view kSections[] = {"SystemSummary", "Networking",  "SecurityBypass",
                                                   "Stealth",       "Persistence", "Spyware",
                                                   "Exploit"};
  return std::find(std::begin(kSections), std::end(kSections), s) != std::end(kSections);
}

// The string value of a rule's meta `name`, or null.
const char* MetaString(const YR_RULE* rule, const char* name) {
  const YR_META* meta;
  yr_rule_metas_foreach(rule, meta) {
    if (meta->type == META_TYPE_STRING && std::strcmp(meta->identifier, name) == 0) {
      return meta->string;
    }
  }
  return nullptr;
}

Finding FindingOf(const YR_RULE* rule, Risk fallback) {
  Finding f;
  f.rule = rule->identifier;
  f.risk = RuleSeverityOf(rule, fallback).risk;
  const char* description = MetaString(rule, "description");
  f.signature = description != nullptr && *description != '\0' ? description : f.rule;
  f.signature_sources.push_back("YARA:" + f.rule);
  const char* section = MetaString(rule, "section");
  if (section != nullptr && IsKnownSection(section)) f.section = section;
  return f;
}

// Where a scan's matches go.
struct ScanSink {
  std::vector<Finding>* findings;
  Risk fallback;  // risk of rules without severity/score
};

int YaraScanCallback(YR_SCAN_CONTEXT* /*context*/, int message, void* message_data,
                     void* user_data) {
  if (message == CALLBACK_MSG_RULE_MATCHING) {
    auto* sink = static_cast<ScanSink*>(user_data);
    sink->findings->push_back(FindingOf(static_cast<const YR_RULE*>(message_data), sink->fallback));
  }
  return CALLBACK_CONTINUE;
}

// A read-only private mapping of a whole file (an empty file maps to an empty range).
// Opens `path` read-only and checks that it is a regular file. Returns the descriptor (the caller
// closes it) and fills *st, or -1 with *error set.
int OpenRegularFile(const std::string& path, struct stat* st, std::string* error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = "cannot open " + path + ": " + std::strerror(errno);
    return -1;
  }
  if (::fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
    ::close(fd);
    *error = path + " is not a regular file";
    return -1;
  }
  return fd;
}

class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile() {
    if (data_ != nullptr && size_ > 0) ::munmap(data_, size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // Maps at most `limit` bytes from the start of the file (bounded memory for large uploads).
  bool Map(const std::string& path, std::string* error, uint64_t limit = UINT64_MAX) {
    struct stat st;
    const int fd = OpenRegularFile(path, &st, error);
    if (fd < 0) return false;
    size_ = static_cast<size_t>(std::min<uint64_t>(static_cast<uint64_t>(st.st_size), limit));
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        *error = "cannot map " + path + ": " + std::strerror(errno);
        ::close(fd);
        size_ = 0;
        return false;
      }
      data_ = p;
    }
    ::close(fd);
    return true;
  }
  const uint8_t* data() const {
    static const uint8_t kEmpty = 0;
    return size_ > 0 ? static_cast<const uint8_t*>(data_) : &kEmpty;
  }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

bool ReadHead(const std::string& path, std::string* head, std::string* error) {
  struct stat st;
  const int fd = OpenRegularFile(path, &st, error);
  if (fd < 0) return false;
  head->resize(kHeadBytes);
  size_t got = 0;
  while (got < head->size()) {
    const ssize_t n = ::read(fd, head->data() + got, head->size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = "cannot read " + path + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  head->resize(got);
  ::close(fd);
  return true;
}

// ClamAV failures caused by the environment (the file, memory, temp space) are errors of the call;
// the rest (malformed content, limits, timeouts) are a fact about the file, reported in av_error.
bool IsEnvironmentError(cl_error_t rc) {
  switch (rc) {
    case CL_ENULLARG:
    case CL_EARG:
    case CL_EOPEN:
    case CL_ESTAT:
    case CL_EREAD:
    case CL_EWRITE:
    case CL_EACCES:
    case CL_ETMPFILE:
    case CL_ETMPDIR:
    case CL_EMAP:
    case CL_EMEM:
      return true;
    default:
      return false;
  }
}

std::string StripUnofficial(const char* name) {
  std::string s = name;
  constexpr std::string_view kSuffix = ".UNOFFICIAL";
  if (s.size() > kSuffix.size() && std::string_view(s).ends_with(kSuffix)) {
    s.resize(s.size() - kSuffix.size());
  }
  return s;
}

}  // namespace

std::string_view RiskName(Risk risk) {
  switch (risk) {
    case Risk::kLow:
      return "LOW";
    case Risk::kModerate:
      return "MODERATE";
    case Risk::kHigh:
      return "HIGH";
  }
  return "LOW";
}

std::string_view VerdictTypeName(VerdictType type) {
  switch (type) {
    case VerdictType::kMalicious:
      return "MALICIOUS";
    case VerdictType::kSuspicious:
      return "SUSPICIOUS";
    case VerdictType::kBenign:
      return "BENIGN";
    case VerdictType::kUnknown:
      return "UNKNOWN";
  }
  return "UNKNOWN";
}

std::string VirusTypeFromName(std::string_view virus_name) {
  if (virus_name.empty()) return "";
  const std::string name = AsciiLower(virus_name);
  if (name.starts_with(kLimitsExceededLower)) return "LimitsExceeded";
  if (name.find("eicar") != std::string::npos || name.find(".test.") != std::string::npos ||
      name.find("-test-") != std::string::npos) {
    return "Virus";
  }
  struct Token {
    std::string_view token;
    std::string_view type;
  };
  static constexpr Token kTokens[] = {
      {"trojan", "Trojan"},       {"downloader", "Trojan"},     {"dropper", "Trojan"},
      {"worm", "Worm"},           {"ransomware", "Ransomware"}, {"adware", "Adware"},
      {"spyware", "Spyware"},     {"keylogger", "Spyware"},     {"backdoor", "Backdoor"},
      {"exploit", "Exploit"},     {"phishing", "Phishing"},     {"pua", "PUA"},
      {"coinminer", "Coinminer"}, {"miner", "Coinminer"},
  };
  // Dot-separated tokens of the name ("Win.Trojan.Agent-12345" -> win, trojan, agent-12345).
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('.', start);
    if (end == std::string::npos) end = name.size();
    const std::string_view tok = std::string_view(name).substr(start, end - start);
    for (const Token& t : kTokens) {
      if (tok == t.token) return std::string(t.type);
    }
    start = end + 1;
  }
  return "Virus";
}

Verdict Classify(const QuickResult& quick, const StaticResult* static_result) {
  const int static_score = static_result != nullptr ? static_result->score : 0;
  Verdict v;
  if (AsciiLower(quick.virus_name).starts_with(kLimitsExceededLower)) {
    // Not a detection: the file goes beyond what the analysis may unpack or spend on it
    // (a decompression bomb, an archive nested too deep). Suspicious, and says why.
    v.type = VerdictType::kSuspicious;
    v.score = std::max(static_score, kSuspiciousThreshold);
    v.category = "SUSPICIOUS";
    v.submission = "Suspicious";
    return v;
  }
  if (!quick.virus_name.empty()) {
    v.type = VerdictType::kMalicious;
    v.score = static_score >= kWeightHigh ? 100 : 95;
    const std::string vt =
        quick.virus_type.empty() ? VirusTypeFromName(quick.virus_name) : quick.virus_type;
    v.category = vt == "Adware" || vt == "PUA" ? "ADWARE" : "MALWARE_BOTNET";
    v.detected_malware = quick.virus_name;
    v.submission = "Virus";
    return v;
  }
  const bool high_entropy_blob = quick.file_type == "bin" && !quick.identified &&
                                 quick.hashes.size >= kHighEntropyMinSize &&
                                 quick.entropy > kHighEntropyBits;
  v.score = std::max(static_score, high_entropy_blob ? kEntropyIndicatorScore : 0);
  if (v.score >= kSuspiciousThreshold) {
    v.type = VerdictType::kSuspicious;
    v.category = "SUSPICIOUS";
    v.submission = "Suspicious";
  } else if (!quick.identified) {
    v.type = VerdictType::kUnknown;
    v.category = "UNKNOWN";
    v.submission = "Unknown";
  } else {
    v.type = VerdictType::kBenign;
    v.category = "BENIGN";
    v.submission = "Clean";
  }
  return v;
}

// A small pool of libmagic handles (a magic_t must not be used by two threads at once).
class Engine::MagicPool {
 public:
  ~MagicPool() {
    for (magic_t m : idle_) magic_close(m);
  }

  // A handle for exclusive use, returned with Release(). Opens a new one when none is idle.
  Result<magic_t> Acquire() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        magic_t m = idle_.back();
        idle_.pop_back();
        return m;
      }
    }
    return Open();
  }

  void Release(magic_t m) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (idle_.size() < kMaxIdleMagic) {
        idle_.push_back(m);
        return;
      }
    }
    magic_close(m);
  }

 private:
  static Result<magic_t> Open() {
    magic_t m = magic_open(kMagicFlags);
    if (m == nullptr) return Status::Internal("magic_open failed");
    if (magic_load(m, nullptr) != 0) {
      Status st = Status::Internal(std::string("magic_load: ") +
                                   (magic_error(m) != nullptr ? magic_error(m) : "failed"));
      magic_close(m);
      return st;
    }
    const size_t bytes_max = kMagicBytesMax;
    magic_setparam(m, MAGIC_PARAM_BYTES_MAX, &bytes_max);
    return m;
  }

  std::mutex mu_;
  std::vector<magic_t> idle_;
};

Engine::Engine() : magic_(std::make_unique<MagicPool>()) {}

Engine::~Engine() {
  if (clam_ != nullptr) cl_engine_free(clam_);
}

Result<std::shared_ptr<Engine>> Engine::Load(const EngineConfig& config) {
  if (Status st = InitLibraries(); !st.ok()) return st;
  std::shared_ptr<Engine> engine(new Engine());
  engine->config_ = config;

  // libmagic: prove the database opens now rather than on the first request.
  {
    Result<magic_t> m = engine->magic_->Acquire();
    if (!m.ok()) return m.status();
    engine->magic_->Release(*m);
  }

  // ClamAV: only our own databases, never the system one.
  std::error_code ec;
  if (!std::filesystem::is_directory(config.signatures_dir, ec)) {
    return Status::Internal("signatures directory " + config.signatures_dir + " does not exist");
  }
  engine->clam_ = cl_engine_new();
  if (engine->clam_ == nullptr) return Status::Internal("cl_engine_new failed");
  if (!config.temp_dir.empty()) {
    const cl_error_t rc =
        cl_engine_set_str(engine->clam_, CL_ENGINE_TMPDIR, config.temp_dir.c_str());
    if (rc != CL_SUCCESS) {
      return Status::Internal(std::string("ClamAV temp dir: ") + cl_strerror(rc));
    }
  }
  // What one scan may read, the file and everything unpacked from it (issue #14, finding 2: a
  // 400 KB gzip of 400 MiB of zeros made ClamAV write 400 MB of scratch files). With a child
  // scanner, this engine only scans uploads up to the threshold, so the file plus what it expands
  // to stays under max(threshold, extract limit); the child gets upload + extract limit.
  const uint64_t scan_limit =
      config.av_subprocess.empty()
          ? config.av_scan_limit
          : std::max(config.av_subprocess_threshold, config.av_extract_limit);
  const uint64_t part_limit = std::min<uint64_t>(scan_limit, 16ull << 20);
  const std::pair<cl_engine_field, long long> limits[] = {
      {CL_ENGINE_MAX_FILESIZE, static_cast<long long>(scan_limit)},
      {CL_ENGINE_MAX_SCANSIZE, static_cast<long long>(scan_limit)},
      {CL_ENGINE_MAX_FILES, config.av_max_files},
      {CL_ENGINE_MAX_RECURSION, config.av_max_recursion},
      {CL_ENGINE_MAX_SCANTIME, config.av_max_scan_ms},
      {CL_ENGINE_MAX_EMBEDDEDPE, static_cast<long long>(part_limit)},
      {CL_ENGINE_MAX_HTMLNORMALIZE, static_cast<long long>(part_limit)},
      {CL_ENGINE_MAX_SCRIPTNORMALIZE, static_cast<long long>(part_limit)},
  };
  for (const auto& [field, value] : limits) {
    if (cl_engine_set_num(engine->clam_, field, value) != CL_SUCCESS)
      return Status::Internal("ClamAV scan limits could not be set");
  }
  unsigned sigs = 0;
  cl_error_t rc = cl_load(config.signatures_dir.c_str(), engine->clam_, &sigs,
                          CL_DB_STDOPT | CL_DB_YARA_EXCLUDE);
  if (rc != CL_SUCCESS) {
    return Status::Internal("loading ClamAV signatures from " + config.signatures_dir + ": " +
                            cl_strerror(rc));
  }
  if (sigs == 0) {
    return Status::Internal("no ClamAV signatures found in " + config.signatures_dir);
  }
  // Archive members for YARA (members.h). ClamAV's clean-file cache would skip a file (and so its
  // members) already scanned clean, e.g. by Quick just before Static: off.
  InstallMemberInspection(engine->clam_);
  if (cl_engine_set_num(engine->clam_, CL_ENGINE_DISABLE_CACHE, 1) != CL_SUCCESS) {
    return Status::Internal("ClamAV cache could not be disabled");
  }
  rc = cl_engine_compile(engine->clam_);
  if (rc != CL_SUCCESS) {
    return Status::Internal(std::string("compiling ClamAV signatures: ") + cl_strerror(rc));
  }
  engine->signature_count_ = sigs;

  // YARA (yara_rules.h): every *.yar / *.yara file, grouped by the modules it imports.
  if (config.load_rules) {
    RulesOptions ro;
    ro.rules_dir = config.rules_dir;
    ro.strict = config.rules_strict;
    ro.default_risk = config.rules_default_risk;
    ro.cache_dir = config.rules_cache_dir;
    ro.gate_by_import =
        config.gate_by_import.value_or(config.rules_dir == EngineConfig{}.rules_dir);
    Result<std::unique_ptr<CompiledRules>> rules = CompiledRules::Load(ro);
    if (!rules.ok()) return rules.status();
    engine->rules_ = std::move(rules).value();
    engine->rule_count_ = engine->rules_->rule_count();
  }
  return engine;
}

Result<QuickResult> Engine::Quick(const std::string& path, const Hashes& hashes, double entropy,
                                  bool ssdeep, std::optional<std::string_view> content,
                                  EarlyAvScan* early_av) const {
  QuickResult q;
  q.hashes = hashes;
  q.entropy = entropy;

  std::string head;
  std::string error;
  if (content)
    head.assign(content->substr(0, kHeadBytes));
  else if (!ReadHead(path, &head, &error))
    return Status::Internal(error);

  // File type and MIME. libmagic's soft (pattern) tests are costly on text (it compiles their
  // regexes on every call, ~1 ms): for text/* the MIME type already says what the text is, so the
  // description pass skips them ("ASCII text, with CRLF line terminators" is all it adds).
  {
    metrics::ScopedTimer timed(metrics::StageTimer(metrics::Stage::kFileType));
    Result<magic_t> m = magic_->Acquire();
    if (!m.ok()) return m.status();
    magic_setflags(*m, kMagicFlags | MAGIC_MIME_TYPE);
    const char* mime = magic_file(*m, path.c_str());
    if (mime != nullptr) q.mime = mime;
    const char* desc = nullptr;
    if (mime != nullptr) {
      const bool text = q.mime.starts_with("text/");
      magic_setflags(*m, kMagicFlags | (text ? MAGIC_NO_CHECK_SOFT : 0));
      desc = magic_file(*m, path.c_str());
      if (desc != nullptr) q.description = desc;
    }
    if (mime == nullptr || desc == nullptr) {
      const char* err = magic_error(*m);
      Status st =
          Status::Internal("libmagic on " + path + ": " + (err != nullptr ? err : "failed"));
      magic_->Release(*m);
      return st;
    }
    magic_->Release(*m);
  }
  FileTypeInfo ft = DetectFileType(q.mime, q.description, head);
  q.file_type = std::move(ft.type);
  q.category = std::move(ft.category);
  q.identified = ft.identified;

  // ssdeep (unless the caller computed it while the bytes arrived).
  if (ssdeep) {
    char buf[FUZZY_MAX_RESULT];
    if ((content ? fuzzy_hash_buf(reinterpret_cast<const unsigned char*>(content->data()),
                                  static_cast<uint32_t>(content->size()), buf)
                 : fuzzy_hash_filename(path.c_str(), buf)) != 0) {
      return Status::Internal("ssdeep of " + path + " failed");
    }
    q.ssdeep = buf;
  }

  std::string virus;
  // At most av_concurrent_scans at once: each may fill temp_dir up to its scan limit.
  // Waiters sleep at once (common/semaphore.h): no sched_yield spinning among the blocking pool.
  static Semaphore slots(std::max(1, config_.av_concurrent_scans));
  Status av;
  {
    // An early scan's child is already running: it holds a slot of av_early_scans instead.
    std::optional<SemaphoreUnit> slot;
    if (early_av == nullptr) slot.emplace(slots);
    metrics::ScopedTimer timed_av(metrics::StageTimer(metrics::Stage::kClamav));
    const uint64_t size = content ? content->size() : hashes.size;
    if (early_av != nullptr)
      av = early_av->Finish(&virus, &q.av_error);
    else if (!config_.av_subprocess.empty() && size > config_.av_subprocess_threshold)
      av = ScanAvInChild(path, size, &virus, &q.av_error);
    else if (content)
      av = ScanAvBytes(*content, path, &virus, &q.av_error);
    else
      av = ScanAv(path, &virus, &q.av_error);
  }
  if (!av.ok()) return av;
  if (!virus.empty()) {
    q.virus_name = StripUnofficial(virus.c_str());
    q.virus_type = VirusTypeFromName(q.virus_name);
  }
  return q;
}

namespace {

// ClamAV: first match wins; every parser on (archives, OLE2, PDF, mail, HTML, PE, ELF, ...).
struct cl_scan_options AvScanOptions() {
  struct cl_scan_options options = {};
  options.general = CL_SCAN_GENERAL_HEURISTICS;
  options.parse = ~0u;
  // No optional heuristic alerts (macros, encrypted archives, ...) except one: a file that goes
  // over a scan limit is reported ("Heuristics.Limits.Exceeded.*") rather than passed as clean
  // after a partial look.
  options.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX;
  return options;
}

}  // namespace

Status Engine::ScanAvMap(cl_fmap_t* map, const std::string& name, std::string* virus,
                         std::string* av_error) const {
  struct cl_scan_options options = AvScanOptions();
  const char* virname = nullptr;
  unsigned long scanned = 0;
  const cl_error_t rc =
      cl_scanmap_callback(map, name.c_str(), &virname, &scanned, clam_, &options, nullptr);
  if (rc == CL_VIRUS) {
    *virus = virname != nullptr ? virname : "Unknown";
  } else if (rc != CL_CLEAN) {
    if (IsEnvironmentError(rc)) {
      return Status::Internal("ClamAV scan of " + name + ": " + cl_strerror(rc));
    }
    *av_error = cl_strerror(rc);
  }
  return Status::Ok();
}

namespace {

// A file that is still being written: what a following read waits for (ScanAv's follow_bytes).
struct FollowedFile {
  int fd;
  uint64_t total;  // the size the file will reach
  std::chrono::milliseconds stall;
  pid_t parent;  // the process that started this one
  // Set by a read that gave up: ClamAV takes a failed read for the end of the data and may still
  // say "clean", so the scan's answer is an error instead.
  bool gave_up = false;
};

// cl_fmap's read callback for a FollowedFile: waits until the file holds the bytes asked for
// (polling its size, 0.2 ms to 5 ms apart), then reads them. -1 when the file stops growing for
// `stall`, when the parent is gone, or when fstat fails.
off_t FollowingRead(void* handle, void* buf, size_t count, off_t offset) {
  auto* f = static_cast<FollowedFile*>(handle);
  const uint64_t need = std::min<uint64_t>(static_cast<uint64_t>(offset) + count, f->total);
  auto last_growth = std::chrono::steady_clock::now();
  off_t last_size = -1;
  useconds_t pause = 200;
  for (;;) {
    struct stat st;
    if (::fstat(f->fd, &st) != 0) {
      f->gave_up = true;
      return -1;
    }
    if (static_cast<uint64_t>(st.st_size) >= need) break;
    const auto now = std::chrono::steady_clock::now();
    if (st.st_size != last_size) {
      last_size = st.st_size;
      last_growth = now;
      pause = 200;
    } else if (now - last_growth > f->stall || ::getppid() != f->parent) {
      f->gave_up = true;
      return -1;
    }
    ::usleep(pause);
    pause = std::min<useconds_t>(pause * 2, 5000);
  }
  return ::pread(f->fd, buf, count, offset);
}

}  // namespace

Status Engine::ScanAv(const std::string& path, std::string* virus, std::string* av_error,
                      uint64_t follow_bytes, int follow_stall_ms) const {
  // Scan through a pread-backed map with page aging rather than cl_scanfile's whole-file map.
  struct stat fst;
  std::string error;
  const int fd = OpenRegularFile(path, &fst, &error);
  if (fd < 0) return Status::Internal(error);
  Status st;
  FollowedFile followed{fd, follow_bytes, std::chrono::milliseconds(follow_stall_ms), ::getppid()};
  const uint64_t size = follow_bytes > 0 ? follow_bytes : static_cast<uint64_t>(fst.st_size);
  if (size > 0) {
    auto pread_cb = [](void* handle, void* buf, size_t count, off_t offset) -> off_t {
      return ::pread(static_cast<int>(reinterpret_cast<intptr_t>(handle)), buf, count, offset);
    };
    cl_fmap_t* map =
        follow_bytes > 0
            ? cl_fmap_open_handle(&followed, 0, static_cast<size_t>(size), FollowingRead, 1)
            : cl_fmap_open_handle(reinterpret_cast<void*>(static_cast<intptr_t>(fd)), 0,
                                  static_cast<size_t>(size), pread_cb, 1);
    if (map == nullptr) {
      ::close(fd);
      return Status::Internal("ClamAV cannot map " + path);
    }
    st = ScanAvMap(map, path, virus, av_error);
    cl_fmap_close(map);
    if (followed.gave_up) {
      virus->clear();
      st = Status::Internal("the file being scanned stopped before its announced size");
    }
  }
  ::close(fd);
  return st;
}

Status Engine::ScanAvBytes(std::string_view bytes, const std::string& name, std::string* virus,
                           std::string* av_error) const {
  if (bytes.empty()) return Status::Ok();  // nothing to scan, as ScanAv for an empty file
  cl_fmap_t* map = cl_fmap_open_memory(bytes.data(), bytes.size());
  if (map == nullptr) return Status::Internal("ClamAV cannot map " + name);
  Status st = ScanAvMap(map, name, virus, av_error);
  cl_fmap_close(map);
  return st;
}

namespace {

// Early scans running in this process (Engine::StartAvScan), against av_early_scans.
std::atomic<int> early_scans_running{0};

// Reads an av-scan child's one-line answer from `fd` (then closed) and reaps `pid`: "CLEAN",
// "VIRUS <name>", "AVERROR <text>" or "ERROR <text>".
Status ReadAvAnswer(pid_t pid, int fd, std::string* virus, std::string* av_error) {
  std::string out;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > 4096) break;
  }
  ::close(fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (out == "CLEAN") return Status::Ok();
  if (out.starts_with("VIRUS ")) {
    *virus = out.substr(6);
    return Status::Ok();
  }
  if (out.starts_with("AVERROR ")) {
    *av_error = out.substr(8);
    return Status::Ok();
  }
  return Status::Internal("the AV scanner failed" + (out.empty() ? std::string() : ": " + out));
}

}  // namespace

Status Engine::SpawnAvChild(const std::string& path, uint64_t size, bool follow, int* pid_out,
                            int* out_fd) const {
  // `<av_subprocess> av-scan --signatures-dir DIR FILE` prints one line (ReadAvAnswer). Its
  // memory is its own: a large file's scan cannot grow the server, and a parser crash takes down
  // only the child.
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return Status::Internal("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
  std::vector<std::string> args = {config_.av_subprocess, "av-scan", "--signatures-dir",
                                   config_.signatures_dir, "--rules-dir", config_.rules_dir,
                                   "--max-scan-bytes",
                                   // Twice the upload: ClamAV reads a large executable's
                                   // sections again as embedded objects (a 148 MB ELF needs
                                   // more than size + 64 MiB and was flagged over the limit).
                                   std::to_string(2 * size + config_.av_extract_limit), path};
  if (!config_.temp_dir.empty()) {
    args.push_back("--temp-dir");
    args.push_back(config_.temp_dir);
  }
  if (follow) {
    args.push_back("--follow-bytes");
    args.push_back(std::to_string(size));
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc =
      posix_spawn(&pid, config_.av_subprocess.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    return Status::Internal(std::string("cannot start the AV scanner: ") + std::strerror(rc));
  }
  *pid_out = pid;
  *out_fd = pipefd[0];
  return Status::Ok();
}

Status Engine::ScanAvInChild(const std::string& path, uint64_t size, std::string* virus,
                             std::string* av_error) const {
  int pid = 0, fd = -1;
  if (Status st = SpawnAvChild(path, size, false, &pid, &fd); !st.ok()) return st;
  return ReadAvAnswer(pid, fd, virus, av_error);
}

Result<std::unique_ptr<EarlyAvScan>> Engine::StartAvScan(const std::string& path,
                                                         uint64_t size) const {
  if (config_.av_subprocess.empty() || size <= config_.av_subprocess_threshold ||
      config_.av_early_scans <= 0)
    return std::unique_ptr<EarlyAvScan>();
  if (early_scans_running.fetch_add(1) >= config_.av_early_scans) {
    early_scans_running.fetch_sub(1);
    return std::unique_ptr<EarlyAvScan>();
  }
  int pid = 0, fd = -1;
  if (Status st = SpawnAvChild(path, size, true, &pid, &fd); !st.ok()) {
    early_scans_running.fetch_sub(1);
    return st;
  }
  return std::unique_ptr<EarlyAvScan>(new EarlyAvScan(pid, fd));
}

Status EarlyAvScan::Finish(std::string* virus, std::string* av_error) {
  if (pid_ < 0) return Status::Internal("the early AV scan was already finished");
  Status st = ReadAvAnswer(pid_, out_fd_, virus, av_error);
  pid_ = -1;
  out_fd_ = -1;
  early_scans_running.fetch_sub(1);
  return st;
}

EarlyAvScan::~EarlyAvScan() {
  if (pid_ < 0) return;
  ::close(out_fd_);
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  early_scans_running.fetch_sub(1);
}

bool Engine::ScanBuffer(const uint8_t* data, size_t size, std::string_view name,
                        int timeout_seconds, std::vector<Finding>* findings, Status* error) const {
  if (rules_ == nullptr) return true;
  const bool is_pe = size >= 2 && data[0] == 'M' && data[1] == 'Z';
  const bool is_elf = size >= 4 && std::memcmp(data,
                                               "\x7f"
                                               "ELF",
                                               4) == 0;
  const ScanExternals externals = ExternalsFor(name, data, size);
  for (const RulesData::Group& g : rules_->data().groups) {
    if ((g.needs_pe || g.needs_elf) && !((g.needs_pe && is_pe) || (g.needs_elf && is_elf))) {
      continue;
    }
    YR_SCANNER* scanner = nullptr;
    if (yr_scanner_create(g.rules, &scanner) != ERROR_SUCCESS) {
      *error = Status::Internal("yr_scanner_create failed");
      return true;
    }
    ScanSink sink{findings, config_.rules_default_risk};
    yr_scanner_set_callback(scanner, YaraScanCallback, &sink);
    yr_scanner_set_flags(scanner, SCAN_FLAGS_REPORT_RULES_MATCHING);
    yr_scanner_set_timeout(scanner, std::max(timeout_seconds, 1));
    int rc = DefineExternals(scanner, externals) ? ERROR_SUCCESS : ERROR_INTERNAL_FATAL_ERROR;
    if (rc == ERROR_SUCCESS) rc = yr_scanner_scan_mem(scanner, data, size);
    yr_scanner_destroy(scanner);
    if (rc == ERROR_SCAN_TIMEOUT) return false;
    if (rc != ERROR_SUCCESS) {
      *error = Status::Internal("YARA scan failed with YARA error " + std::to_string(rc));
      return true;
    }
  }
  return true;
}

Result<StaticResult> Engine::Static(const std::string& path, std::string_view filename,
                                    std::optional<std::string_view> content) const {
  metrics::ScopedTimer timed(metrics::StageTimer(metrics::Stage::kYara));
  MappedFile mapped;
  if (std::string error; !content && !mapped.Map(path, &error, config_.static_scan_limit))
    return Status::Internal(error);
  // What the rules see: at most static_scan_limit bytes from the start, as Map gives.
  const uint8_t* data = mapped.data();
  size_t size = mapped.size();
  if (content) {
    data = reinterpret_cast<const uint8_t*>(content->data());
    size = static_cast<size_t>(std::min<uint64_t>(content->size(), config_.static_scan_limit));
  }
  // Archives are inspected only when the whole file fits the limit.
  auto fits_limit = [&] {
    if (content) return content->size() <= config_.static_scan_limit;
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 &&
           static_cast<uint64_t>(st.st_size) <= config_.static_scan_limit;
  };
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(config_.yara_timeout_seconds);
  auto seconds_left = [&] {
    return static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(
                                deadline - std::chrono::steady_clock::now())
                                .count());
  };

  StaticResult result;
  Status error;
  bool in_time =
      ScanBuffer(data, size, filename, config_.yara_timeout_seconds, &result.findings, &error);
  if (!error.ok()) return Status::Internal("YARA scan of " + path + ": " + error.message());
  // Archive members as libclamav extracts them, each under its path inside the upload. The
  // archive must fit the static limit (bigger ones may be AV-scanned in a child process only).
  if (in_time && rules_ != nullptr && LooksLikeArchive(data, size) && fits_limit()) {
    const std::string top = filename.empty() ? std::string() : std::string(filename) + "/";
    Status walk = VisitMembers(
        clam_, path,
        [&](const std::string& member, const uint8_t* data, size_t size) {
          if (!in_time || !error.ok()) return;
          const int left = seconds_left();
          if (left <= 0) {
            in_time = false;
            return;
          }
          std::vector<Finding> found;
          in_time = ScanBuffer(data, std::min<uint64_t>(size, config_.static_scan_limit),
                               top + member, left, &found, &error);
          for (Finding& f : found) {
            f.member = member;
            f.signature += " (in " + member + ")";
            result.findings.push_back(std::move(f));
          }
        },
        &result.members_scanned);
    if (!walk.ok()) return walk;
    if (!error.ok()) return Status::Internal("YARA scan of " + path + ": " + error.message());
  }
  std::sort(result.findings.begin(), result.findings.end(), [](const Finding& a, const Finding& b) {
    if (a.risk != b.risk) return a.risk > b.risk;
    if (a.rule != b.rule) return a.rule < b.rule;
    return a.member < b.member;
  });
  int score = 0;
  for (const Finding& f : result.findings) score += Weight(f.risk);
  result.score = std::min(score, kStaticScoreCap);
  if (!in_time) {
    result.timed_out = true;
    Finding f;
    f.risk = Risk::kLow;
    f.rule = "Sandgate.YaraTimeout";
    f.signature = "Rule scan stopped after " + std::to_string(config_.yara_timeout_seconds) +
                  " s: the findings are partial";
    f.signature_sources.push_back("YARA:timeout");
    result.findings.push_back(std::move(f));  // last; not part of the score
  }
  return result;
}

Result<Analysis> Engine::AnalyzeFile(const std::string& path) const {
  Result<FileDigest> digest = DigestFile(path);
  if (!digest.ok()) return digest.status();
  Result<QuickResult> quick = Quick(path, digest->hashes, digest->entropy);
  if (!quick.ok()) return quick.status();
  Result<StaticResult> statics = Static(path);
  if (!statics.ok()) return statics.status();
  Analysis a{std::move(quick).value(), std::move(statics).value(), {}};
  a.verdict = Classify(a.quick, &a.statics);
  return a;
}

Result<std::unique_ptr<EngineHolder>> EngineHolder::Open(const EngineConfig& config) {
  Result<std::shared_ptr<Engine>> engine = Engine::Load(config);
  if (!engine.ok()) return engine.status();
  return std::make_unique<EngineHolder>(config, std::move(engine).value());
}

EngineHolder::EngineHolder(EngineConfig config, std::shared_ptr<const Engine> engine)
    : current_(std::move(engine)), config_(std::move(config)) {}

std::shared_ptr<const Engine> EngineHolder::Get() const {
  return current_.load(std::memory_order_acquire);
}

Status EngineHolder::Reload() {
  std::lock_guard<std::mutex> lock(reload_mu_);
  Result<std::shared_ptr<Engine>> engine = Engine::Load(config_);
  if (!engine.ok()) return engine.status();
  // The previous engine lives on in any in-flight scan's shared_ptr; `old` drops this reference.
  std::shared_ptr<const Engine> old =
      current_.exchange(std::move(engine).value(), std::memory_order_acq_rel);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return Status::Ok();
}

Status EngineHolder::Reload(const EngineConfig& config) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  Result<std::shared_ptr<Engine>> engine = Engine::Load(config);
  if (!engine.ok()) return engine.status();
  config_ = config;
  // The previous engine lives on in any in-flight scan's shared_ptr; `old` drops this reference.
  std::shared_ptr<const Engine> old =
      current_.exchange(std::move(engine).value(), std::memory_order_acq_rel);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return Status::Ok();
}

}  // namespace sandgate::analysis
