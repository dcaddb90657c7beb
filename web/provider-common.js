// What the provider console's pages share: refusals, the breadcrumb, status and usage cells, field
// messages, and the disable reasons.
import { query } from './api.js';
import { clear, h, label, notice, timeEl } from './dom.js';

export const REASONS = ['QUOTA_THRESHOLD', 'TERMS_VIOLATION', 'OTHER'];
export const orgListHref = (params = {}) => '/provider/orgs' + query(params);

// A page that the API refused (an organization user gets 404 for the whole provider API).
export function refusal(ctx, err, what) {
  clear(ctx.main);
  ctx.setTitle('Not available');
  const home = ctx.user.role === 'PROVIDER_ADMIN' ? ['/provider', 'Go to the overview'] : ['/admin/sandbox-api-token', 'Go to the Sandbox API Token page'];
  const title = err.status === 404 ? 'Not available' : 'Something went wrong';
  ctx.main.append(
    h('h1', { tabindex: '-1' }, title),
    notice('error', err.status === 404 ? `${what} is not available to your account, or it does not exist.` : null,
      h('p', null, err.message), h('p', null, h('a', { href: home[0] }, home[1]))));
}

export function subscriptionText(state, endsAt) {
  return h('span', { class: 'sub-cell' },
    h('span', { class: ['badge', state === 'ACTIVE' ? 'badge-on' : state === 'EXPIRED' ? 'badge-warn' : 'badge-neutral'] }, label('subscription', state)),
    endsAt ? h('span', { class: 'status-reason' }, state === 'ACTIVE' ? 'until ' : 'ended ', timeEl(endsAt, true)) : null);
}

export function tokenStatusText(status, reason) {
  return h('span', { class: 'status-cell' },
    h('span', { class: ['badge', status === 'DISABLED' ? 'badge-off' : 'badge-on'] }, label('status', status)),
    status === 'DISABLED' && reason ? h('span', { class: 'status-reason' }, label('statusReason', reason)) : null);
}

export function providerBreadcrumb(items) {
  return h('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' },
    h('ol', null, items.map(([text, href], i) => h('li', null,
      i === items.length - 1 ? h('span', { 'aria-current': 'page' }, text) : h('a', { href }, text)))));
}

// Accepted submissions today against the allowance: text and a bar (amber from 80%, red at 100%).
export function usageCell(used, allowed) {
  const pct = allowed > 0 ? Math.min(100, Math.round((used / allowed) * 100)) : (used > 0 ? 100 : 0);
  const level = allowed > 0 && used >= allowed ? 'full' : pct >= 80 ? 'high' : 'ok';
  const fill = h('span', { class: ['usage-fill', 'usage-' + level] });
  fill.style.width = pct + '%'; // CSSOM, allowed by the CSP (no style attribute)
  return h('span', { class: 'usage-cell' },
    h('span', { class: 'usage-text' }, `${used.toLocaleString('en-US')} / ${allowed.toLocaleString('en-US')}`),
    h('span', { class: 'usage-bar', 'aria-hidden': 'true' }, fill),
    h('span', { class: 'visually-hidden' }, ` (${pct}%)`));
}

// Shows (or clears, with null) a message beside a field, tied to it for screen readers.
export function fieldError(input, msgEl, message) {
  msgEl.textContent = message || '';
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}
