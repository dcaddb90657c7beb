// The provider console: organizations (/provider), one organization (/provider/orgs/{id}) and the
// global audit log (/provider/audit). Controls follow the organization's `allowedActions`.
// The entry app.js imports; each page (and each section of the organization page) is its own module.
export { renderAuditPage } from './provider-audit.js';
export { orgListHref } from './provider-common.js';
export { renderOrgPage } from './provider-org-page.js';
export { renderOrgList } from './provider-orgs.js';
export { renderOverview } from './provider-overview.js';
