// The organization's Sandbox API Token page (/admin/sandbox-api-token).
// It never re-derives a rule: every control shown is an action listed in `allowedActions`.
import { del, get, post, put, query } from './api.js';
import {
  append, clear, confirmDialog, copyText, errorBox, h, icon, iconButton, label, notice, plural, rerender, timeEl, toast,
} from './dom.js';
import { takePageNotice } from './app.js';
import { activitySection } from './activity.js';
import { usageSection } from './usage.js';
import { webhooksSection } from './webhooks.js';

const COLUMNS = [
  { key: 'token', title: 'Sandbox API Token', fixed: true },
  { key: 'status', title: 'Status' },
  { key: 'modifiedBy', title: 'Last Modified By' },
  { key: 'modifiedOn', title: 'Last Modified On' },
  { key: 'actions', title: 'Actions' },
];
const REFRESH_MS = 60_000; // the periodic refresh while the tab is visible
const EXPIRY_WARNING_DAYS = 14;
const DAY_MS = 86_400_000;

// "active until Dec 31, 2027", "expired on …", "none".
function subscriptionText(sub) {
  if (!sub || sub.state === 'NONE') return 'none';
  if (sub.state === 'EXPIRED') return sub.endsAt ? ['expired on ', timeEl(sub.endsAt, true)] : 'expired';
  return sub.endsAt ? ['active until ', h('strong', null, timeEl(sub.endsAt, true))] : 'active, no end date';
}

// The provider's support contact, as links ("Contact your service provider" when none is set).
function contactLine(v, lead = 'Contact your service provider') {
  const c = v.supportContact;
  if (!c) return h('p', { 'data-testid': 'support-contact' }, lead + '.');
  const parts = [];
  if (c.email) parts.push(h('a', { href: 'mailto:' + c.email }, c.email));
  if (c.phone) parts.push(h('a', { href: 'tel:' + c.phone.replace(/[^0-9+]/g, '') }, c.phone));
  if (c.url && /^https?:\/\//i.test(c.url)) parts.push(h('a', { href: c.url, rel: 'noopener noreferrer', target: '_blank' }, c.url));
  const list = [];
  parts.forEach((p, i) => list.push(i ? ', ' : '', p));
  return h('p', { 'data-testid': 'support-contact' }, lead, c.name ? [': ', h('strong', null, c.name)] : null,
    list.length ? [c.name ? ' (' : ': ', list, c.name ? ')' : ''] : null, '.');
}

export async function renderTokenPage(ctx) {
  const { main } = ctx;
  const page = {
    view: null, // the API's token view
    revealed: null, // the full token while revealed
    error: null, // the last failed action, shown above the table
    busy: false,
    usage: null, // GET /api/v1/sandbox/usage, when the Submission API is served
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

  async function load(background = false) {
    const opts = background ? { background: true } : undefined;
    const view = await get('/api/v1/sandbox/token', opts);
    let usage = null;
    if (view.usage) {
      try {
        usage = await get('/api/v1/sandbox/usage', opts);
      } catch (err) {
        if (err.handled) throw err;
        usage = page.usage; // the chart is extra: keep the last one rather than fail the page
      }
    }
    page.view = view;
    page.usage = usage;
  }

  // Refreshes the state quietly (tab focus, every minute): a provider's disable shows without the
  // user acting. Background requests do not keep the session alive (X-Sandgate-Background).
  let refreshing = false;
  async function refresh() {
    if (refreshing || page.busy || !ctx.isCurrent() || document.visibilityState === 'hidden') return;
    if (document.querySelector('dialog[open]')) return; // never redraw under an open dialog
    refreshing = true;
    try {
      const before = JSON.stringify([page.view, page.usage]);
      await load(true);
      if (page.error && page.error.status === 0) page.error = null; // the server is back
      if (ctx.isCurrent() && before !== JSON.stringify([page.view, page.usage])) draw();
    } catch (err) {
      if (err.handled || !ctx.isCurrent()) return;
      if (err.status === 0 && !page.error) {
        page.error = err;
        draw();
      }
    } finally {
      refreshing = false;
    }
  }
  const onVisible = () => {
    if (!ctx.isCurrent()) return cleanup();
    if (document.visibilityState === 'visible') refresh();
  };
  const onFocus = () => (ctx.isCurrent() ? refresh() : cleanup());
  const timer = setInterval(() => (ctx.isCurrent() ? refresh() : cleanup()), REFRESH_MS);
  function cleanup() {
    clearInterval(timer);
    window.removeEventListener('focus', onFocus);
    document.removeEventListener('visibilitychange', onVisible);
  }
  window.addEventListener('focus', onFocus);
  document.addEventListener('visibilitychange', onVisible);

  // Runs an action, then shows the new state without a page reload.
  async function act(fn, done) {
    if (page.busy) return;
    page.busy = true;
    page.error = null;
    try {
      const view = await fn();
      if (view) page.view = view;
      page.revealed = null;
      // The new state is on the page before the message announces it: the usage read below can
      // take a while, and until then the page showed the previous (perhaps revealed) token.
      if (ctx.isCurrent()) draw();
      if (done) toast(done);
      try {
        if (page.view.usage) page.usage = await get('/api/v1/sandbox/usage');
      } catch {
        // the chart keeps its last figures
      }
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
      page.error = null;
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
      // An API failure (the server is down, the token is disabled) says so; only a clipboard
      // failure suggests copying by hand.
      if (err instanceof Error && 'status' in err) {
        page.error = err;
        draw();
      } else {
        toast('The token could not be copied; reveal it and copy it by hand.', 'error');
      }
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

  // The token the dialog is about: its last four characters and its last use.
  function tokenContext() {
    const v = page.view;
    const name = h('code', { 'data-testid': 'dialog-token' }, '…' + v.token.last4);
    const used = v.usage === undefined ? null
      : v.lastUsedOn ? [' It was last used ', timeEl(v.lastUsedOn), '.'] : ' It has not been used yet.';
    return h('p', null, 'Token ', name, ', created ', timeEl(v.token.createdOn), '.', used);
  }

  async function onRegenerate() {
    const ok = await confirmDialog({
      title: 'Regenerate the Sandbox API Token?',
      message: [
        tokenContext(),
        'A new token replaces the current one. The current token stops working immediately: clients using it fail at once until they are given the new token.',
      ],
    });
    if (!ok) return;
    await act(() => put('/api/v1/sandbox/token'), 'A new token was generated; the previous token no longer works.');
  }

  async function onDelete() {
    const ok = await confirmDialog({
      title: 'Delete the Sandbox API Token?',
      message: [
        tokenContext(),
        'The token stops working immediately and cannot be recovered: clients using it fail at once.',
        'You can add a new token afterwards.',
      ],
      danger: true,
    });
    if (!ok) return;
    await act(() => del('/api/v1/sandbox/token'), 'The token was deleted.');
  }

  async function onAdd() {
    await act(() => post('/api/v1/sandbox/token'), 'A new token was added.');
  }

  // Issue 20: the token was reported found in public (a secret scanner). The URL is the scanner's
  // text: shown as text, a link only when it is http(s).
  function leakNotice(r) {
    let link = false;
    try {
      const u = new URL(r.url);
      link = u.protocol === 'https:' || u.protocol === 'http:';
    } catch {
      link = false;
    }
    const where = link
      ? h('a', { class: 'leak-url', href: r.url, rel: 'noopener noreferrer nofollow', target: '_blank', 'data-testid': 'leak-url' }, r.url)
      : h('code', { class: 'leak-url', 'data-testid': 'leak-url' }, r.url || 'an unknown address');
    const revoked = r.action === 'REVOKED';
    return notice(revoked ? 'error' : 'warning', revoked ? 'Your token was found in public and revoked' : 'Your token was found in public',
      h('p', { 'data-testid': 'leak-text' }, `Your token (…${r.tokenLast4}) was found in a public repository at `, where, ' on ', timeEl(r.foundAt),
        revoked
          ? ' and was revoked; add a new one.'
          : ' and was reported; it is still active. Regenerate it so the published one stops working.'));
  }

  function notices() {
    const v = page.view;
    const out = [];
    if (v.disabledByProvider) {
      const auto = v.disabledAutomatically === true;
      const n = page.usage ? page.usage.disableThreshold + 1 : null;
      out.push(notice('error', auto ? 'Disabled automatically' : 'Disabled by your service provider',
        auto
          ? h('p', { 'data-testid': 'disable-text' }, 'The token was disabled automatically after ',
            n !== null ? plural(n, 'over-quota call') : 'too many over-quota calls',
            v.disabledOn ? [' on ', timeEl(v.disabledOn)] : null,
            ' (calls made after the daily quota was used up). Only your service provider can enable it again.')
          : h('p', { 'data-testid': 'disable-text' }, 'Reason: ', h('strong', { class: 'disable-reason' }, label('reason', v.disableReason)),
            v.disabledOn ? [' (since ', timeEl(v.disabledOn), ')'] : null),
        contactLine(v)));
    }
    if (v.statusReason === 'SUBSCRIPTION_EXPIRED') {
      out.push(notice('warning', 'Read-only: the sandbox subscription has expired',
        h('p', null, 'The sandbox subscription has expired',
          v.subscription && v.subscription.endsAt ? [' on ', timeEl(v.subscription.endsAt)] : null,
          '. The token remains valid but is disabled, and it cannot be changed until the subscription is renewed.'),
        contactLine(v, 'Contact your service provider to renew it')));
    } else if (v.statusReason === 'NO_SUBSCRIPTION') {
      out.push(notice('warning', 'No sandbox subscription',
        h('p', null, 'This organization has no sandbox subscription.'), contactLine(v)));
    } else if (v.subscription && v.subscription.state === 'ACTIVE' && v.subscription.endsAt) {
      const left = Math.ceil((new Date(v.subscription.endsAt).getTime() - Date.now()) / DAY_MS);
      if (left <= EXPIRY_WARNING_DAYS) {
        out.push(notice('warning', 'The sandbox subscription ends soon',
          h('p', { 'data-testid': 'expiry-warning' }, 'The subscription ends on ', timeEl(v.subscription.endsAt),
            left > 0 ? ` (in ${plural(left, 'day')})` : '',
            '. After that the token stops working and cannot be changed until it is renewed.'),
          contactLine(v, 'Contact your service provider to renew it')));
      }
    }
    if (v.leakReport) out.push(leakNotice(v.leakReport));
    if (ctx.user.role === 'ORG_READONLY') {
      out.push(notice('info', null, 'You have read-only access to this page; an organization administrator can manage the token.'));
    }
    return out;
  }

  // A failed action: one message. When the page already shows the cause (a provider's disable, an
  // expired subscription) in a notice, the error adds only that the action was not done.
  function errorMessage() {
    const err = page.error;
    if (!err) return null;
    const v = page.view;
    const shown = (err.code === 'TOKEN_DISABLED' && v.disabledByProvider)
      || (err.code === 'SUBSCRIPTION_EXPIRED' && v.statusReason === 'SUBSCRIPTION_EXPIRED')
      || (err.code === 'NO_SUBSCRIPTION' && v.statusReason === 'NO_SUBSCRIPTION');
    if (shown) return h('p', { class: 'muted', role: 'status', 'data-testid': 'not-done' }, 'The action was not done: see the notice above.');
    if (err.status === 0) {
      return notice('error', null, h('p', null, err.message),
        h('p', null, h('button', { type: 'button', class: 'btn btn-small', 'data-focus-key': 'retry', onclick: onRetry }, 'Retry')));
    }
    return errorBox(err);
  }

  async function onRetry() {
    try {
      await load();
      page.error = null;
    } catch (err) {
      if (err.handled || !ctx.isCurrent()) return;
      page.error = err;
      toast(err.message, 'error');
    }
    if (ctx.isCurrent()) draw();
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
    return h('div', { class: 'token-cell' },
      h('div', { class: 'token-field' }, code, controls.length ? h('span', { class: 'btn-group' }, controls) : null),
      h('span', { class: 'token-created muted', 'data-testid': 'token-created' }, 'Created ', timeEl(v.token.createdOn)));
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
    const visible = COLUMNS;
    return h('div', { class: 'table-wrap' },
      h('table', { class: 'data-table token-table', 'aria-label': 'Sandbox API Token' },
        h('thead', null, h('tr', null, visible.map((c) => h('th', { scope: 'col', 'data-col': c.key }, c.title)))),
        h('tbody', null, h('tr', null, visible.map((c) => h('td', { 'data-col': c.key, 'data-label': c.title }, cells[c.key]()))))));
  }

  // Quick start: a copyable curl command with the base URL and a placeholder for the token.
  function quickStart() {
    const cmd = `curl -X POST --data-binary @sample.exe "${page.view.baseUrl}/zscsb/submit?api_token=YOUR_SANDBOX_API_TOKEN"`;
    return h('div', { class: 'quick-start' },
      h('h3', { id: 'quick-start-title' }, 'Quick start'),
      h('p', { class: 'muted' }, 'Submit a file with curl; put your token in place of YOUR_SANDBOX_API_TOKEN.'),
      h('div', { class: 'copy-line' },
        h('code', { class: 'curl-example', 'data-testid': 'curl-example' }, cmd),
        iconButton('copy', 'Copy the curl example', async () => {
          try {
            await copyText(cmd);
            toast('The curl example was copied to the clipboard.');
          } catch {
            toast('The example could not be copied; select it and copy it by hand.', 'error');
          }
        }, { 'data-focus-key': 'copy-curl' })));
  }

  function draw() {
    const v = page.view;
    body.removeAttribute('aria-busy');
    rerender(body, () => {
      append(body, [
        h('p', { class: 'org-line muted' }, 'Organization: ', h('strong', null, v.orgName),
          h('span', { class: 'sub-line', 'data-testid': 'subscription-line' }, ' · Subscription: ', subscriptionText(v.subscription))),
        pageNotice ? notice(pageNotice.kind, null, h('p', { 'data-testid': 'page-notice' }, pageNotice.text)) : null,
        notices(),
        errorMessage(),
        h('section', { class: 'card', 'aria-labelledby': 'token-title' },
          h('div', { class: 'card-head' },
            h('h2', { id: 'token-title', class: 'card-title' }, 'Token'),
            h('div', { class: 'toolbar' },
              !v.token && allowed('ADD')
                ? h('button', { type: 'button', class: 'btn btn-primary', onclick: onAdd, 'data-focus-key': 'add' }, icon('plus'), h('span', null, 'Add Sandbox API Token'))
                : null)),
          table()),
        h('section', { class: 'card', 'aria-labelledby': 'base-url-title' },
          h('h2', { id: 'base-url-title', class: 'card-title' }, 'Submission API base URL'),
          h('div', { class: 'copy-line' },
            h('code', { class: 'base-url', 'data-testid': 'base-url' }, v.baseUrl),
            iconButton('copy', 'Copy Submission API base URL', onCopyBaseUrl, { 'data-focus-key': 'copy-base-url' })),
          quickStart()),
        v.usage ? usageSection(v, page.usage) : null,
        webhooks().el,
        activity.el,
      ]);
    });
    // After Add/Delete the focused button disappears; keep focus on a sensible control.
    if (!body.contains(document.activeElement) && document.activeElement === document.body) {
      const fallback = body.querySelector('[data-focus-key="regenerate"], [data-focus-key="add"], [data-focus-key="reveal"]');
      if (fallback) fallback.focus();
    }
    activity.refresh();
  }

  // Shown once: e.g. "the regenerate was not done" after signing in again.
  const pageNotice = takePageNotice();
  const activity = activitySection(ctx);
  // Webhook settings (issue 20), made on the first draw (after the page's own data loaded).
  let webhookCard = null;
  const webhooks = () => webhookCard || (webhookCard = webhooksSection(ctx, {
    base: '/api/v1/sandbox/webhooks',
    canManage: ctx.user.role === 'ORG_ADMIN',
    max: 5,
    intro: 'Your receivers get a signed HTTPS request when the token or the subscription changes, or the daily quota runs low. Up to 5 endpoints; see the README, "Webhooks", to verify the signature.',
  }));

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
