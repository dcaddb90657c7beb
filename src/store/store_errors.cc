#include "store/store_errors.h"

#include <string>

namespace sandgate::store::errors {

Status OrgExists() {
  return Status::Conflict("ORG_EXISTS", "an organization with that name already exists");
}
Status OrgNotFound() { return Status::NotFound("NOT_FOUND", "organization not found"); }
Status UserExists() {
  return Status::Conflict("USER_EXISTS", "a user with that name already exists");
}
Status UserNotFound() { return Status::NotFound("NOT_FOUND", "user not found"); }
Status SessionExists() { return Status::Conflict("SESSION_EXISTS", "the session already exists"); }
Status SessionNotFound() { return Status::NotFound("NOT_FOUND", "session not found"); }
Status TokenExists() {
  return Status::Conflict("TOKEN_EXISTS", "the organization already has a token");
}
Status TokenNotFound() {
  return Status::NotFound("TOKEN_NOT_FOUND", "the organization has no token");
}
Status TokenHashExists() {
  return Status::Conflict("TOKEN_HASH_EXISTS", "another organization holds the same token");
}
Status EndpointNotFound() { return Status::NotFound("NOT_FOUND", "No such webhook endpoint."); }
Status OutboxNotFound() { return Status::NotFound("NOT_FOUND", "No such webhook message."); }
Status EndpointExists() {
  return Status::Conflict("WEBHOOK_EXISTS", "the webhook endpoint already exists");
}
Status OutboxExists() {
  return Status::Conflict("WEBHOOK_MESSAGE_EXISTS", "the webhook message already exists");
}
Status AuditExists() { return Status::Conflict("AUDIT_EXISTS", "the audit record already exists"); }
Status UsageExists() { return Status::Conflict("USAGE_EXISTS", "the usage row already exists"); }
Status MutatingInRead() {
  return Status::Internal("store: a mutating call was made inside Read()");
}
Status NestedTransaction() {
  return Status::Internal("store: Write/Read called inside a transaction of the same store");
}
Status AlreadyFollowing() { return Status::Internal("store: already following"); }

Status SchemaTooNew(int64_t current, int known, std::string_view hint) {
  return Status(500, "SCHEMA_TOO_NEW",
                "store: the database has schema version " + std::to_string(current) +
                    " but this build knows only up to version " + std::to_string(known) +
                    std::string(hint));
}

}  // namespace sandgate::store::errors
