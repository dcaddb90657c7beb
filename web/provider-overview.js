// The provider console's home (/provider): counts that link to the filtered organization list,
// 14 days of usage, the busiest organizations today, the analysis engine's rules.
import { get } from './api.js';
import { append, errorBox, h, label, rerender, timeEl } from './dom.js';
import { orgListHref, REASONS, refusal, tokenStatusText, usageCell } from './provider-common.js';

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
