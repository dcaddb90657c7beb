// The provider's audit log (/provider/audit) and the audit table the organization page shows too.
import { get, query } from './api.js';
import { actionLabel, auditActionCodes, codeWords, loadAuditActions } from './audit-actions.js';
import { errorBox, h, label, rerender, timeEl } from './dom.js';
import { fieldError, providerBreadcrumb, refusal } from './provider-common.js';

const AUDIT_PAGE = 50;

function roleWords(role) {
  if (!role) return '';
  if (role === 'SYSTEM') return 'System';
  return label('role', role);
}

function outcomeCell(outcome) {
  if (outcome === 'ALLOWED') return h('span', { class: 'badge badge-on' }, 'Done');
  return h('span', { class: 'badge badge-off' }, 'Refused: ' + codeWords(outcome).toLowerCase());
}

export function auditTable(items, { showOrg = true } = {}) {
  if (!items.length) return h('p', { class: 'empty' }, 'No audit entries match.');
  const cols = ['Time', showOrg ? 'Organization' : null, 'Who', 'What', 'Outcome', 'Details'].filter(Boolean);
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data-table audit-table', 'aria-label': 'Audit entries' },
    h('thead', null, h('tr', null, cols.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, items.map((r) => h('tr', { 'data-action': r.action },
      h('td', { 'data-label': 'Time' }, timeEl(r.time)),
      showOrg ? h('td', { 'data-label': 'Organization' }, r.orgId
        ? h('a', { href: `/provider/orgs/${r.orgId}` }, r.orgName || `Organization ${r.orgId}`)
        : '\u2014') : null,
      h('td', { 'data-label': 'Who' }, h('span', null, h('span', { class: 'actor' }, r.actor),
        r.actorRole ? h('span', { class: 'actor-role' }, roleWords(r.actorRole)) : null)),
      h('td', { 'data-label': 'What', title: r.action }, actionLabel(r.action)),
      h('td', { 'data-label': 'Outcome' }, outcomeCell(r.outcome)),
      h('td', { 'data-label': 'Details', class: 'detail' }, [r.detail, r.tokenFingerprint ? `token \u2026${r.tokenFingerprint}` : '', r.clientAddress ? `from ${r.clientAddress}` : ''].filter(Boolean).join(' \u00b7 ') || '\u2014'))))));
}

// The global audit log with filters, in pages of AUDIT_PAGE entries (newest first; keyset paging by
// id, so a page holds however long the log grows).
export async function renderAuditPage(ctx) {
  const { main, search } = ctx;
  await loadAuditActions();  // the action filter's choices and the rows' words (the server's table)
  const actions = auditActionCodes();
  // cursors: the beforeId of each page shown so far (page 1 has none).
  const st = { items: [], more: false, cursors: [''], seq: 0 };
  const toLocalInput = (iso) => (iso && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(iso) ? iso.slice(0, 16) : '');
  const initialAction = search.get('action') || '';
  const fields = {
    orgId: h('input', { id: 'f-org', type: 'text', inputmode: 'numeric', pattern: '[0-9]*', value: search.get('orgId') || '', autocomplete: 'off', 'aria-describedby': 'f-org-msg' }),
    actor: h('input', { id: 'f-actor', type: 'text', value: search.get('actor') || '', autocomplete: 'off' }),
    action: h('select', { id: 'f-action' }, h('option', { value: '' }, 'Any action'),
      actions.concat(actions.includes(initialAction) || !initialAction ? [] : [initialAction])
        .map((a) => h('option', { value: a, selected: a === initialAction }, actionLabel(a)))),
    from: h('input', { id: 'f-from', type: 'datetime-local', value: toLocalInput(search.get('from')) }),
    to: h('input', { id: 'f-to', type: 'datetime-local', value: toLocalInput(search.get('to')) }),
  };
  const orgMsg = h('p', { id: 'f-org-msg', class: 'field-error', 'aria-live': 'polite' });
  fields.orgId.addEventListener('input', () => fieldError(fields.orgId, orgMsg, null));
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  const form = h('form', { class: 'filters filters-audit', novalidate: true, 'aria-label': 'Audit log filters' },
    h('div', { class: 'field' }, h('label', { for: 'f-org' }, 'Organization ID'), fields.orgId, orgMsg),
    h('div', { class: 'field' }, h('label', { for: 'f-actor' }, 'Who (username)'), fields.actor),
    h('div', { class: 'field' }, h('label', { for: 'f-action' }, 'What'), fields.action),
    h('div', { class: 'field' }, h('label', { for: 'f-from' }, 'From (UTC)'), fields.from),
    h('div', { class: 'field' }, h('label', { for: 'f-to' }, 'To (UTC)'), fields.to),
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Apply filters'),
      h('button', { type: 'button', class: 'btn', onclick: () => { for (const f of Object.values(fields)) f.value = ''; fieldError(fields.orgId, orgMsg, null); restart(); } }, 'Clear')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    restart();
  });
  main.append(providerBreadcrumb([['Provider console', '/provider'], ['Audit log', null]]),
    h('h1', { tabindex: '-1' }, 'Audit log'), h('div', { class: 'card' }, form), h('div', { class: 'card' }, results));

  function filters() {
    const utc = (v) => (v ? `${v.length === 16 ? v + ':00' : v}Z` : '');
    return {
      orgId: fields.orgId.value.trim(),
      actor: fields.actor.value.trim(),
      action: fields.action.value,
      from: utc(fields.from.value),
      to: utc(fields.to.value),
    };
  }

  function restart() {
    st.cursors = [''];
    load();
  }

  async function load() {
    const seq = ++st.seq;
    const f = filters();
    if (f.orgId && !/^\d+$/.test(f.orgId)) {
      fieldError(fields.orgId, orgMsg, 'Enter the organization\u2019s number (its ID), e.g. 12.');
      fields.orgId.focus();
      return;
    }
    const before = st.cursors[st.cursors.length - 1];
    let r;
    try {
      // One more than a page: tells whether an older page exists.
      r = await get('/api/v1/provider/auditLog' + query({ ...f, limit: AUDIT_PAGE + 1, beforeId: before }));
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
    st.more = r.items.length > AUDIT_PAGE;
    st.items = r.items.slice(0, AUDIT_PAGE);
    const page = st.cursors.length;
    rerender(results, () => {
      const first = (page - 1) * AUDIT_PAGE + 1;
      const count = st.items.length === 0 ? 'No entries.'
        : `Entries ${first}\u2013${first + st.items.length - 1}, newest first \u00b7 page ${page}`;
      results.append(h('p', { class: 'muted', 'data-testid': 'audit-count' }, count), auditTable(st.items));
      results.append(h('nav', { class: 'pager', 'aria-label': 'Audit log pages' },
        h('button', { type: 'button', class: 'btn', disabled: page <= 1, 'data-focus-key': 'audit-newer', onclick: () => { st.cursors.pop(); load(); } }, 'Newer entries'),
        h('button', { type: 'button', class: 'btn', disabled: !st.more, 'data-focus-key': 'audit-older', onclick: () => { st.cursors.push(st.items[st.items.length - 1].id); load(); } }, 'Older entries')));
    });
  }
  await load();
}
