// The provider console: organizations (/provider), one organization (/provider/orgs/{id}) and the
// global audit log (/provider/audit). Controls follow the organization's `allowedActions`.
import { del, get, patch, post, query } from './api.js';
import {
  append, clear, confirmDialog, debounce, errorBox, h, label, notice, openDialog, rerender, showOnceDialog, timeEl, toast,
} from './dom.js';

const PAGE_SIZES = [25, 50, 100];
const AUDIT_PAGE = 50;
const ORG_AUDIT_RECENT = 5;
// Audit actions in words (the code stays in the filter's value and the API).
export const ACTION_WORDS = {
  LOGIN: 'Signed in',
  LOGOUT: 'Signed out',
  TOKEN_READ: 'Viewed the token',
  TOKEN_REVEAL: 'Revealed the token',
  TOKEN_ADD: 'Added the token',
  TOKEN_REGENERATE: 'Regenerated the token',
  TOKEN_DELETE: 'Deleted the token',
  TOKEN_PROVISION: 'Provisioned the token',
  TOKEN_DISABLE: 'Disabled the token',
  TOKEN_ENABLE: 'Enabled the token',
  SUBSCRIPTION_ACTIVATE: 'Activated the subscription',
  SUBSCRIPTION_EXPIRE: 'Expired the subscription',
  SUBSCRIPTION_RENEW: 'Renewed the subscription',
  ORG_CREATE: 'Created the organization',
  ORG_UPDATE: 'Changed the settings',
  SETTINGS_UPDATE: 'Changed the provider settings',
  USER_CREATE: 'Created a user',
  USER_ROLE_CHANGE: 'Changed a user\u2019s role',
  USER_PASSWORD_RESET: 'Reset a user\u2019s password',
  USER_DELETE: 'Deleted a user',
  AUDIT_READ: 'Read the audit log',
  PROVIDER_API: 'Used the provider console',
  CSRF_CHECK: 'Failed the request check (CSRF)',
  WEBHOOK_CREATE: 'Added a webhook endpoint',
  WEBHOOK_DELETE: 'Deleted a webhook endpoint',
  WEBHOOK_TEST: 'Sent a webhook test event',
  WEBHOOK_SECRET_ROTATE: 'Rotated a webhook secret',
  WEBHOOK_UPDATE: 'Edited a webhook endpoint',
};
const AUDIT_ACTIONS = Object.keys(ACTION_WORDS);
// "TOKEN_DISABLED" -> "Token disabled" for codes without words of their own.
const codeWords = (code) => {
  const t = String(code || '').toLowerCase().replace(/_/g, ' ');
  return t ? t[0].toUpperCase() + t.slice(1) : '\u2014';
};
const actionWords = (a) => ACTION_WORDS[a] || codeWords(a);

// The organization list's filters (GET /api/v1/provider/orgs?filter=) and sorts.
const FILTERS = [
  ['all', 'All organizations'],
  ['enabled', 'Token enabled'],
  ['disabled', 'Token disabled (any reason)'],
  ['providerDisabled', 'Disabled by the provider'],
  ['expired', 'Subscription expired'],
  ['noSubscription', 'No subscription'],
  ['expiring', 'Subscription ends within 14 days'],
  ['over80', 'Usage today at 80% or more'],
  ['nearThreshold', 'Near the disable threshold today'],
  ['noToken', 'No token'],
];
const SORTS = [
  ['name', 'Name (A\u2013Z)'],
  ['-name', 'Name (Z\u2013A)'],
  ['-usage', 'Usage today (most first)'],
  ['usage', 'Usage today (least first)'],
  ['endsAt', 'Subscription end (soonest first)'],
  ['id', 'Oldest first'],
  ['-id', 'Newest first'],
];
const REASONS = ['QUOTA_THRESHOLD', 'TERMS_VIOLATION', 'OTHER'];
export const orgListHref = (params = {}) => '/provider/orgs' + query(params);

// A page that the API refused (an organization user gets 404 for the whole provider API).
function refusal(ctx, err, what) {
  clear(ctx.main);
  ctx.setTitle('Not available');
  const home = ctx.user.role === 'PROVIDER_ADMIN' ? ['/provider', 'Go to the overview'] : ['/admin/sandbox-api-token', 'Go to the Sandbox API Token page'];
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

// Accepted submissions today against the allowance: text and a bar (amber from 80%, red at 100%).
function usageCell(used, allowed) {
  const pct = allowed > 0 ? Math.min(100, Math.round((used / allowed) * 100)) : (used > 0 ? 100 : 0);
  const level = allowed > 0 && used >= allowed ? 'full' : pct >= 80 ? 'high' : 'ok';
  const fill = h('span', { class: ['usage-fill', 'usage-' + level] });
  fill.style.width = pct + '%'; // CSSOM, allowed by the CSP (no style attribute)
  return h('span', { class: 'usage-cell' },
    h('span', { class: 'usage-text' }, `${used.toLocaleString('en-US')} / ${allowed.toLocaleString('en-US')}`),
    h('span', { class: 'usage-bar', 'aria-hidden': 'true' }, fill),
    h('span', { class: 'visually-hidden' }, ` (${pct}%)`));
}

// uPlot (pinned in tools/openapi, embedded at build time): loaded once, on the first chart.
let uplotLoading = null;
function loadUplot() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  if (!uplotLoading) {
    uplotLoading = new Promise((resolve, reject) => {
      document.head.append(h('link', { rel: 'stylesheet', href: '/static/uPlot.min.css' }));
      const script = h('script', { src: '/static/uPlot.iife.min.js' });
      script.addEventListener('load', () => resolve(window.uPlot));
      script.addEventListener('error', () => { uplotLoading = null; reject(new Error('The chart could not be loaded.')); });
      document.head.append(script);
    });
  }
  return uplotLoading;
}

// 14 days of accepted and refused submissions: a bar chart (hidden from screen readers, which get
// the summary and the table).
function daysChart(days) {
  const total = (k) => days.reduce((n, d) => n + d[k], 0);
  const today = days[days.length - 1] || { accepted: 0, refused: 0 };
  const summary = `Last ${days.length} days: ${total('accepted').toLocaleString('en-US')} accepted, ${total('refused').toLocaleString('en-US')} refused over quota. Today: ${today.accepted.toLocaleString('en-US')} accepted, ${today.refused.toLocaleString('en-US')} refused.`;
  const plot = h('div', { class: 'chart', 'aria-hidden': 'true', 'data-testid': 'days-chart' });
  const table = h('table', { class: 'data-table compact', 'aria-label': 'Submissions per day' },
    h('thead', null, h('tr', null, ['Day (UTC)', 'Accepted', 'Refused (over quota)'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, days.slice().reverse().map((d) => h('tr', null,
      h('td', { 'data-label': 'Day (UTC)' }, d.day), h('td', { 'data-label': 'Accepted' }, String(d.accepted)),
      h('td', { 'data-label': 'Refused (over quota)' }, String(d.refused))))));
  const wrap = h('div', null,
    h('p', { 'data-testid': 'days-summary' }, summary), plot,
    h('details', { class: 'chart-table' }, h('summary', null, 'Show the numbers as a table'), h('div', { class: 'table-wrap' }, table)));
  loadUplot().then((UPlot) => {
    if (!plot.isConnected) return;
    const xs = days.map((d) => Date.parse(d.day + 'T00:00:00Z') / 1000);
    const bars = (align) => UPlot.paths.bars({ size: [0.4, 28], align });
    const width = () => Math.max(200, Math.floor(plot.clientWidth || 300));
    const chart = new UPlot({
      width: width(),
      height: 220,
      tzDate: (ts) => UPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      // Half a day either side, so the first and last days' bars are not cut off.
      scales: { x: { time: true, range: (u, min, max) => [min - 43200, max + 43200] }, y: { range: (u, min, max) => [0, Math.max(5, max)] } },
      axes: [{ values: '{D} {MMM}' }, { size: 48 }],
      series: [
        { label: 'Day' },
        { label: 'Accepted', stroke: '#1a7f37', fill: 'rgba(26, 127, 55, 0.55)', paths: bars(-1), points: { show: false } },
        { label: 'Refused', stroke: '#b42318', fill: 'rgba(180, 35, 24, 0.55)', paths: bars(1), points: { show: false } },
      ],
    }, [xs, days.map((d) => d.accepted), days.map((d) => d.refused)], plot);
    const ro = new ResizeObserver(() => {
      if (!plot.isConnected) {
        ro.disconnect();
        chart.destroy();
        return;
      }
      chart.setSize({ width: width(), height: 220 });
    });
    ro.observe(plot);
  }).catch(() => {
    plot.removeAttribute('aria-hidden');
    plot.append(h('p', { class: 'muted' }, 'The chart could not be loaded; the numbers are in the table below.'));
  });
  return wrap;
}

function statList(items) {
  return h('ul', { class: 'stats' }, items.map(([key, n, text, href, tone]) => h('li', null,
    h('a', { class: ['stat', tone ? 'stat-' + tone : null], href, 'data-testid': 'stat-' + key },
      h('span', { class: 'stat-num' }, n.toLocaleString('en-US')), h('span', { class: 'stat-label' }, text)))));
}

// ------------------------------------------------------------------------------------------------
// The console's home: counts that link to the filtered list, 14 days of usage, the busiest today.
export async function renderOverview(ctx) {
  const { main } = ctx;
  const body = h('div', { class: 'page-body', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading\u2026'));
  main.append(h('h1', { tabindex: '-1' }, 'Overview'), body);
  let r;
  try {
    r = await get('/api/v1/provider/overview');
  } catch (err) {
    if (err.handled || !ctx.isCurrent()) return;
    if (err.status === 404 || err.status === 403) {
      refusal(ctx, err, 'The provider console');
      return;
    }
    body.removeAttribute('aria-busy');
    rerender(body, () => body.append(errorBox(err)));
    return;
  }
  if (!ctx.isCurrent()) return;
  const ts = r.tokenStates;
  const why = r.disabledByReason;
  body.removeAttribute('aria-busy');
  rerender(body, () => append(body, [
    h('p', { class: 'muted' }, `${r.orgs.toLocaleString('en-US')} organization${r.orgs === 1 ? '' : 's'}. `,
      h('a', { href: orgListHref() }, 'See all organizations'), ' · as of ', timeEl(r.asOf)),
    h('div', { class: 'grid-2' },
      h('section', { class: 'card', 'aria-labelledby': 'sec-states' },
        h('h2', { id: 'sec-states', class: 'card-title' }, 'Organizations by token state'),
        statList([
          ['enabled', ts.enabled, 'Enabled', orgListHref({ filter: 'enabled' }), 'ok'],
          ['providerDisabled', ts.disabledByProvider, 'Disabled by the provider', orgListHref({ filter: 'providerDisabled' }), ts.disabledByProvider ? 'bad' : null],
          ['expired', ts.expired, 'Subscription expired', orgListHref({ filter: 'expired' }), ts.expired ? 'warn' : null],
          ['noSubscription', ts.noSubscription, 'No subscription', orgListHref({ filter: 'noSubscription' })],
          ['noToken', r.noToken, 'No token yet', orgListHref({ filter: 'noToken' })],
        ])),
      h('section', { class: 'card', 'aria-labelledby': 'sec-attention' },
        h('h2', { id: 'sec-attention', class: 'card-title' }, 'Needs attention'),
        statList([
          ['nearThreshold', r.nearThresholdToday, 'Near the disable threshold today', orgListHref({ filter: 'nearThreshold', sort: '-usage' }), r.nearThresholdToday ? 'bad' : null],
          ['over80', r.over80Today, 'At 80% or more of the allowance today', orgListHref({ filter: 'over80', sort: '-usage' }), r.over80Today ? 'warn' : null],
          ['expiring', r.expiring, `Subscriptions ending within ${r.expiringWithinDays} days`, orgListHref({ filter: 'expiring', sort: 'endsAt' }), r.expiring ? 'warn' : null],
        ]),
        h('h3', { class: 'sub-title' }, 'Disabled by the provider, by reason'),
        statList(REASONS.map((k) => [`reason-${k}`, why[k], label('reason', k), orgListHref({ filter: 'providerDisabled', reason: k })])))),
    h('section', { class: 'card', 'aria-labelledby': 'sec-days' },
      h('h2', { id: 'sec-days', class: 'card-title' }, 'Submissions and refusals, last 14 days (UTC)'),
      daysChart(r.days)),
    h('section', { class: 'card', 'aria-labelledby': 'sec-top' },
      h('div', { class: 'card-head' },
        h('h2', { id: 'sec-top', class: 'card-title' }, 'Top organizations by usage today'),
        h('a', { href: orgListHref({ sort: '-usage' }) }, 'All by usage')),
      r.top.length === 0 ? h('p', { class: 'empty' }, 'No submissions yet today.')
        : h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', 'aria-label': 'Top organizations by usage today' },
          h('thead', null, h('tr', null, ['Organization', 'Accepted today / allowance', 'Refused over quota', 'Token status'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', null, r.top.map((o) => h('tr', null,
            h('td', { 'data-label': 'Organization' }, h('a', { href: `/provider/orgs/${o.id}` }, o.name)),
            h('td', { 'data-label': 'Accepted today / allowance' }, usageCell(o.usedToday, o.dailyAllowance)),
            h('td', { 'data-label': 'Refused over quota' }, `${o.overQuotaToday} of ${o.disableThreshold} before disabling`),
            h('td', { 'data-label': 'Token status' }, tokenStatusText(o.tokenStatus, o.statusReason)))))))),
    analysisCard(),
  ]));
}

// ------------------------------------------------------------------------------------------------
// Organizations list with debounced search and paging.
export async function renderOrgList(ctx) {
  const { main, search } = ctx;
  const pick = (list, v, dflt) => (list.some(([k]) => k === v) ? v : dflt);
  const st = {
    search: search.get('search') || '',
    filter: pick(FILTERS, search.get('filter'), 'all'),
    reason: REASONS.includes(search.get('reason')) ? search.get('reason') : '',
    sort: pick(SORTS, search.get('sort'), 'name'),
    page: Math.max(1, Number.parseInt(search.get('page') || '1', 10) || 1),
    pageSize: PAGE_SIZES.includes(Number(search.get('pageSize'))) ? Number(search.get('pageSize')) : 25,
    seq: 0,
  };
  const searchInput = h('input', { id: 'org-search', type: 'search', value: st.search, autocomplete: 'off', placeholder: 'Part of the name' });
  const filterSelect = h('select', { id: 'org-filter' }, FILTERS.map(([k, t]) => h('option', { value: k, selected: k === st.filter }, t)));
  const reasonSelect = h('select', { id: 'org-reason' },
    h('option', { value: '', selected: !st.reason }, 'Any reason'),
    REASONS.map((k) => h('option', { value: k, selected: k === st.reason }, label('reason', k))));
  const reasonField = h('div', { class: 'field' }, h('label', { for: 'org-reason' }, 'Disable reason'), reasonSelect);
  const sortSelect = h('select', { id: 'org-sort' }, SORTS.map(([k, t]) => h('option', { value: k, selected: k === st.sort }, t)));
  const sizeSelect = h('select', { id: 'org-page-size' }, PAGE_SIZES.map((n) => h('option', { value: String(n), selected: n === st.pageSize }, String(n))));
  const showReason = () => { reasonField.hidden = filterSelect.value !== 'providerDisabled'; };
  showReason();
  const results = h('div', { class: 'results', 'aria-live': 'polite', 'aria-busy': 'true' });
  const createName = h('input', { id: 'new-org-name', type: 'text', required: true, maxlength: '200', autocomplete: 'off', 'aria-describedby': 'new-org-name-msg' });
  const createMsg = h('p', { id: 'new-org-name-msg', class: 'field-error', 'aria-live': 'polite' });
  const createForm = h('form', { class: 'inline-form', novalidate: true },
    h('div', { class: 'field grow' }, h('label', { for: 'new-org-name' }, 'New organization name'), createName, createMsg),
    h('button', { type: 'submit', class: 'btn' }, 'Create organization'));
  createForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    fieldError(createName, createMsg, null);
    if (!createName.value.trim()) {
      fieldError(createName, createMsg, 'Enter a name for the new organization.');
      createName.focus();
      return;
    }
    try {
      const org = await post('/api/v1/provider/orgs', { name: createName.value.trim() });
      history.pushState(null, '', `/provider/orgs/${org.id}`);
      window.dispatchEvent(new PopStateEvent('popstate'));
      toast(`The organization ${org.name} was created.`);
    } catch (err) {
      if (!err.handled) {
        fieldError(createName, createMsg, err.message);
        createName.focus();
      }
    }
  });

  main.append(
    providerBreadcrumb([['Provider console', '/provider'], ['Organizations', null]]),
    h('h1', { tabindex: '-1' }, 'Organizations'),
    h('div', { class: 'card' },
      h('form', { class: 'filters', role: 'search', novalidate: true, onsubmit: (e) => { e.preventDefault(); st.page = 1; load(); } },
        h('div', { class: 'field grow' }, h('label', { for: 'org-search' }, 'Search organizations'), searchInput),
        h('div', { class: 'field' }, h('label', { for: 'org-filter' }, 'Show'), filterSelect),
        reasonField,
        h('div', { class: 'field' }, h('label', { for: 'org-sort' }, 'Sort by'), sortSelect),
        h('div', { class: 'field field-narrow' }, h('label', { for: 'org-page-size' }, 'Per page'), sizeSelect)),
      results),
    h('details', { class: 'card create-org' }, h('summary', null, 'Create an organization'), createForm));

  const params = () => ({
    search: st.search,
    filter: st.filter !== 'all' ? st.filter : '',
    reason: st.filter === 'providerDisabled' ? st.reason : '',
    sort: st.sort,
  });
  const syncUrl = () => {
    const q = query({ ...params(), sort: st.sort !== 'name' ? st.sort : '', page: st.page > 1 ? st.page : '', pageSize: st.pageSize !== 25 ? st.pageSize : '' });
    history.replaceState(null, '', '/provider/orgs' + q);
  };

  async function load() {
    const seq = ++st.seq;
    st.search = searchInput.value.trim();
    results.setAttribute('aria-busy', 'true');
    let r;
    try {
      r = await get('/api/v1/provider/orgs' + query({ ...params(), page: st.page, pageSize: st.pageSize }));
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
        let text = 'There are no organizations yet.';
        if (st.search) text = `No organization matches \u201c${st.search}\u201d${st.filter !== 'all' ? ' with this filter' : ''}.`;
        else if (st.filter !== 'all') text = 'No organization matches this filter.';
        results.append(h('p', { class: 'empty' }, text));
      } else {
        results.append(h('div', { class: 'table-wrap' },
          h('table', { class: 'data-table', 'aria-label': 'Organizations' },
            h('thead', null, h('tr', null, ['Organization', 'Subscription', 'Token status', 'Usage today', 'Refused over quota today'].map((t) => h('th', { scope: 'col' }, t)))),
            h('tbody', null, r.items.map((o) => h('tr', null,
              h('td', { 'data-label': 'Organization' }, h('span', null, h('a', { href: `/provider/orgs/${o.id}` }, o.name),
                h('span', { class: 'status-reason' }, `ID ${o.id}`))),
              h('td', { 'data-label': 'Subscription' }, subscriptionText(o.subscription, o.endsAt)),
              h('td', { 'data-label': 'Token status' }, o.hasToken ? tokenStatusText(o.tokenStatus, o.statusReason) : h('span', { class: 'muted' }, 'No token')),
              h('td', { 'data-label': 'Usage today' }, usageCell(o.usedToday, o.dailyAllowance)),
              h('td', { 'data-label': 'Refused over quota today' }, `${o.overQuotaToday} / ${o.disableThreshold}`)))))));
      }
      const first = r.total === 0 ? 0 : (r.page - 1) * r.pageSize + 1;
      const last = Math.min(r.total, r.page * r.pageSize);
      results.append(h('nav', { class: 'pager', 'aria-label': 'Pages' },
        h('button', { type: 'button', class: 'btn', disabled: r.page <= 1, 'data-focus-key': 'prev', onclick: () => { st.page -= 1; load(); } }, 'Previous page'),
        h('span', { class: 'pager-info', 'data-testid': 'pager-info' }, `${first}\u2013${last} of ${r.total} \u00b7 page ${r.page} of ${pages}`),
        h('button', { type: 'button', class: 'btn', disabled: r.page >= pages, 'data-focus-key': 'next', onclick: () => { st.page += 1; load(); } }, 'Next page')));
    });
  }

  const debounced = debounce(() => {
    st.page = 1;
    load();
  }, 300);
  searchInput.addEventListener('input', debounced);
  const reload = () => {
    st.filter = filterSelect.value;
    st.reason = reasonSelect.value;
    st.sort = sortSelect.value;
    st.pageSize = Number(sizeSelect.value);
    st.page = 1;
    showReason();
    load();
  };
  for (const sel of [filterSelect, reasonSelect, sortSelect, sizeSelect]) sel.addEventListener('change', reload);
  await load();
}

// Shows (or clears, with null) a message beside a field, tied to it for screen readers.
function fieldError(input, msgEl, message) {
  msgEl.textContent = message || '';
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
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
  const st = { org: null, users: null, usersError: null, audit: [], auditError: null, error: null, busy: false };
  const allowed = (a) => Boolean(st.org && st.org.allowedActions.includes(a));

  const title = h('h1', { tabindex: '-1' }, 'Organization');
  const body = h('div', { class: 'page-body provider-org', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading…'));
  const crumbs = h('div');
  main.append(crumbs, title, body);

  // The few most recent entries; the full, paged log is on the audit page.
  async function loadAudit() {
    try {
      const r = await get('/api/v1/provider/auditLog' + query({ orgId: id, limit: ORG_AUDIT_RECENT }));
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

  // The first day a subscription may end on: tomorrow (UTC), since it ends at 00:00 UTC that day.
  const tomorrowUtc = () => new Date(Date.now() + 86400000).toISOString().slice(0, 10);
  function endDateInput(idSuffix, text) {
    const id = 'ends-' + idSuffix;
    const msg = h('p', { id: id + '-msg', class: 'field-error', 'aria-live': 'polite' });
    const input = h('input', { id, type: 'date', min: tomorrowUtc(), 'aria-describedby': `${id}-hint ${id}-msg` });
    input.addEventListener('input', () => fieldError(input, msg, null));
    // Checks the date where it was typed; returns the ISO time, null for none, or false.
    const check = () => {
      const v = input.value;
      if (!v) {
        if (input.validity && input.validity.badInput) {
          fieldError(input, msg, 'Enter a complete date, or leave the field empty for no end date.');
          input.focus();
          return false;
        }
        return null;
      }
      if (v < tomorrowUtc()) {
        fieldError(input, msg, 'Choose a date after today: the subscription ends at 00:00 UTC on that day.');
        input.focus();
        return false;
      }
      return `${v}T00:00:00Z`;
    };
    const onError = (err) => {
      fieldError(input, msg, err.message);
      input.focus();
    };
    return [{ check, onError }, h('div', { class: 'field' }, h('label', { for: id }, text), input,
      h('p', { id: id + '-hint', class: 'hint' }, 'Optional; the subscription ends at 00:00 UTC on that day. Empty: no end date.'), msg)];
  }

  function subscription() {
    const o = st.org;
    const parts = [h('p', null, 'State: ', subscriptionText(o.subscription.state, o.subscription.endsAt))];
    if (allowed('ACTIVATE')) {
      const [date, field] = endDateInput('activate', 'End date');
      parts.push(h('form', { class: 'inline-form', novalidate: true, onsubmit: (e) => {
        e.preventDefault();
        const endsAt = date.check();
        if (endsAt === false) return;
        act(() => post(`${base}/subscription`, { action: 'activate', endsAt }), 'The subscription was activated.', { onError: date.onError });
      } }, field, h('button', { type: 'submit', class: 'btn btn-primary', 'data-focus-key': 'activate' }, 'Activate subscription')));
    }
    if (allowed('RENEW')) {
      const [date, field] = endDateInput('renew', 'New end date');
      parts.push(h('form', { class: 'inline-form', novalidate: true, onsubmit: (e) => {
        e.preventDefault();
        const endsAt = date.check();
        if (endsAt === false) return;
        act(() => post(`${base}/subscription`, { action: 'renew', endsAt }), 'The subscription was renewed.', { onError: date.onError });
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
    // No "Disable token" without a token: there is nothing to disable.
    if (allowed('DISABLE') && o.token) {
      // No reason is preselected: the provider chooses one (none is assumed against the customer).
      const reason = h('select', { id: 'disable-reason', required: true, 'aria-describedby': 'disable-reason-msg' },
        h('option', { value: '', selected: true }, 'Choose a reason\u2026'),
        REASONS.map((r) => h('option', { value: r }, label('reason', r))));
      const reasonMsg = h('p', { id: 'disable-reason-msg', class: 'field-error', 'aria-live': 'polite' });
      reason.addEventListener('change', () => fieldError(reason, reasonMsg, null));
      const note = h('input', { id: 'disable-note', type: 'text', maxlength: '500', autocomplete: 'off' });
      parts.push(h('form', { class: 'inline-form', novalidate: true, onsubmit: async (e) => {
        e.preventDefault();
        if (!reason.value) {
          fieldError(reason, reasonMsg, 'Choose the reason for disabling the token.');
          reason.focus();
          return;
        }
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
      h('div', { class: 'field field-reason' }, h('label', { for: 'disable-reason' }, 'Reason'), reason, reasonMsg),
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
    const msgs = {};
    // Issue 20: what a report of the token found in public does.
    const policy = o.leakPolicy || 'REVOKE';
    const leakPolicy = h('select', { id: 'set-leakPolicy', name: 'leakPolicy', 'aria-describedby': 'set-leakPolicy-help' },
      h('option', { value: 'REVOKE', selected: policy === 'REVOKE' }, 'Revoke the token'),
      h('option', { value: 'NOTIFY', selected: policy === 'NOTIFY' }, 'Notify only (the token stays active)'));
    const form = h('form', { class: 'settings-form', novalidate: true },
      fields.map(([key, text, type, value]) => {
        const input = h('input', { id: 'set-' + key, name: key, type, value: String(value), required: true, 'aria-describedby': `set-${key}-msg`, ...(type === 'number' ? { min: '0', max: '1000000000', step: '1', inputmode: 'numeric' } : { maxlength: '200' }) });
        const msg = h('p', { id: `set-${key}-msg`, class: 'field-error', 'aria-live': 'polite' });
        input.addEventListener('input', () => fieldError(input, msg, null));
        inputs[key] = input;
        msgs[key] = msg;
        return h('div', { class: 'field' }, h('label', { for: 'set-' + key }, text), input, msg);
      }),
      h('div', { class: 'field' }, h('label', { for: 'set-leakPolicy' }, 'When the token is found in public'), leakPolicy,
        h('p', { id: 'set-leakPolicy-help', class: 'muted' }, 'A secret scanner\'s report (GitHub, or the leak-report API).')),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', 'data-focus-key': 'save-settings' }, 'Save settings')));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const change = {};
      let firstBad = null;
      for (const [key, , type, value] of fields) {
        const raw = inputs[key].value.trim();
        let problem = null;
        if (type === 'number') {
          if (raw === '' && inputs[key].validity && inputs[key].validity.badInput) problem = 'Enter a whole number, 0 or more.';
          else if (raw === '') problem = 'Enter a value.';
          else if (!/^\d+$/.test(raw)) problem = 'Enter a whole number, 0 or more.';
          else if (Number(raw) > 1000000000) problem = 'Enter at most 1,000,000,000.';
          else if (Number(raw) !== value) change[key] = Number(raw);
        } else if (!raw) {
          problem = 'Enter a name.';
        } else if (raw !== value) {
          change[key] = raw;
        }
        fieldError(inputs[key], msgs[key], problem);
        if (problem && !firstBad) firstBad = inputs[key];
      }
      if (firstBad) {
        firstBad.focus();
        return;
      }
      if (leakPolicy.value !== policy) change.leakPolicy = leakPolicy.value;
      if (Object.keys(change).length === 0) {
        toast('Nothing changed.');
        return;
      }
      act(() => patch(base, change), 'The settings were saved.', {
        onError: (err) => {
          // The API names no field: show it beside the first changed one.
          const key = Object.keys(change).find((k) => inputs[k]);
          if (!key) {
            toast(err.message, 'error');
            return;
          }
          fieldError(inputs[key], msgs[key], err.message);
          inputs[key].focus();
        },
      });
    });
    return h('section', { class: 'card', 'aria-labelledby': 'sec-settings' }, h('h2', { id: 'sec-settings', class: 'card-title' }, 'Quota settings'), form);
  }

  function showPassword(username, password) {
    return showOnceDialog({
      title: `Password for ${username}`,
      intro: 'This password is shown once. Copy it now and give it to the user over a secure channel.',
      value: password,
      noun: 'password',
      testId: 'new-password',
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
    const uname = h('input', { id: 'new-user-name', type: 'text', required: true, maxlength: '64', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', 'aria-describedby': 'new-user-name-msg' });
    const unameMsg = h('p', { id: 'new-user-name-msg', class: 'field-error', 'aria-live': 'polite' });
    uname.addEventListener('input', () => fieldError(uname, unameMsg, null));
    const role = h('select', { id: 'new-user-role' }, ['ORG_ADMIN', 'ORG_READONLY'].map((r) => h('option', { value: r }, label('role', r))));
    const form = h('form', { class: 'inline-form', novalidate: true },
      h('div', { class: 'field' }, h('label', { for: 'new-user-name' }, 'Username'), uname, unameMsg),
      h('div', { class: 'field' }, h('label', { for: 'new-user-role' }, 'Role'), role),
      h('button', { type: 'submit', class: 'btn btn-primary', 'data-focus-key': 'create-user' }, 'Create user'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const name = uname.value.trim();
      if (!name) {
        fieldError(uname, unameMsg, 'Enter a username for the new user.');
        uname.focus();
        return;
      }
      const r = await act(() => post(`${base}/users`, { username: name, role: role.value }), `The user ${name} was created.`, {
        onError: (err) => {
          fieldError(uname, unameMsg, err.message);
          uname.focus();
        },
      });
      if (r && r.password) await showPassword(r.username, r.password);
    });
    return h('section', { class: 'card', 'aria-labelledby': 'sec-users' },
      h('h2', { id: 'sec-users', class: 'card-title' }, 'Users'), parts, h('h3', { class: 'sub-title' }, 'Create a user'), form);
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
function roleWords(role) {
  if (!role) return '';
  if (role === 'SYSTEM') return 'System';
  return label('role', role);
}

function outcomeCell(outcome) {
  if (outcome === 'ALLOWED') return h('span', { class: 'badge badge-on' }, 'Done');
  return h('span', { class: 'badge badge-off' }, 'Refused: ' + codeWords(outcome).toLowerCase());
}

function auditTable(items, { showOrg = true } = {}) {
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
      h('td', { 'data-label': 'What', title: r.action }, actionWords(r.action)),
      h('td', { 'data-label': 'Outcome' }, outcomeCell(r.outcome)),
      h('td', { 'data-label': 'Details', class: 'detail' }, [r.detail, r.tokenFingerprint ? `token \u2026${r.tokenFingerprint}` : '', r.clientAddress ? `from ${r.clientAddress}` : ''].filter(Boolean).join(' \u00b7 ') || '\u2014'))))));
}

// The global audit log with filters, in pages of AUDIT_PAGE entries (newest first; keyset paging by
// id, so a page holds however long the log grows).
export async function renderAuditPage(ctx) {
  const { main, search } = ctx;
  // cursors: the beforeId of each page shown so far (page 1 has none).
  const st = { items: [], more: false, cursors: [''], seq: 0 };
  const toLocalInput = (iso) => (iso && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(iso) ? iso.slice(0, 16) : '');
  const initialAction = search.get('action') || '';
  const fields = {
    orgId: h('input', { id: 'f-org', type: 'text', inputmode: 'numeric', pattern: '[0-9]*', value: search.get('orgId') || '', autocomplete: 'off', 'aria-describedby': 'f-org-msg' }),
    actor: h('input', { id: 'f-actor', type: 'text', value: search.get('actor') || '', autocomplete: 'off' }),
    action: h('select', { id: 'f-action' }, h('option', { value: '' }, 'Any action'),
      AUDIT_ACTIONS.concat(AUDIT_ACTIONS.includes(initialAction) || !initialAction ? [] : [initialAction])
        .map((a) => h('option', { value: a, selected: a === initialAction }, actionWords(a)))),
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
