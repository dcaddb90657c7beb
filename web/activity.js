// The organization's activity on the token page: its audit log (GET /api/v1/auditLog) in words
// ("acme-admin regenerated the token"), filtered by kind of event, paged with "Show older".
import { get, query } from './api.js';
import { actionAttempt, actionDid, activityFilters, loadAuditActions } from './audit-actions.js';
import { errorBox, h, timeEl } from './dom.js';

const PAGE = 10;

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
  const verb = actionDid(r.action);
  if (r.outcome && r.outcome !== 'ALLOWED') {
    const what = actionAttempt(r.action);
    return `${who} tried to ${what} (refused: ${r.outcome.toLowerCase().replace(/_/g, ' ')})`;
  }
  return `${who} ${verb}`;
}

export function activitySection(ctx) {
  const state = { action: '', pages: [], more: false, error: null, loading: false, seq: 0 };
  const list = h('div', { class: 'activity-list', 'aria-live': 'polite' });
  // Filter choices: one audit action each (the API filters by one action), or everything; the
  // actions come with the server's table.
  const select = h('select', { id: 'activity-filter', 'data-focus-key': 'activity-filter' },
    h('option', { value: '' }, 'All activity'));
  loadAuditActions().then(() => {
    if (select.options.length === 1) select.append(...activityFilters().map(([v, t]) => h('option', { value: v }, t)));
  });
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
      const [r] = await Promise.all([
        get('/api/v1/auditLog' + query({ limit: PAGE + 1, beforeId, action: state.action })), loadAuditActions()]);
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
