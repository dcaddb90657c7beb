// The provider console's page of one organization (/provider/orgs/{id}): loads it, its users and
// its recent audit entries, runs changes (act) and redraws; each section is its own module.
import { get, query } from './api.js';
import { loadAuditActions } from './audit-actions.js';
import { append, clear, errorBox, h, rerender, timeEl, toast } from './dom.js';
import { auditTable } from './provider-audit.js';
import { providerBreadcrumb, refusal } from './provider-common.js';
import { settingsSection } from './provider-org-settings.js';
import { subscriptionSection } from './provider-org-subscription.js';
import { tokenSection } from './provider-org-token.js';
import { usersSection } from './provider-org-users.js';

const ORG_AUDIT_RECENT = 5;

export async function renderOrgPage(ctx) {
  const { main } = ctx;
  const id = ctx.params[0];
  const base = `/api/v1/provider/orgs/${id}`;
  const st = { org: null, users: null, usersError: null, audit: [], auditError: null, error: null, busy: false };
  const allowed = (a) => Boolean(st.org && st.org.allowedActions.includes(a));

  const title = h('h1', { tabindex: '-1' }, 'Organization');
  const body = h('div', { class: 'page-body provider-org', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading…'));
  const crumbs = h('div');
  main.append(crumbs, title, body);

  // The few most recent entries; the full, paged log is on the audit page.
  async function loadAudit() {
    try {
      const [r] = await Promise.all([
        get('/api/v1/provider/auditLog' + query({ orgId: id, limit: ORG_AUDIT_RECENT })), loadAuditActions()]);
      st.audit = r.items;
      st.auditError = null;
    } catch (err) {
      if (err.handled) throw err;
      st.auditError = err;
    }
  }
  async function loadUsers() {
    if (!allowed('MANAGE_USERS')) {
      st.users = null;
      return;
    }
    try {
      st.users = (await get(`${base}/users`)).items;
      st.usersError = null;
    } catch (err) {
      if (err.handled) throw err;
      st.usersError = err;
    }
  }
  async function loadAll() {
    st.org = await get(base);
    await Promise.all([loadUsers(), loadAudit()]);
  }

  // Runs a change, then re-reads everything and redraws in place.
  // With onError, a refusal is shown by the caller (beside the field) and the page, with what the
  // user typed, stays as it is.
  async function act(fn, done, { onError } = {}) {
    if (st.busy) return undefined;
    st.busy = true;
    st.error = null;
    let result;
    let message = null;
    try {
      result = await fn();
      if (done) message = typeof done === 'function' ? done(result) : done;
    } catch (err) {
      if (err.handled || !ctx.isCurrent()) {
        st.busy = false;
        return undefined;
      }
      if (onError && [400, 409, 422].includes(err.status)) {
        st.busy = false;
        onError(err);
        return undefined;
      }
      st.error = err;
    }
    try {
      await loadAll();
    } catch (err) {
      if (err.handled) return undefined;
      st.error = st.error || err;
    } finally {
      st.busy = false;
    }
    if (ctx.isCurrent()) {
      draw();
      if (message) toast(message); // after the redraw, so the page already shows the new state
    }
    return result;
  }

  // The sections (provider-org-*.js) read the page's state and change it through act.
  const page = { st, base, allowed, act };

  // --- Sections.
  function overview() {
    const o = st.org;
    return h('section', { class: 'card', 'aria-labelledby': 'sec-overview' },
      h('h2', { id: 'sec-overview', class: 'card-title' }, 'Overview'),
      h('dl', { class: 'facts' },
        h('dt', null, 'Organization ID'), h('dd', null, String(o.id)),
        h('dt', null, 'Created'), h('dd', null, timeEl(o.createdAt)),
        o.usage ? [h('dt', null, "Today's usage"), h('dd', { 'data-testid': 'usage' }, `${o.usage.used} / ${o.usage.allowed} submissions`)] : null,
        typeof o.rateLimitedToday === 'number' ? [h('dt', null, 'Refused by the rate limit today'), h('dd', { 'data-testid': 'rate-limited' }, `${o.rateLimitedToday} (not counted toward disabling)`)] : null,
        o.usage ? [h('dt', null, 'Last use'), h('dd', null, o.lastUsedOn ? timeEl(o.lastUsedOn) : 'Not used yet')] : null));
  }

  function audit() {
    const parts = [];
    if (st.auditError) parts.push(errorBox(st.auditError));
    parts.push(auditTable(st.audit, { showOrg: false }));
    return h('section', { class: 'card', 'aria-labelledby': 'sec-audit' },
      h('div', { class: 'card-head' },
        h('h2', { id: 'sec-audit', class: 'card-title' }, 'Recent activity'),
        h('a', { href: `/provider/audit?orgId=${encodeURIComponent(id)}`, 'data-testid': 'full-audit-link' }, 'See the full audit log')),
      parts);
  }

  function draw() {
    const o = st.org;
    ctx.setTitle(o.name);
    title.textContent = o.name;
    clear(crumbs);
    crumbs.append(providerBreadcrumb([['Provider console', '/provider'], ['Organizations', '/provider'], [o.name, null]]));
    body.removeAttribute('aria-busy');
    rerender(body, () => {
      append(body, [
        st.error ? errorBox(st.error) : null,
        h('div', { class: 'grid-2' }, overview(), subscriptionSection(page)),
        tokenSection(page),
        settingsSection(page),
        usersSection(page),
        audit(),
      ]);
    });
    if (st.error) body.querySelector('[role="alert"]')?.scrollIntoView({ block: 'nearest' });
  }

  try {
    await loadAll();
  } catch (err) {
    if (err.handled || !ctx.isCurrent()) return;
    refusal(ctx, err, 'This organization');
    return;
  }
  if (ctx.isCurrent()) draw();
}
