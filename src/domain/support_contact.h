// The provider's support contact (issue 18, item 5): what a valid one is. Pure: no I/O.
#pragma once

#include <string>
#include <vector>

namespace sandgate::domain {

// Limits, in bytes (UTF-8).
inline constexpr size_t kSupportNameMax = 100;
inline constexpr size_t kSupportEmailMax = 254;
inline constexpr size_t kSupportUrlMax = 500;
inline constexpr size_t kSupportPhoneMax = 40;

struct SupportContactFields {
  std::string name, email, url, phone;
};

// One refused field: "name", "email", "url" or "phone", and a sentence for a person.
struct FieldError {
  std::string field;
  std::string message;
};

// Every part may be empty (not shown). Otherwise: the name is printable UTF-8 text (no control or
// bidirectional formatting characters, no leading or trailing space); the email has the shape
// local@domain.tld (ASCII, no spaces); the URL is http:// or https:// with a host and no user
// part, printable ASCII without spaces; the phone number is digits (at least 3), spaces and
// + ( ) - . / with + only first. Returns the refused fields in the order name, email, url, phone
// (empty when valid).
std::vector<FieldError> ValidateSupportContact(const SupportContactFields& c);

}  // namespace sandgate::domain
