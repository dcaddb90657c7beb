// The audit actions: every `action` an audit record may carry, with the words the portal shows for
// it. This table is the only list: the services write these names, the API serves the table
// (GET /api/v1/auditActions) and the portal's activity views and provider console read it from
// there. Pure data; thread-safe.
#pragma once

#include <span>
#include <string_view>

namespace sandgate::domain {

struct AuditActionInfo {
  std::string_view name;     // "TOKEN_REGENERATE": what the record and the API's filter carry
  std::string_view label;    // "Regenerated the token": the provider console's audit log
  std::string_view filter;   // "Token regenerated": a choice of an organization's activity filter
                             // (empty: not offered there)
  std::string_view did;      // "regenerated the token": "acme-admin regenerated the token"
  std::string_view attempt;  // "regenerate the token": "acme-viewer tried to regenerate the token"
};

// Every action, in the order the portal lists them.
std::span<const AuditActionInfo> AuditActions();

// The entry for `name`, or nullptr when no such action exists.
const AuditActionInfo* FindAuditAction(std::string_view name);

}  // namespace sandgate::domain
