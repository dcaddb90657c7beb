#include "common/fault.h"

#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>

namespace sandgate::fault {
namespace {

struct Registry {
  std::atomic<bool> enabled{false};
  std::atomic<bool> watching{false};
  std::atomic<int> kinds[kSiteCount] = {};
  std::atomic<int> after[kSiteCount] = {};  // calls that still succeed before the fault hits
  std::mutex mu;                            // guards the fields below
  std::string path;                         // the watched file
  bool seen = false;                        // whether the file's identity below is known
  ino_t ino = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
};

Registry& R() {
  static Registry* r = new Registry();  // never destroyed: used by threads until exit
  return *r;
}

void Store(const Kind (&k)[kSiteCount]) {
  for (int i = 0; i < kSiteCount; ++i) {
    R().after[i].store(0);
    R().kinds[i].store(static_cast<int>(k[i]));
  }
}

// Re-reads the watched file if it changed since the last look.
void Refresh() {
  Registry& r = R();
  std::lock_guard<std::mutex> lock(r.mu);
  struct stat st {};
  if (::stat(r.path.c_str(), &st) != 0) {
    if (r.seen) {  // the file went away: no faults
      Kind none[kSiteCount] = {};
      Store(none);
      r.seen = false;
    }
    return;
  }
  const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
                           static_cast<int64_t>(st.st_mtim.tv_nsec);
  if (r.seen && st.st_ino == r.ino && st.st_size == r.size && mtime_ns == r.mtime_ns) return;
  std::ifstream in(r.path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Kind k[kSiteCount] = {};
  Parse(text, k);
  Store(k);
  r.seen = true;
  r.ino = st.st_ino;
  r.size = st.st_size;
  r.mtime_ns = mtime_ns;
}

}  // namespace

Kind At(Site site) {
  Registry& r = R();
  if (!r.enabled.load(std::memory_order_relaxed)) return Kind::kNone;
  if (r.watching.load(std::memory_order_acquire)) Refresh();
  const int i = static_cast<int>(site);
  const auto kind = static_cast<Kind>(r.kinds[i].load());
  if (kind == Kind::kNone) return kind;
  for (int left = r.after[i].load(); left > 0;)
    if (r.after[i].compare_exchange_weak(left, left - 1)) return Kind::kNone;
  return kind;
}

bool Enabled() { return R().enabled.load(); }

void Set(Site site, Kind kind, int after) {
  R().after[static_cast<int>(site)].store(after > 0 ? after : 0);
  R().kinds[static_cast<int>(site)].store(static_cast<int>(kind));
  R().enabled.store(true);
}

void ClearAll() {
  Registry& r = R();
  r.watching.store(false);
  Kind none[kSiteCount] = {};
  Store(none);
}

void WatchFile(const std::string& path) {
  Registry& r = R();
  {
    std::lock_guard<std::mutex> lock(r.mu);
    r.path = path;
    r.seen = false;
  }
  r.watching.store(true, std::memory_order_release);
  r.enabled.store(true);
  Refresh();
}

void Parse(std::string_view text, Kind (&out)[kSiteCount]) {
  std::string t(text);
  for (char& c : t)
    if (c == ',' || c == ';') c = ' ';
  std::istringstream words(t);
  std::string w;
  while (words >> w) {
    auto eq = w.find('=');
    if (eq == std::string::npos) continue;
    std::string site = w.substr(0, eq), kind = w.substr(eq + 1);
    int i = site == "store_write"   ? static_cast<int>(Site::kStoreWrite)
            : site == "store_sync"  ? static_cast<int>(Site::kStoreSync)
            : site == "spool_write" ? static_cast<int>(Site::kSpoolWrite)
                                    : -1;
    if (i < 0) continue;
    if (kind == "eio")
      out[i] = Kind::kIoError;
    else if (kind == "enospc")
      out[i] = Kind::kNoSpace;
    else if (kind == "none")
      out[i] = Kind::kNone;
  }
}

int Errno(Kind kind) {
  switch (kind) {
    case Kind::kIoError:
      return EIO;
    case Kind::kNoSpace:
      return ENOSPC;
    case Kind::kNone:
      break;
  }
  return 0;
}

}  // namespace sandgate::fault
