// The organization's Sandbox API Token page (/admin/sandbox-api-token).
// It never re-derives a rule: every control shown is an action listed in `allowedActions`.
import { del, get, post, put } from './api.js';
import {
  append, clear, confirmDialog, copyText, errorBox, h, icon, iconButton, label, notice, rerender, timeEl, toast,
} from './dom.js';

const COLUMNS = [
  { key: 'token', title: 'Sandbox API Token', fixed: true },
  { key: 'status', title: 'Status' },
  { key: 'modifiedBy', title: 'Last Modified By' },
  { key: 'modifiedOn', title: 'Last Modified On' },
  { key: 'actions', title: 'Actions' },
];
const HIDDEN_KEY = 'sandgate.tokenTable.hiddenColumns';

function loadHidden() {
  try {
    const v = JSON.parse(localStorage.getItem(HIDDEN_KEY) || '[]');
    return new Set(Array.isArray(v) ? v.filter((k) => COLUMNS.some((c) => c.key === k && !c.fixed)) : []);
  } catch {
    return new Set();
  }
}

function saveHidden(set) {
  try {
    localStorage.setItem(HIDDEN_KEY, JSON.stringify([...set]));
  } catch {
    // Storage may be unavailable (private mode); the choice then lasts for this page only.
  }
}

// A click outside an open column chooser closes it.
document.addEventListener('click', (e) => {
  for (const d of document.querySelectorAll('details.column-chooser[open]')) if (!d.contains(e.target)) d.open = false;
});

export async function renderTokenPage(ctx) {
  const { main } = ctx;
  const page = {
    view: null, // the API's token view
    revealed: null, // the full token while revealed
    error: null, // the last failed action, shown above the table
    hidden: loadHidden(),
    busy: false,
  };
  const allowed = (a) => Boolean(page.view && page.view.allowedActions.includes(a));

  main.append(
    h('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' },
      h('ol', null,
        ['Administration', 'API Configuration', 'Legacy API', 'Internet & SaaS API'].map((t) => h('li', null, t)),
        h('li', null, h('span', { 'aria-current': 'page' }, 'Sandbox API Token')))),
    h('h1', { tabindex: '-1' }, 'Sandbox API Token'));
  const body = h('div', { class: 'page-body', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading…'));
  main.append(body);

  async function load() {
    page.view = await get('/api/v1/sandbox/token');
  }

  // Runs an action, then shows the new state without a page reload.
  async function act(fn, done) {
    if (page.busy) return;
    page.busy = true;
    page.error = null;
    try {
      const view = await fn();
      if (view) page.view = view;
      page.revealed = null;
      if (done) toast(done);
    } catch (err) {
      if (err.handled || !ctx.isCurrent()) return;
      page.error = err;
      try {
        await load(); // the state may have changed under us (e.g. the provider disabled the token)
      } catch {
        // keep the previous view; the error says what happened
      }
    } finally {
      page.busy = false;
    }
    if (ctx.isCurrent()) draw();
  }

  async function reveal() {
    const r = await get('/api/v1/sandbox/token/reveal');
    return r.token;
  }

  async function onReveal() {
    if (page.revealed) {
      page.revealed = null;
      draw();
      return;
    }
    try {
      page.revealed = await reveal();
      page.error = null;
    } catch (err) {
      if (err.handled) return;
      page.error = err;
    }
    if (ctx.isCurrent()) draw();
  }

  async function onCopyToken() {
    try {
      const token = page.revealed || (await reveal());
      await copyText(token);
      toast('The token was copied to the clipboard.');
    } catch (err) {
      if (err.handled) return;
      toast(err.status ? err.message : 'The token could not be copied; reveal it and copy it by hand.', 'error');
    }
  }

  async function onCopyBaseUrl() {
    try {
      await copyText(page.view.baseUrl);
      toast('The base URL was copied to the clipboard.');
    } catch {
      toast('The base URL could not be copied; select it and copy it by hand.', 'error');
    }
  }

  async function onRegenerate() {
    const ok = await confirmDialog({
      title: 'Regenerate the Sandbox API Token?',
      message: [
        'A new token replaces the current one. The current token stops working immediately.',
        'Applications using it must be updated with the new token.',
      ],
    });
    if (!ok) return;
    await act(() => put('/api/v1/sandbox/token'), 'A new token was generated; the previous token no longer works.');
  }

  async function onDelete() {
    const ok = await confirmDialog({
      title: 'Delete the Sandbox API Token?',
      message: ['The token stops working immediately and cannot be recovered.', 'You can add a new token afterwards.'],
      danger: true,
    });
    if (!ok) return;
    await act(() => del('/api/v1/sandbox/token'), 'The token was deleted.');
  }

  async function onAdd() {
    await act(() => post('/api/v1/sandbox/token'), 'A new token was added.');
  }

  function notices() {
    const v = page.view;
    const out = [];
    if (v.disabledByProvider) {
      out.push(notice('error', 'Disabled by your service provider',
        h('p', null, 'Reason: ', h('strong', { class: 'disable-reason' }, label('reason', v.disableReason)),
          v.disabledOn ? [' (since ', timeEl(v.disabledOn), ')'] : null),
        h('p', null, 'Contact your service provider.')));
    }
    if (v.statusReason === 'SUBSCRIPTION_EXPIRED') {
      out.push(notice('warning', 'Read-only: the sandbox subscription has expired',
        h('p', null, 'The sandbox subscription has expired',
          v.subscription && v.subscription.endsAt ? [' on ', timeEl(v.subscription.endsAt)] : null,
          '. The token remains valid but is disabled, and it cannot be changed until the subscription is renewed.'),
        h('p', null, 'Contact your service provider to renew it.')));
    } else if (v.statusReason === 'NO_SUBSCRIPTION') {
      out.push(notice('warning', 'No sandbox subscription',
        'This organization has no sandbox subscription. Contact your service provider.'));
    }
    if (ctx.user.role === 'ORG_READONLY') {
      out.push(notice('info', null, 'You have read-only access to this page; an organization administrator can manage the token.'));
    }
    return out;
  }

  function tokenCell() {
    const v = page.view;
    if (!v.token) return h('span', { class: 'muted', 'data-testid': 'no-token' }, 'No Sandbox API Token');
    const shown = page.revealed || v.token.masked;
    const code = h('code', { class: ['token-text', page.revealed && 'token-revealed'], 'data-testid': 'token-value' }, shown);
    const controls = [];
    if (allowed('REVEAL')) {
      controls.push(iconButton(page.revealed ? 'eyeOff' : 'eye', page.revealed ? 'Hide token' : 'Reveal token', onReveal,
        { 'aria-pressed': page.revealed ? 'true' : 'false', 'data-focus-key': 'reveal' }));
      controls.push(iconButton('copy', 'Copy token', onCopyToken, { 'data-focus-key': 'copy-token' }));
    }
    return h('div', { class: 'token-cell' }, code, controls.length ? h('span', { class: 'btn-group' }, controls) : null);
  }

  function statusCell() {
    const v = page.view;
    if (!v.token) return h('span', { class: 'muted' }, '—');
    const disabled = v.status === 'DISABLED';
    return h('span', { class: 'status-cell' },
      h('span', { class: ['badge', disabled ? 'badge-off' : 'badge-on'], 'data-testid': 'token-status' }, label('status', v.status)),
      disabled && v.statusReason ? h('span', { class: 'status-reason' }, label('statusReason', v.statusReason)) : null);
  }

  function actionsCell() {
    const v = page.view;
    const buttons = [];
    if (v.token && allowed('REGENERATE')) buttons.push(iconButton('regenerate', 'Regenerate token', onRegenerate, { 'data-focus-key': 'regenerate' }));
    if (v.token && allowed('DELETE')) buttons.push(iconButton('trash', 'Delete token', onDelete, { class: 'icon-btn icon-btn-danger', 'data-focus-key': 'delete' }));
    return buttons.length ? h('span', { class: 'btn-group' }, buttons) : h('span', { class: 'muted' }, h('span', { 'aria-hidden': 'true' }, '—'), h('span', { class: 'visually-hidden' }, 'No actions available'));
  }

  function table() {
    const v = page.view;
    const cells = {
      token: tokenCell,
      status: statusCell,
      modifiedBy: () => (v.lastModifiedBy ? v.lastModifiedBy : h('span', { class: 'muted' }, '—')),
      modifiedOn: () => timeEl(v.lastModifiedOn),
      actions: actionsCell,
    };
    const visible = COLUMNS.filter((c) => !page.hidden.has(c.key));
    return h('div', { class: 'table-wrap' },
      h('table', { class: 'data-table token-table', 'aria-label': 'Sandbox API Token' },
        h('thead', null, h('tr', null, visible.map((c) => h('th', { scope: 'col', 'data-col': c.key }, c.title)))),
        h('tbody', null, h('tr', null, visible.map((c) => h('td', { 'data-col': c.key, 'data-label': c.title }, cells[c.key]()))))));
  }

  function columnChooser() {
    const details = h('details', { class: 'column-chooser' },
      h('summary', { class: 'btn', 'data-focus-key': 'columns' }, icon('columns'), h('span', null, 'Columns')),
      h('fieldset', { class: 'menu' },
        h('legend', null, 'Show columns'),
        COLUMNS.filter((c) => !c.fixed).map((c) => {
          const id = 'col-' + c.key;
          const box = h('input', {
            type: 'checkbox', id, checked: !page.hidden.has(c.key), 'data-focus-key': id,
            onchange: (e) => {
              if (e.target.checked) page.hidden.delete(c.key);
              else page.hidden.add(c.key);
              saveHidden(page.hidden);
              draw({ keepChooserOpen: true });
            },
          });
          return h('div', { class: 'check' }, box, h('label', { for: id }, c.title));
        })));
    details.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && details.open) {
        e.preventDefault();
        details.open = false;
        details.querySelector('summary').focus();
      }
    });
    return details;
  }

  function draw(opts = {}) {
    const v = page.view;
    body.removeAttribute('aria-busy');
    rerender(body, () => {
      const usage = v.usage
        ? h('div', { class: 'usage' },
          h('div', { class: 'kv' }, h('span', { class: 'kv-k' }, "Today's usage"),
            h('span', { class: 'kv-v', 'data-testid': 'usage' }, `${v.usage.used} / ${v.usage.allowed} submissions`),
            h('meter', { min: '0', max: String(Math.max(1, v.usage.allowed)), value: String(Math.min(v.usage.used, Math.max(1, v.usage.allowed))), 'aria-label': "Today's usage" })),
          h('div', { class: 'kv' }, h('span', { class: 'kv-k' }, 'Last use'),
            h('span', { class: 'kv-v' }, v.lastUsedOn ? timeEl(v.lastUsedOn) : 'Not used yet')))
        : null;
      append(body, [
        h('p', { class: 'org-line muted' }, 'Organization: ', h('strong', null, v.orgName)),
        notices(),
        h('section', { class: 'card', 'aria-labelledby': 'base-url-title' },
          h('h2', { id: 'base-url-title', class: 'card-title' }, 'Submission API base URL'),
          h('div', { class: 'copy-line' },
            h('code', { class: 'base-url', 'data-testid': 'base-url' }, v.baseUrl),
            iconButton('copy', 'Copy Submission API base URL', onCopyBaseUrl, { 'data-focus-key': 'copy-base-url' })),
          usage),
        page.error ? errorBox(page.error) : null,
        h('section', { class: 'card', 'aria-labelledby': 'token-title' },
          h('div', { class: 'card-head' },
            h('h2', { id: 'token-title', class: 'card-title' }, 'Token'),
            h('div', { class: 'toolbar' },
              !v.token && allowed('ADD')
                ? h('button', { type: 'button', class: 'btn btn-primary', onclick: onAdd, 'data-focus-key': 'add' }, icon('plus'), h('span', null, 'Add Sandbox API Token'))
                : null,
              columnChooser())),
          table()),
      ]);
      if (opts.keepChooserOpen) body.querySelector('.column-chooser').open = true;
    });
    // After Add/Delete the focused button disappears; keep focus on a sensible control.
    if (!body.contains(document.activeElement) && document.activeElement === document.body) {
      const fallback = body.querySelector('[data-focus-key="regenerate"], [data-focus-key="add"], [data-focus-key="reveal"]');
      if (fallback) fallback.focus();
    }
  }

  try {
    await load();
  } catch (err) {
    if (err.handled || !ctx.isCurrent()) return;
    clear(body);
    body.removeAttribute('aria-busy');
    body.append(errorBox(err, ctx.user.role === 'PROVIDER_ADMIN'
      ? h('p', null, h('a', { href: '/provider' }, 'Go to the provider console'))
      : null));
    return;
  }
  if (!ctx.isCurrent()) return;
  ctx.setTitle(`Sandbox API Token · ${page.view.orgName}`);
  draw();
}
