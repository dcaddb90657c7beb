#include "http/connection_limits.h"

namespace sandgate::http {

std::string AddressKey(const boost::asio::ip::address& a) {
  if (a.is_v4()) return a.to_v4().to_string();
  auto v6 = a.to_v6();
  if (v6.is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
  auto bytes = v6.to_bytes();
  for (size_t i = 8; i < bytes.size(); ++i) bytes[i] = 0;
  return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

ConnectionLimits::Ticket ConnectionLimits::Admit(const std::string& key, Refusal* why) {
  std::lock_guard<std::mutex> lock(mu_);
  Refusal r = Refusal::kNone;
  if (open_ >= total_) {
    r = Refusal::kTotal;
  } else {
    auto it = by_key_.find(key);
    if (it != by_key_.end() && it->second >= per_address_) r = Refusal::kPerAddress;
  }
  if (why) *why = r;
  if (r != Refusal::kNone) return Ticket();
  ++open_;
  ++by_key_[key];
  return Ticket(this, key);
}

void ConnectionLimits::Release(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  --open_;
  auto it = by_key_.find(key);
  if (it != by_key_.end() && --it->second == 0) by_key_.erase(it);
}

size_t ConnectionLimits::open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

size_t ConnectionLimits::open(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_key_.find(key);
  return it == by_key_.end() ? 0 : it->second;
}

}  // namespace sandgate::http
