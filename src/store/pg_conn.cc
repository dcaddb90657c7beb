#include "store/pg_conn.h"

namespace sandgate::store::pgdb {

std::string SqlState(const PGresult* r) {
  const char* s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  return s ? s : "";
}

std::string ConstraintName(const PGresult* r) {
  const char* s = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : nullptr;
  return s ? s : "";
}

// Failures of the storage itself (retrying later may work): the connection, resources, operator
// intervention (shutdown, timeouts), serialization and lock timeouts.
bool IsUnavailable(PGconn* c, const std::string& state) {
  if (c == nullptr || PQstatus(c) != CONNECTION_OK || state.empty()) return true;
  const std::string cls = state.substr(0, 2);
  return cls == "08" || cls == "53" || cls == "57" || cls == "58" || cls == "40" ||
         state == "55P03" || state == "55006";
}

// 503 STORE_UNAVAILABLE or 500 INTERNAL. Only PostgreSQL's primary message is used: its DETAIL
// can quote key values, and bound values may be secrets.
Status PgError(PGconn* c, const PGresult* r, std::string_view what) {
  std::string msg = "store: " + std::string(what) + " failed: ";
  const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  if (primary != nullptr) {
    msg += primary;
  } else if (c != nullptr && PQstatus(c) != CONNECTION_OK) {
    msg += "the connection to PostgreSQL was lost";
  } else {
    msg += "no answer from PostgreSQL";
  }
  if (IsUnavailable(c, SqlState(r))) return Status::Unavailable(std::move(msg));
  return Status::Internal(std::move(msg));
}

}  // namespace sandgate::store::pgdb
