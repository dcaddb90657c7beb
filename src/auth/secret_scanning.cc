#include "auth/secret_scanning.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "notify/http_client.h"
#include "notify/url_guard.h"

namespace sandgate::auth {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace json = boost::json;
using asio::ip::tcp;

namespace {

constexpr size_t kMaxDocument = 1024 * 1024;
constexpr size_t kMaxKeys = 100;

Status BadKeys(const std::string& why) {
  return Status::Invalid("INVALID_SCANNER_KEYS", "The secret scanning key document " + why + ".");
}

Status Unsigned(const std::string& why) { return Status(401, "INVALID_SIGNATURE", why); }

// An EC P-256 public key from PEM, or null.
std::shared_ptr<void> ReadKey(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (!bio) return nullptr;
  EVP_PKEY* k = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!k) return nullptr;
  std::shared_ptr<void> key(k, [](void* p) { EVP_PKEY_free(static_cast<EVP_PKEY*>(p)); });
  char group[64] = {0};
  size_t len = 0;
  if (!EVP_PKEY_is_a(k, "EC") ||
      EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof group, &len) != 1 ||
      std::string_view(group, len) != "prime256v1")
    return nullptr;
  return key;
}

asio::awaitable<notify::HttpAnswer> Fetch(notify::ParsedUrl u, TimeMs timeout_ms) {
  tcp::resolver resolver(co_await asio::this_coro::executor);
  auto resolved =
      co_await resolver.async_resolve(u.host, std::to_string(u.port), asio::use_awaitable);
  std::vector<tcp::endpoint> eps(resolved.begin(), resolved.end());
  bhttp::request<bhttp::string_body> req{bhttp::verb::get, u.target, 11};
  req.set(bhttp::field::user_agent, "Sandgate-SecretScanning/1");
  req.set(bhttp::field::accept, "application/json");
  notify::HttpAnswer a =
      co_await notify::Exchange(u, eps, std::move(req), kMaxDocument, timeout_ms);
  if (a.read_error) throw boost::system::system_error(a.read_error);  // only a whole document
  co_return a;
}

}  // namespace

Result<std::vector<ScannerKey>> ParseScannerKeys(std::string_view document) {
  if (document.size() > kMaxDocument) return BadKeys("is larger than 1 MiB");
  boost::system::error_code ec;
  json::value doc = json::parse(json::string_view(document.data(), document.size()), ec);
  if (ec || !doc.is_object()) return BadKeys("is not a JSON object");
  const json::value* list = doc.as_object().if_contains("public_keys");
  if (!list || !list->is_array()) return BadKeys("has no \"public_keys\" array");
  if (list->as_array().size() > kMaxKeys) return BadKeys("has more than 100 keys");
  std::vector<ScannerKey> out;
  for (const json::value& e : list->as_array()) {
    const json::object* o = e.if_object();
    const json::value* id = o ? o->if_contains("key_identifier") : nullptr;
    const json::value* pem = o ? o->if_contains("key") : nullptr;
    if (!id || !id->is_string() || id->as_string().empty() || id->as_string().size() > 256 ||
        !pem || !pem->is_string())
      return BadKeys("has a key without a \"key_identifier\" or \"key\" string");
    ScannerKey k;
    k.id = std::string(id->as_string());
    const json::value* cur = o->if_contains("is_current");
    k.current = cur && cur->is_bool() && cur->as_bool();
    k.pkey = ReadKey(std::string_view(pem->as_string().data(), pem->as_string().size()));
    if (!k.pkey) return BadKeys("has a key that is not an EC P-256 public key in PEM");
    out.push_back(std::move(k));
  }
  return out;
}

bool VerifySignature(const ScannerKey& key, std::string_view body, std::string_view signature_b64) {
  if (!key.pkey || signature_b64.empty() || signature_b64.size() > 512) return false;
  unsigned char sig[384];
  size_t sig_len = 0;
  if (sodium_base642bin(sig, sizeof sig, signature_b64.data(), signature_b64.size(), nullptr,
                        &sig_len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) return false;
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr,
                                 static_cast<EVP_PKEY*>(key.pkey.get())) == 1 &&
            EVP_DigestVerify(ctx, sig, sig_len, reinterpret_cast<const unsigned char*>(body.data()),
                             body.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

Result<std::string> FetchKeyDocument(const std::string& url, TimeMs timeout_ms) {
  auto u = notify::ParseUrl(url);
  if (!u.ok())
    return Status(502, "SCANNER_KEYS_UNAVAILABLE",
                  "secret_scanning_keys_url is not an absolute http(s) URL");
  asio::io_context ioc(1);
  notify::ExchangeOutcome out = notify::RunExchange(ioc, Fetch(*u, timeout_ms), timeout_ms);
  if (!out.error.empty())
    return Status(502, "SCANNER_KEYS_UNAVAILABLE",
                  "Fetching the secret scanning keys from " + u->host + " failed: " + out.error);
  return std::move(out.answer.body);
}

ScannerKeys::ScannerKeys(ScannerKeysOptions options, const Clock& clock)
    : opt_(std::move(options)), clock_(clock) {}

Status ScannerKeys::Load() {
  MutexLock lock(mu_);
  if (!opt_.file.empty()) {
    std::ifstream in(opt_.file, std::ios::binary);
    if (!in)
      return Status::Invalid("INVALID_SCANNER_KEYS",
                             "Cannot read secret_scanning_keys_file " + opt_.file + ".");
    std::ostringstream text;
    text << in.rdbuf();
    auto keys = ParseScannerKeys(text.str());
    if (!keys.ok())
      return Status::Invalid(keys.status().code(),
                             opt_.file + ": " + std::string(keys.status().message()));
    file_keys_ = std::move(keys).value();
  }
  if (!opt_.url.empty()) {
    if (Status st = FetchLocked(); !st.ok())
      spdlog::warn("secret scanning keys: {} (tried again when a report names an unknown key)",
                   st.message());
  }
  return Status::Ok();
}

Status ScannerKeys::FetchLocked() {
  ++fetches_;
  auto doc = FetchKeyDocument(opt_.url, opt_.fetch_timeout_ms);
  if (!doc.ok()) return doc.status();
  auto keys = ParseScannerKeys(doc.value());
  if (!keys.ok()) return keys.status();
  url_keys_ = std::move(keys).value();
  spdlog::info("secret scanning keys: {} key(s) from the URL", url_keys_.size());
  return Status::Ok();
}

const ScannerKey* ScannerKeys::FindLocked(std::string_view key_id) const {
  for (const auto* list : {&file_keys_, &url_keys_})
    for (const ScannerKey& k : *list)
      if (k.id == key_id) return &k;
  return nullptr;
}

Status ScannerKeys::Verify(std::string_view key_id, std::string_view signature_b64,
                           std::string_view body) {
  if (key_id.empty() || signature_b64.empty())
    return Unsigned(
        "The report is not signed: Github-Public-Key-Identifier and "
        "Github-Public-Key-Signature are required.");
  MutexLock lock(mu_);
  const ScannerKey* key = FindLocked(key_id);
  if (!key && !opt_.url.empty()) {
    // A key GitHub started using since the last fetch: fetch again. Unknown key ids fetch at
    // most once per interval (fetched_once_/last_fetch_ are about these refetches, not the one
    // at start), so a stream of made-up key ids cannot make the server hammer the URL.
    const TimeMs now = clock_.now();
    if (!fetched_once_ || now - last_fetch_ >= opt_.refetch_interval_ms || now < last_fetch_) {
      fetched_once_ = true;
      last_fetch_ = now;
      if (Status st = FetchLocked(); !st.ok())
        spdlog::warn("secret scanning keys: {}", st.message());
      key = FindLocked(key_id);
    }
  }
  if (!key) return Unsigned("The report is signed with an unknown key.");
  if (!VerifySignature(*key, body, signature_b64))
    return Unsigned("The report's signature does not verify.");
  return Status::Ok();
}

int ScannerKeys::fetches() const {
  MutexLock lock(mu_);
  return fetches_;
}

}  // namespace sandgate::auth
