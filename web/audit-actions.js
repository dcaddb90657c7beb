// The audit actions in words, from the server's one table (GET /api/v1/auditActions, served from
// src/domain/audit_actions.cc): fetched once per page load and shared by the activity views and
// the provider console. Until it arrives (or if it cannot), a code reads as its own words
// ("TOKEN_DISABLE" -> "Token disable").
import { get } from './api.js';

let table = new Map();
let loading = null;

// Resolves once the table is loaded (or failed to load: the words then fall back to the code).
export function loadAuditActions() {
  if (!loading) {
    loading = get('/api/v1/auditActions', { background: true, quiet401: true })
      .then((r) => { table = new Map(r.actions.map((a) => [a.action, a])); })
      .catch(() => { loading = null; });
  }
  return loading || Promise.resolve();
}

// "INVALID_CREDENTIALS" -> "Invalid credentials": a code without words of its own.
export const codeWords = (code) => {
  const t = String(code || '').toLowerCase().replace(/_/g, ' ');
  return t ? t[0].toUpperCase() + t.slice(1) : '\u2014';
};

// Every action, in the table's order.
export const auditActionCodes = () => [...table.keys()];
// "Regenerated the token": the provider console's audit log.
export const actionLabel = (code) => table.get(code)?.label || codeWords(code);
// "regenerated the token" and "regenerate the token": an activity sentence.
export const actionDid = (code) => table.get(code)?.did || codeWords(code).toLowerCase();
export const actionAttempt = (code) => table.get(code)?.attempt || codeWords(code).toLowerCase();
// [code, "Token regenerated"] for the actions an organization's activity view filters by.
export const activityFilters = () => [...table.values()].filter((a) => a.filter).map((a) => [a.action, a.filter]);
