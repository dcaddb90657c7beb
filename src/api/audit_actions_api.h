// GET /api/v1/auditActions: the audit actions in words (domain/audit_actions.h), the one table the
// portal's activity views and audit log read. Public (no session): it names actions, no data.
#pragma once

#include <boost/json.hpp>

#include "http/router.h"

namespace sandgate::api {

// {"actions": [{"action", "label", "filter" (null when not an activity filter), "did",
// "attempt"}, ...]} in the table's order.
boost::json::object AuditActionsJson();

void RegisterAuditActionRoutes(http::Router& r);

}  // namespace sandgate::api
