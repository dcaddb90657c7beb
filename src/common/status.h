// Status and Result<T>: how every layer reports failure without exceptions crossing boundaries.
// A Status carries an UPPER_SNAKE code (the API error code), a sentence for a person, and the HTTP
// status it maps to. Value type; thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace sandgate {

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(int http_status, std::string code, std::string message)
      : http_(http_status), code_(std::move(code)), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status Invalid(std::string code, std::string msg) {
    return {400, std::move(code), std::move(msg)};
  }
  static Status NotFound(std::string code, std::string msg) {
    return {404, std::move(code), std::move(msg)};
  }
  static Status Forbidden(std::string code, std::string msg) {
    return {403, std::move(code), std::move(msg)};
  }
  static Status Conflict(std::string code, std::string msg) {
    return {409, std::move(code), std::move(msg)};
  }
  // The store could not complete the operation (I/O error, disk full, busy). Nothing was changed.
  static Status Unavailable(std::string msg) { return {503, "STORE_UNAVAILABLE", std::move(msg)}; }
  static Status Internal(std::string msg) { return {500, "INTERNAL", std::move(msg)}; }

  bool ok() const { return http_ == 0; }
  int http_status() const { return ok() ? 200 : http_; }
  // What kind of failure, without comparing numbers or code strings.
  bool IsInvalid() const { return http_ == 400; }
  bool IsUnauthenticated() const { return http_ == 401; }
  bool IsForbidden() const { return http_ == 403; }
  bool IsNotFound() const { return http_ == 404; }
  bool IsConflict() const { return http_ == 409; }
  bool IsTooLarge() const { return http_ == 413; }
  bool IsRateLimited() const { return http_ == 429; }  // quota, rate or throttle refusals
  bool IsClientGone() const { return http_ == 499; }   // the peer left before the answer
  bool IsUnavailable() const { return http_ == 503; }  // the store (or a dependency) is away
  const std::string& code() const { return code_; }
  const std::string& message() const { return message_; }
  // "OK", or "<http status> <code>: <message>" (for test failures and diagnostics; the message is
  // what the caller would show, so it never holds a secret).
  std::string ToString() const {
    if (ok()) return "OK";
    return std::to_string(http_) + " " + code_ + ": " + message_;
  }
  // Says, at a call whose failure changes nothing (a best-effort audit of a refusal, a session
  // touch retried on the next request), that the status is dropped on purpose.
  void IgnoreError() const {}

 private:
  int http_ = 0;
  std::string code_;
  std::string message_;
};

// Result<T>: a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status st) : v_(std::move(st)) {}   // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  void IgnoreError() const {}  // as Status::IgnoreError

 private:
  std::variant<T, Status> v_;
};

}  // namespace sandgate
