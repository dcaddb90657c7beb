// ConnectionLimits: caps on open connections, overall and per client address, checked when a
// connection is accepted (before a byte is read). A refused connection is closed at once, so a
// client that opens many slow connections (slowloris) holds at most `per_address` of them.
// Addresses are grouped by AddressKey: an IPv4 address (IPv4-mapped IPv6 too) on its own, an IPv6
// address by its /64 (one host usually owns a whole /64). Thread-safe.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sandgate::http {

// "192.0.2.7" for IPv4 and IPv4-mapped IPv6; "2001:db8:1:2::/64" for other IPv6 addresses.
std::string AddressKey(const boost::asio::ip::address& a);

class ConnectionLimits {
 public:
  ConnectionLimits(size_t total, size_t per_address) : total_(total), per_address_(per_address) {}

  // Holds one admitted connection; releases it when destroyed.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& o) noexcept : owner_(o.owner_), key_(std::move(o.key_)) { o.owner_ = nullptr; }
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket() {
      if (owner_) owner_->Release(key_);
    }
    explicit operator bool() const { return owner_ != nullptr; }

   private:
    friend class ConnectionLimits;
    Ticket(ConnectionLimits* owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    ConnectionLimits* owner_ = nullptr;
    std::string key_;
  };

  enum class Refusal { kNone, kTotal, kPerAddress };
  // An admitted connection's ticket, or an empty ticket and why (in *why).
  Ticket Admit(const std::string& key, Refusal* why = nullptr);

  size_t open() const;
  size_t open(const std::string& key) const;

 private:
  void Release(const std::string& key);

  const size_t total_, per_address_;
  mutable std::mutex mu_;
  size_t open_ = 0;
  std::unordered_map<std::string, size_t> by_key_;
};

}  // namespace sandgate::http
