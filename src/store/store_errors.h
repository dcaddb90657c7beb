// Internal to the store backends: the statuses both answer for the same outcome, written once so
// that SQLite and PostgreSQL cannot drift apart on a code or a sentence (the backend-agnostic suite
// checks the codes).
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace sandgate::store::errors {

Status OrgExists();          // 409 ORG_EXISTS
Status OrgNotFound();        // 404 NOT_FOUND
Status UserExists();         // 409 USER_EXISTS
Status UserNotFound();       // 404 NOT_FOUND
Status SessionExists();      // 409 SESSION_EXISTS
Status SessionNotFound();    // 404 NOT_FOUND
Status TokenExists();        // 409 TOKEN_EXISTS: the organization already has a token
Status TokenNotFound();      // 404 TOKEN_NOT_FOUND
Status TokenHashExists();    // 409 TOKEN_HASH_EXISTS: another organization holds the same token
Status EndpointNotFound();   // 404 NOT_FOUND (webhook endpoint)
Status OutboxNotFound();     // 404 NOT_FOUND (webhook message)
Status EndpointExists();     // 409 WEBHOOK_EXISTS (restore)
Status OutboxExists();       // 409 WEBHOOK_MESSAGE_EXISTS (restore)
Status AuditExists();        // 409 AUDIT_EXISTS (restore)
Status UsageExists();        // 409 USAGE_EXISTS (restore)
Status MutatingInRead();     // 500: a mutating Tx call inside Read()
Status NestedTransaction();  // 500: Write/Read inside a transaction of the same store
Status AlreadyFollowing();   // 500: Follow called twice
// 500 SCHEMA_TOO_NEW: the database's version `current` is past the `known` one; `hint` (if any)
// is appended to the sentence.
Status SchemaTooNew(int64_t current, int known, std::string_view hint = {});

}  // namespace sandgate::store::errors
