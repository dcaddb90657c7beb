// The provider console: organizations (/provider), one organization (/provider/orgs/{id}) and the
// global audit log (/provider/audit). Controls follow the organization's `allowedActions`.
import { del, get, patch, post, query } from './api.js';
import {
  append, clear, confirmDialog, copyText, debounce, errorBox, h, label, notice, openDialog, rerender, timeEl, toast,
} from './dom.js';

const PAGE_SIZES = [25, 50, 100];
const AUDIT_PAGE = 50;
const AUDIT_ACTIONS = [
  'LOGIN', 'LOGOUT', 'TOKEN_READ', 'TOKEN_REVEAL', 'TOKEN_ADD', 'TOKEN_REGENERATE', 'TOKEN_DELETE', 'TOKEN_PROVISION',
  'TOKEN_DISABLE', 'TOKEN_ENABLE', 'SUBSCRIPTION_ACTIVATE', 'SUBSCRIPTION_EXPIRE', 'SUBSCRIPTION_RENEW', 'ORG_CREATE',
  'ORG_UPDATE', 'USER_CREATE', 'USER_ROLE_CHANGE', 'USER_PASSWORD_RESET', 'USER_DELETE', 'PROVIDER_API', 'CSRF_CHECK',
  'WEBHOOK_CREATE', 'WEBHOOK_DELETE', 'WEBHOOK_TEST', 'WEBHOOK_SECRET_ROTATE',
];

// A page that the API refused (an organization user gets 404 for the whole provider API).
function refusal(ctx, err, what) {
  clear(ctx.main);
  ctx.setTitle('Not available');
  const home = ctx.user.role === 'PROVIDER_ADMIN' ? ['/provider', 'Go to the organizations'] : ['/admin/sandbox-api-token', 'Go to the Sandbox API Token page'];
  const title = err.status === 404 ? 'Not available' : 'Something went wrong';
  ctx.main.append(
    h('h1', { tabindex: '-1' }, title),
    notice('error', err.status === 404 ? `${what} is not available to your account, or it does not exist.` : null,
      h('p', null, err.message), h('p', null, h('a', { href: home[0] }, home[1]))));
}

function subscriptionText(state, endsAt) {
  return h('span', { class: 'sub-cell' },
    h('span', { class: ['badge', state === 'ACTIVE' ? 'badge-on' : state === 'EXPIRED' ? 'badge-warn' : 'badge-neutral'] }, label('subscription', state)),
    endsAt ? h('span', { class: 'status-reason' }, state === 'ACTIVE' ? 'until ' : 'ended ', timeEl(endsAt, true)) : null);
}

function tokenStatusText(status, reason) {
  return h('span', { class: 'status-cell' },
    h('span', { class: ['badge', status === 'DISABLED' ? 'badge-off' : 'badge-on'] }, label('status', status)),
    status === 'DISABLED' && reason ? h('span', { class: 'status-reason' }, label('statusReason', reason)) : null);
}

function providerBreadcrumb(items) {
  return h('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' },
    h('ol', null, items.map(([text, href], i) => h('li', null,
      i === items.length - 1 ? h('span', { 'aria-current': 'page' }, text) : h('a', { href }, text)))));
}

// ------------------------------------------------------------------------------------------------
// Organizations list with debounced search and paging.
export async function renderOrgList(ctx) {
  const { main, search } = ctx;
  const st = {
    search: search.get('search') || '',
    page: Math.max(1, Number.parseInt(search.get('page') || '1', 10) || 1),
    pageSize: PAGE_SIZES.includes(Number(search.get('pageSize'))) ? Number(search.get('pageSize')) : 25,
    seq: 0,
  };
  const searchInput = h('input', { id: 'org-search', type: 'search', value: st.search, autocomplete: 'off', placeholder: 'Name or ID' });
  const sizeSelect = h('select', { id: 'org-page-size' }, PAGE_SIZES.map((n) => h('option', { value: String(n), selected: n === st.pageSize }, String(n))));
  const results = h('div', { class: 'results', 'aria-live': 'polite', 'aria-busy': 'true' });
  const createName = h('input', { id: 'new-org-name', type: 'text', required: true, maxlength: '200', autocomplete: 'off' });
  const createMsg = h('div', { 'aria-live': 'polite' });
  const createForm = h('form', { class: 'inline-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'new-org-name' }, 'New organization name'), createName),
    h('button', { type: 'submit', class: 'btn' }, 'Create organization'), createMsg);
  createForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(createMsg);
    if (!createName.value.trim()) {
      createMsg.append(notice('error', null, 'Enter a name for the new organization.'));
      createName.focus();
      return;
    }
    try {
      const org = await post('/api/v1/provider/orgs', { name: createName.value.trim() });
      history.pushState(null, '', `/provider/orgs/${org.id}`);
      window.dispatchEvent(new PopStateEvent('popstate'));
      toast(`Organization ${org.name} was created.`);
    } catch (err) {
      if (!err.handled) createMsg.append(errorBox(err));
    }
  });

  main.append(
    h('h1', { tabindex: '-1' }, 'Organizations'),
    h('div', { class: 'card' },
      h('form', { class: 'filters', role: 'search', novalidate: true, onsubmit: (e) => { e.preventDefault(); st.page = 1; load(); } },
        h('div', { class: 'field grow' }, h('label', { for: 'org-search' }, 'Search organizations'), searchInput),
        h('div', { class: 'field field-narrow' }, h('label', { for: 'org-page-size' }, 'Per page'), sizeSelect)),
      results),
    h('details', { class: 'card create-org' }, h('summary', null, 'Create an organization'), createForm),
    analysisCard());

  const syncUrl = () => {
    const q = query({ search: st.search, page: st.page > 1 ? st.page : '', pageSize: st.pageSize !== 25 ? st.pageSize : '' });
    history.replaceState(null, '', '/provider' + q);
  };

  async function load() {
    const seq = ++st.seq;
    st.search = searchInput.value.trim();
    results.setAttribute('aria-busy', 'true');
    let r;
    try {
      r = await get('/api/v1/provider/orgs' + query({ search: st.search, page: st.page, pageSize: st.pageSize }));
    } catch (err) {
      if (err.handled || seq !== st.seq || !ctx.isCurrent()) return;
      if (err.status === 404 || err.status === 403) {
        refusal(ctx, err, 'The provider console');
        return;
      }
      results.removeAttribute('aria-busy');
      rerender(results, () => results.append(errorBox(err)));
      return;
    }
    if (seq !== st.seq || !ctx.isCurrent()) return;
    syncUrl();
    results.removeAttribute('aria-busy');
    const pages = Math.max(1, Math.ceil(r.total / r.pageSize));
    rerender(results, () => {
      if (r.items.length === 0) {
        results.append(h('p', { class: 'empty' }, st.search ? `No organization matches “${st.search}”.` : 'There are no organizations yet.'));
      } else {
        results.append(h('div', { class: 'table-wrap' },
          h('table', { class: 'data-table', 'aria-label': 'Organizations' },
            h('thead', null, h('tr', null, ['Organization', 'ID', 'Subscription', 'Token status'].map((t) => h('th', { scope: 'col' }, t)))),
            h('tbody', null, r.items.map((o) => h('tr', null,
              h('td', { 'data-label': 'Organization' }, h('a', { href: `/provider/orgs/${o.id}` }, o.name)),
              h('td', { 'data-label': 'ID' }, String(o.id)),
              h('td', { 'data-label': 'Subscription' }, subscriptionText(o.subscription, o.endsAt)),
              h('td', { 'data-label': 'Token status' }, tokenStatusText(o.tokenStatus, o.statusReason))))))));
      }
      const first = r.total === 0 ? 0 : (r.page - 1) * r.pageSize + 1;
      const last = Math.min(r.total, r.page * r.pageSize);
      results.append(h('nav', { class: 'pager', 'aria-label': 'Pages' },
        h('button', { type: 'button', class: 'btn', disabled: r.page <= 1, 'data-focus-key': 'prev', onclick: () => { st.page -= 1; load(); } }, 'Previous page'),
        h('span', { class: 'pager-info', 'data-testid': 'pager-info' }, `${first}–${last} of ${r.total} · page ${r.page} of ${pages}`),
        h('button', { type: 'button', class: 'btn', disabled: r.page >= pages, 'data-focus-key': 'next', onclick: () => { st.page += 1; load(); } }, 'Next page')));
    });
  }

  const debounced = debounce(() => {
    st.page = 1;
    load();
  }, 300);
  searchInput.addEventListener('input', debounced);
  sizeSelect.addEventListener('change', () => {
    st.pageSize = Number(sizeSelect.value);
    st.page = 1;
    load();
  });
  await load();
}

// The analysis engine's rules as /readyz reports them: "2,981 rules loaded, 3 files skipped: file: reason".
function analysisCard() {
  const card = h('p', { class: 'card analysis-rules', 'data-testid': 'analysis-rules', 'aria-live': 'polite' });
  card.hidden = true;
  get('/readyz', { quiet401: true }).then((r) => {
    const a = r && r.analysis;
    if (!a || typeof a.rules !== 'number') return;
    const skipped = Array.isArray(a.ruleFilesSkipped) ? a.ruleFilesSkipped : [];
    let text = `Analysis: ${a.rules.toLocaleString('en-US')} rules loaded`;
    if (skipped.length > 0) {
      text += `, ${skipped.length} ${skipped.length === 1 ? 'file' : 'files'} skipped: ` +
        skipped.map((s) => `${s.file}: ${s.reason}`).join('; ');
    }
    card.textContent = text;
    card.hidden = false;
  }).catch(() => {});
  return card;
}

// ------------------------------------------------------------------------------------------------
// One organization.
export async function renderOrgPage(ctx) {
  const { main } = ctx;
  const id = ctx.params[0];
  const base = `/api/v1/provider/orgs/${id}`;
  const st = { org: null, users: null, usersError: null, audit: [], auditDone: false, auditError: null, error: null, busy: false };
  const allowed = (a) => Boolean(st.org && st.org.allowedActions.includes(a));

  const title = h('h1', { tabindex: '-1' }, 'Organization');
  const body = h('div', { class: 'page-body', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading…'));
  const crumbs = h('div');
  main.append(crumbs, title, body);

  async function loadAudit(more = false) {
    const before = more && st.audit.length ? st.audit[st.audit.length - 1].id : '';
    try {
      const r = await get('/api/v1/provider/auditLog' + query({ orgId: id, limit: AUDIT_PAGE, beforeId: before }));
      st.audit = more ? st.audit.concat(r.items) : r.items;
      st.auditDone = r.items.length < AUDIT_PAGE;
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
  async function act(fn, done) {
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

  function endDateInput(idSuffix, text) {
    const input = h('input', { id: 'ends-' + idSuffix, type: 'date' });
    return [input, h('div', { class: 'field' }, h('label', { for: 'ends-' + idSuffix }, text), input,
      h('p', { class: 'hint' }, 'Optional; the subscription ends at 00:00 UTC on that day. Empty: no end date.'))];
  }
  const isoFromDate = (v) => (v ? `${v}T00:00:00Z` : null);

  function subscription() {
    const o = st.org;
    const parts = [h('p', null, 'State: ', subscriptionText(o.subscription.state, o.subscription.endsAt))];
    if (allowed('ACTIVATE')) {
      const [input, field] = endDateInput('activate', 'End date');
      parts.push(h('form', { class: 'inline-form', novalidate: true, onsubmit: (e) => {
        e.preventDefault();
        act(() => post(`${base}/subscription`, { action: 'activate', endsAt: isoFromDate(input.value) }), 'The subscription was activated.');
      } }, field, h('button', { type: 'submit', class: 'btn btn-primary', 'data-focus-key': 'activate' }, 'Activate subscription')));
    }
    if (allowed('RENEW')) {
      const [input, field] = endDateInput('renew', 'New end date');
      parts.push(h('form', { class: 'inline-form', novalidate: true, onsubmit: (e) => {
        e.preventDefault();
        act(() => post(`${base}/subscription`, { action: 'renew', endsAt: isoFromDate(input.value) }), 'The subscription was renewed.');
      } }, field, h('button', { type: 'submit', class: 'btn btn-primary', 'data-focus-key': 'renew' }, 'Renew subscription')));
    }
    if (allowed('EXPIRE')) {
      parts.push(h('div', { class: 'row-actions' }, h('button', {
        type: 'button', class: 'btn btn-danger', 'data-focus-key': 'expire',
        onclick: async () => {
          const ok = await confirmDialog({
            title: `Expire the subscription of ${o.name}?`,
            message: ['The organization keeps its token, but the token is refused and cannot be changed until the subscription is renewed.'],
            danger: true,
          });
          if (ok) act(() => post(`${base}/subscription`, { action: 'expire' }), 'The subscription was expired.');
        },
      }, 'Expire subscription')));
    }
    return h('section', { class: 'card', 'aria-labelledby': 'sec-sub' }, h('h2', { id: 'sec-sub', class: 'card-title' }, 'Subscription'), parts);
  }

  function token() {
    const o = st.org;
    const parts = [h('dl', { class: 'facts' },
      h('dt', null, 'Status'), h('dd', { 'data-testid': 'org-token-status' }, tokenStatusText(o.status, o.statusReason)),
      h('dt', null, 'Token'), h('dd', null, o.token ? h('code', null, o.token.masked) : h('span', { class: 'muted' }, 'No token')),
      h('dt', null, 'Last modified'), h('dd', null, o.lastModifiedBy ? [o.lastModifiedBy, ', ', timeEl(o.lastModifiedOn)] : h('span', { class: 'muted' }, '—')),
      o.disabledByProvider ? [
        h('dt', null, 'Disabled because'), h('dd', null, label('reason', o.disableReason)),
        h('dt', null, 'Note'), h('dd', null, o.disableNote ? o.disableNote : h('span', { class: 'muted' }, '—')),
        h('dt', null, 'Disabled by'), h('dd', null, o.disabledBy || '—', o.disabledOn ? [', ', timeEl(o.disabledOn)] : null),
      ] : null)];
    if (allowed('DISABLE')) {
      const reason = h('select', { id: 'disable-reason' },
        ['QUOTA_THRESHOLD', 'TERMS_VIOLATION', 'OTHER'].map((r) => h('option', { value: r, selected: r === 'TERMS_VIOLATION' }, label('reason', r))));
      const note = h('input', { id: 'disable-note', type: 'text', maxlength: '500', autocomplete: 'off' });
      parts.push(h('form', { class: 'inline-form', novalidate: true, onsubmit: async (e) => {
        e.preventDefault();
        const ok = await confirmDialog({
          title: `Disable the token of ${o.name}?`,
          message: ['Its submissions are refused, and its administrators cannot change the token, until you enable it again.'],
          danger: true,
        });
        if (ok) {
          const body = { reason: reason.value };
          if (note.value.trim()) body.note = note.value.trim();
          act(() => post(`${base}/token/disable`, body), 'The token was disabled.');
        }
      } },
      h('div', { class: 'field field-reason' }, h('label', { for: 'disable-reason' }, 'Reason'), reason),
      h('div', { class: 'field grow' }, h('label', { for: 'disable-note' }, 'Note (optional)'), note),
      h('button', { type: 'submit', class: 'btn btn-danger', 'data-focus-key': 'disable' }, 'Disable token')));
    }
    if (allowed('ENABLE')) {
      parts.push(h('div', { class: 'row-actions' }, h('button', {
        type: 'button', class: 'btn btn-primary', 'data-focus-key': 'enable',
        onclick: () => act(() => post(`${base}/token/enable`, {}), 'The token was enabled.'),
      }, 'Enable token')));
    }
    return h('section', { class: 'card', 'aria-labelledby': 'sec-token' }, h('h2', { id: 'sec-token', class: 'card-title' }, 'Token'), parts);
  }

  function settings() {
    if (!allowed('MANAGE_ORG')) return null;
    const o = st.org;
    const fields = [
      ['name', 'Name', 'text', o.name],
      ['dailyAllowance', 'Daily allowance (submissions per UTC day)', 'number', o.settings.dailyAllowance],
      ['ratePerSecond', 'Rate per second', 'number', o.settings.ratePerSecond],
      ['ratePerHour', 'Rate per hour', 'number', o.settings.ratePerHour],
      ['disableThreshold', 'Disable threshold (over-quota attempts per day)', 'number', o.settings.disableThreshold],
    ];
    const inputs = {};
    const form = h('form', { class: 'settings-form', novalidate: true },
      fields.map(([key, text, type, value]) => {
        const input = h('input', { id: 'set-' + key, name: key, type, value: String(value), required: true, ...(type === 'number' ? { min: '0', step: '1', inputmode: 'numeric' } : { maxlength: '200' }) });
        inputs[key] = input;
        return h('div', { class: 'field' }, h('label', { for: 'set-' + key }, text), input);
      }),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', 'data-focus-key': 'save-settings' }, 'Save settings')));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const change = {};
      for (const [key, , type, value] of fields) {
        const raw = inputs[key].value.trim();
        if (type === 'number') {
          if (!/^\d+$/.test(raw)) {
            st.error = { message: `Enter a whole number for “${fields.find((f) => f[0] === key)[1]}”.` };
            draw();
            return;
          }
          if (Number(raw) !== value) change[key] = Number(raw);
        } else if (raw !== value) {
          change[key] = raw;
        }
      }
      if (Object.keys(change).length === 0) {
        toast('Nothing changed.');
        return;
      }
      act(() => patch(base, change), 'The settings were saved.');
    });
    return h('section', { class: 'card', 'aria-labelledby': 'sec-settings' }, h('h2', { id: 'sec-settings', class: 'card-title' }, 'Quota settings'), form);
  }

  function showPassword(username, password) {
    return openDialog({
      title: `Password for ${username}`,
      build(body, close) {
        append(body, [
          h('p', null, 'This password is shown once. Copy it now and give it to the user over a secure channel.'),
          h('div', { class: 'copy-line' }, h('code', { class: 'password-once', 'data-testid': 'new-password' }, password),
            h('button', { type: 'button', class: 'btn', onclick: async () => {
              try {
                await copyText(password);
                toast('The password was copied to the clipboard.');
              } catch {
                toast('The password could not be copied; select it and copy it by hand.', 'error');
              }
            } }, 'Copy password')),
          h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn btn-primary', autofocus: true, onclick: () => close(true) }, 'Done')),
        ]);
      },
    });
  }

  function users() {
    if (!allowed('MANAGE_USERS')) return null;
    const parts = [];
    if (st.usersError) parts.push(errorBox(st.usersError));
    if (st.users && st.users.length) {
      parts.push(h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', 'aria-label': 'Users' },
        h('thead', null, h('tr', null, ['Username', 'Role', 'Created', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', null, st.users.map((u) => {
          const roleSel = h('select', { 'aria-label': `Role of ${u.username}`, 'data-focus-key': `role-${u.id}` },
            ['ORG_ADMIN', 'ORG_READONLY'].map((r) => h('option', { value: r, selected: r === u.role }, label('role', r))));
          return h('tr', { 'data-user': u.username },
            h('td', { 'data-label': 'Username' }, u.username),
            h('td', { 'data-label': 'Role' }, h('span', { class: 'role-cell' }, roleSel,
              h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Change role of ${u.username}`, 'data-focus-key': `setrole-${u.id}`,
                onclick: () => {
                  if (roleSel.value === u.role) {
                    toast(`${u.username} already has that role.`);
                    return;
                  }
                  act(() => patch(`${base}/users/${u.id}`, { role: roleSel.value }), `The role of ${u.username} was changed.`);
                } }, 'Change role'))),
            h('td', { 'data-label': 'Created' }, timeEl(u.createdAt)),
            h('td', { 'data-label': 'Actions' }, h('span', { class: 'btn-group' },
              h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Reset password of ${u.username}`, 'data-focus-key': `reset-${u.id}`,
                onclick: async () => {
                  const ok = await confirmDialog({ title: `Reset the password of ${u.username}?`, message: ['A new password is generated; the current one stops working.'] });
                  if (!ok) return;
                  const r = await act(() => post(`${base}/users/${u.id}/password`, {}));
                  if (r && r.password) await showPassword(u.username, r.password);
                } }, 'Reset password'),
              h('button', { type: 'button', class: 'btn btn-small btn-danger', 'aria-label': `Delete user ${u.username}`, 'data-focus-key': `deluser-${u.id}`,
                onclick: async () => {
                  const ok = await confirmDialog({ title: `Delete the user ${u.username}?`, message: ['The user can no longer sign in.'], danger: true });
                  if (ok) act(() => del(`${base}/users/${u.id}`), `The user ${u.username} was deleted.`);
                } }, 'Delete'))));
        })))));
    } else if (st.users) {
      parts.push(h('p', { class: 'empty' }, 'This organization has no users yet.'));
    }
    const uname = h('input', { id: 'new-user-name', type: 'text', required: true, maxlength: '64', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' });
    const role = h('select', { id: 'new-user-role' }, ['ORG_ADMIN', 'ORG_READONLY'].map((r) => h('option', { value: r }, label('role', r))));
    const form = h('form', { class: 'inline-form', novalidate: true },
      h('div', { class: 'field' }, h('label', { for: 'new-user-name' }, 'Username'), uname),
      h('div', { class: 'field' }, h('label', { for: 'new-user-role' }, 'Role'), role),
      h('button', { type: 'submit', class: 'btn btn-primary', 'data-focus-key': 'create-user' }, 'Create user'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const name = uname.value.trim();
      if (!name) {
        st.error = { message: 'Enter a username for the new user.' };
        draw();
        return;
      }
      const r = await act(() => post(`${base}/users`, { username: name, role: role.value }), `The user ${name} was created.`);
      if (r && r.password) await showPassword(r.username, r.password);
    });
    return h('section', { class: 'card', 'aria-labelledby': 'sec-users' },
      h('h2', { id: 'sec-users', class: 'card-title' }, 'Users'), parts, h('h3', { class: 'sub-title' }, 'Create a user'), form);
  }

  function audit() {
    const parts = [];
    if (st.auditError) parts.push(errorBox(st.auditError));
    parts.push(auditTable(st.audit));
    if (!st.auditDone && st.audit.length) {
      parts.push(h('div', { class: 'row-actions' }, h('button', { type: 'button', class: 'btn', 'data-focus-key': 'audit-more', onclick: async () => {
        try {
          await loadAudit(true);
        } catch {
          return;
        }
        if (ctx.isCurrent()) draw();
      } }, 'Load older entries')));
    }
    return h('section', { class: 'card', 'aria-labelledby': 'sec-audit' },
      h('h2', { id: 'sec-audit', class: 'card-title' }, 'Audit log'),
      h('p', null, h('a', { href: `/provider/audit?orgId=${encodeURIComponent(id)}` }, 'Open in the audit log with filters')), parts);
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
        h('div', { class: 'grid-2' }, overview(), subscription()),
        token(),
        settings(),
        users(),
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

// ------------------------------------------------------------------------------------------------
function auditTable(items) {
  if (!items.length) return h('p', { class: 'empty' }, 'No audit entries match.');
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data-table audit-table', 'aria-label': 'Audit entries' },
    h('thead', null, h('tr', null, ['Time', 'Organization', 'Actor', 'Action', 'Outcome', 'Detail'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, items.map((r) => h('tr', null,
      h('td', { 'data-label': 'Time' }, timeEl(r.time)),
      h('td', { 'data-label': 'Organization' }, r.orgId ? h('a', { href: `/provider/orgs/${r.orgId}` }, String(r.orgId)) : '—'),
      h('td', { 'data-label': 'Actor' }, r.actor, r.actorRole ? h('span', { class: 'status-reason' }, r.actorRole) : null),
      h('td', { 'data-label': 'Action' }, h('code', null, r.action)),
      h('td', { 'data-label': 'Outcome' }, h('span', { class: ['badge', r.outcome === 'ALLOWED' ? 'badge-on' : 'badge-off'] }, r.outcome)),
      h('td', { 'data-label': 'Detail', class: 'detail' }, [r.detail, r.tokenFingerprint ? `token …${r.tokenFingerprint}` : '', r.clientAddress ? `from ${r.clientAddress}` : ''].filter(Boolean).join(' · ') || '—'))))));
}

// The global audit log with filters.
export async function renderAuditPage(ctx) {
  const { main, search } = ctx;
  const st = { items: [], done: true, seq: 0 };
  const toLocalInput = (iso) => (iso && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(iso) ? iso.slice(0, 16) : '');
  const fields = {
    orgId: h('input', { id: 'f-org', type: 'text', inputmode: 'numeric', pattern: '[0-9]*', value: search.get('orgId') || '', autocomplete: 'off' }),
    actor: h('input', { id: 'f-actor', type: 'text', value: search.get('actor') || '', autocomplete: 'off' }),
    action: h('input', { id: 'f-action', type: 'text', list: 'audit-actions', value: search.get('action') || '', autocomplete: 'off' }),
    from: h('input', { id: 'f-from', type: 'datetime-local', value: toLocalInput(search.get('from')) }),
    to: h('input', { id: 'f-to', type: 'datetime-local', value: toLocalInput(search.get('to')) }),
  };
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  const form = h('form', { class: 'filters filters-audit', novalidate: true, 'aria-label': 'Audit log filters' },
    h('div', { class: 'field' }, h('label', { for: 'f-org' }, 'Organization ID'), fields.orgId),
    h('div', { class: 'field' }, h('label', { for: 'f-actor' }, 'Actor'), fields.actor),
    h('div', { class: 'field' }, h('label', { for: 'f-action' }, 'Action'), fields.action,
      h('datalist', { id: 'audit-actions' }, AUDIT_ACTIONS.map((a) => h('option', { value: a })))),
    h('div', { class: 'field' }, h('label', { for: 'f-from' }, 'From (UTC)'), fields.from),
    h('div', { class: 'field' }, h('label', { for: 'f-to' }, 'To (UTC)'), fields.to),
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Apply filters'),
      h('button', { type: 'button', class: 'btn', onclick: () => { for (const f of Object.values(fields)) f.value = ''; load(); } }, 'Clear')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load();
  });
  main.append(providerBreadcrumb([['Provider console', '/provider'], ['Audit log', null]]),
    h('h1', { tabindex: '-1' }, 'Audit log'), h('div', { class: 'card' }, form), h('div', { class: 'card' }, results));

  function filters() {
    const utc = (v) => (v ? `${v.length === 16 ? v + ':00' : v}Z` : '');
    return {
      orgId: fields.orgId.value.trim(),
      actor: fields.actor.value.trim(),
      action: fields.action.value.trim().toUpperCase(),
      from: utc(fields.from.value),
      to: utc(fields.to.value),
    };
  }

  async function load(more = false) {
    const seq = ++st.seq;
    const f = filters();
    if (f.orgId && !/^\d+$/.test(f.orgId)) {
      rerender(results, () => results.append(notice('error', null, 'The organization ID is a whole number.')));
      return;
    }
    const before = more && st.items.length ? st.items[st.items.length - 1].id : '';
    let r;
    try {
      r = await get('/api/v1/provider/auditLog' + query({ ...f, limit: AUDIT_PAGE, beforeId: before }));
    } catch (err) {
      if (err.handled || seq !== st.seq || !ctx.isCurrent()) return;
      if (err.status === 404 || err.status === 403) {
        refusal(ctx, err, 'The audit log');
        return;
      }
      rerender(results, () => results.append(errorBox(err)));
      return;
    }
    if (seq !== st.seq || !ctx.isCurrent()) return;
    history.replaceState(null, '', '/provider/audit' + query(f));
    st.items = more ? st.items.concat(r.items) : r.items;
    st.done = r.items.length < AUDIT_PAGE;
    rerender(results, () => {
      results.append(h('p', { class: 'muted', 'data-testid': 'audit-count' }, `${st.items.length} entr${st.items.length === 1 ? 'y' : 'ies'} shown, newest first.`), auditTable(st.items));
      if (!st.done) results.append(h('div', { class: 'row-actions' }, h('button', { type: 'button', class: 'btn', 'data-focus-key': 'audit-more', onclick: () => load(true) }, 'Load older entries')));
    });
  }
  await load();
}
