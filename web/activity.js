// The organization's activity on the token page: its audit log (GET /api/v1/auditLog) in words
// ("acme-admin regenerated the token"), filtered by kind of event, paged with "Show older".
import { get, query } from './api.js';
import { errorBox, h, timeEl } from './dom.js';

const PAGE = 10;

// Filter choices: one audit action each (the API filters by one action), or everything.
const FILTERS = [
  ['', 'All activity'],
  ['TOKEN_ADD', 'Token added'],
  ['TOKEN_REGENERATE', 'Token regenerated'],
  ['TOKEN_DELETE', 'Token deleted'],
  ['TOKEN_REVEAL', 'Token revealed or copied'],
  ['TOKEN_DISABLE', 'Token disabled'],
  ['TOKEN_ENABLE', 'Token enabled'],
  ['TOKEN_LEAKED', 'Token found in public'],
  ['SUBSCRIPTION_ACTIVATE', 'Subscription activated'],
  ['SUBSCRIPTION_RENEW', 'Subscription renewed'],
  ['SUBSCRIPTION_EXPIRE', 'Subscription ended'],
  ['LOGIN', 'Sign-ins'],
];

const VERBS = {
  TOKEN_ADD: 'added the token',
  TOKEN_REGENERATE: 'regenerated the token',
  TOKEN_DELETE: 'deleted the token',
  TOKEN_REVEAL: 'revealed the token',
  TOKEN_PROVISION: 'provisioned a token',
  TOKEN_DISABLE: 'disabled the token',
  TOKEN_ENABLE: 'enabled the token',
  SUBSCRIPTION_ACTIVATE: 'activated the subscription',
  SUBSCRIPTION_RENEW: 'renewed the subscription',
  SUBSCRIPTION_EXPIRE: 'ended the subscription',
  LOGIN: 'signed in',
  LOGOUT: 'signed out',
  USER_CREATE: 'added a user',
  USER_DELETE: 'removed a user',
  USER_ROLE_CHANGE: "changed a user's role",
  USER_PASSWORD_RESET: "reset a user's password",
  ORG_UPDATE: "changed the organization's settings",
  ORG_CREATE: 'created the organization',
  CSRF_CHECK: 'sent a request without a valid CSRF token',
  WEBHOOK_CREATE: 'added a webhook endpoint',
  WEBHOOK_UPDATE: 'edited a webhook endpoint',
  WEBHOOK_DELETE: 'deleted a webhook endpoint',
  WEBHOOK_TEST: 'sent a webhook test event',
  WEBHOOK_SECRET_ROTATE: 'rotated a webhook signing secret',
};

// What a refused attempt tried to do ("acme-viewer tried to reveal the token").
const ATTEMPTS = {
  TOKEN_ADD: 'add the token',
  TOKEN_REGENERATE: 'regenerate the token',
  TOKEN_DELETE: 'delete the token',
  TOKEN_REVEAL: 'reveal the token',
  TOKEN_READ: 'read the token page',
  LOGIN: 'sign in',
  CSRF_CHECK: 'make a change without a valid CSRF token',
  PROVIDER_API: 'use the provider API',
  WEBHOOK_CREATE: 'add a webhook endpoint',
  WEBHOOK_UPDATE: 'edit a webhook endpoint',
  WEBHOOK_DELETE: 'delete a webhook endpoint',
  WEBHOOK_TEST: 'send a webhook test event',
  WEBHOOK_SECRET_ROTATE: 'rotate a webhook signing secret',
};

// One audit record as a sentence.
export function describe(r) {
  const who = r.actor === 'provider' ? 'The service provider' : r.actor || 'Someone';
  if (r.action === 'TOKEN_LEAKED' && r.outcome === 'ALLOWED') {
    // Issue 20: a secret scanner's report ("REVOKED; url ...; source ...").
    const how = /^REVOKED/.test(r.detail) ? 'and revoked it' : 'and reported it (the token stays active)';
    return `${r.actor === 'secret-scanning' ? 'Secret scanning' : who} found the token in public ${how}`;
  }
  if (r.action === 'TOKEN_DISABLE' && r.actor === 'provider' && /threshold|QUOTA_THRESHOLD/i.test(r.detail)) {
    return 'The token was disabled automatically after too many over-quota calls';
  }
  const verb = VERBS[r.action] || r.action.toLowerCase().replace(/_/g, ' ');
  if (r.outcome && r.outcome !== 'ALLOWED') {
    const what = ATTEMPTS[r.action] || r.action.toLowerCase().replace(/_/g, ' ');
    return `${who} tried to ${what} (refused: ${r.outcome.toLowerCase().replace(/_/g, ' ')})`;
  }
  return `${who} ${verb}`;
}

export function activitySection(ctx) {
  const state = { action: '', pages: [], more: false, error: null, loading: false, seq: 0 };
  const list = h('div', { class: 'activity-list', 'aria-live': 'polite' });
  const select = h('select', { id: 'activity-filter', 'data-focus-key': 'activity-filter' },
    FILTERS.map(([v, t]) => h('option', { value: v }, t)));
  const older = h('button', { type: 'button', class: 'btn btn-small', 'data-focus-key': 'activity-older', hidden: true }, 'Show older');
  const newest = h('button', { type: 'button', class: 'btn btn-small', 'data-focus-key': 'activity-newest', hidden: true }, 'Back to the newest');
  const el = h('section', { class: 'card', 'aria-labelledby': 'activity-title', 'data-testid': 'activity' },
    h('div', { class: 'card-head' },
      h('h2', { id: 'activity-title', class: 'card-title' }, 'Activity'),
      h('div', { class: 'field activity-filter' }, h('label', { for: 'activity-filter' }, 'Show'), select)),
    list,
    h('div', { class: 'pager' }, newest, older));

  function paint() {
    list.replaceChildren();
    if (state.error) {
      list.append(errorBox(state.error));
      return;
    }
    const items = state.pages.at(-1) || [];
    if (!items.length) {
      list.append(h('p', { class: 'empty' }, state.loading ? 'Loading…' : 'No activity to show.'));
    } else {
      list.append(h('ol', { class: 'activity', 'aria-label': 'Activity, newest first' },
        items.map((r) => h('li', { class: 'activity-item', 'data-testid': 'activity-item' },
          h('span', { class: 'activity-text' }, describe(r)),
          h('span', { class: 'activity-time muted' }, timeEl(r.time))))));
    }
    older.hidden = !state.more;
    newest.hidden = state.pages.length <= 1;
  }

  async function fetchPage(beforeId) {
    const seq = ++state.seq;
    state.loading = true;
    try {
      const r = await get('/api/v1/auditLog' + query({ limit: PAGE + 1, beforeId, action: state.action }));
      if (seq !== state.seq || !ctx.isCurrent()) return;
      state.error = null;
      state.more = r.items.length > PAGE;
      const items = r.items.slice(0, PAGE);
      if (beforeId === undefined) state.pages = [items];
      else state.pages.push(items);
    } catch (err) {
      if (err.handled || seq !== state.seq) return;
      // The server being down is said once, by the page (with its Retry); the list keeps what it had.
      state.error = err.status === 0 ? null : err;
    } finally {
      if (seq === state.seq) state.loading = false;
    }
    paint();
  }

  select.addEventListener('change', () => {
    state.action = select.value;
    state.pages = [];
    fetchPage(undefined);
  });
  older.addEventListener('click', () => {
    const items = state.pages.at(-1);
    if (items && items.length) fetchPage(items[items.length - 1].id);
  });
  newest.addEventListener('click', () => {
    state.pages = [];
    fetchPage(undefined).then(() => select.focus());
  });
  paint();

  return {
    el,
    // After the token page redraws (an action, a refresh): reload the newest page; older pages
    // being read are left alone.
    refresh() {
      if (state.pages.length <= 1) fetchPage(undefined);
    },
  };
}
