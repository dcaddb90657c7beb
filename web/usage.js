// The token page's usage card: today's meter (amber from 80%, red at 100%), when the quota
// resets, today's refusals by kind, how close the token is to the automatic disable, and 30 days
// of accepted and refused calls against the allowance as a chart (uPlot, bundled at build time)
// with a table for screen readers and keyboards.
import { h, plural, timeEl } from './dom.js';

let uplotModule = null; // loaded once, on first use (the chart is not needed to use the page)

async function loadUplot() {
  if (!uplotModule) {
    uplotModule = import('/static/uplot.esm.js').then((m) => m.default);
    if (!document.querySelector('link[data-uplot]')) {
      document.head.append(h('link', { rel: 'stylesheet', href: '/static/uplot.min.css', 'data-uplot': '' }));
    }
  }
  return uplotModule;
}

export function usageLevel(used, allowed) {
  if (allowed <= 0 || used >= allowed) return 'full';
  return used / allowed >= 0.8 ? 'high' : 'ok';
}

function resetText(u) {
  const secs = Math.max(0, u.resetsInSeconds ?? 0);
  const hours = Math.floor(secs / 3600);
  const mins = Math.ceil((secs % 3600) / 60);
  const inText = hours > 0 ? `${plural(hours, 'hour')}${mins && hours < 6 ? ' ' + plural(mins, 'minute') : ''}` : plural(Math.max(1, mins), 'minute');
  return `Resets at 00:00 UTC, in ${inText}.`;
}

function dayLabel(date) {
  return new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' }).format(new Date(date + 'T00:00:00Z'));
}

function drawChart(holder, u) {
  loadUplot().then((uPlot) => {
    if (!holder.isConnected) return;
    const xs = u.days.map((d) => Date.parse(d.date + 'T00:00:00Z') / 1000);
    const width = Math.max(240, Math.min(holder.clientWidth || 600, 1000));
    // Accepted and refused side by side in each day's slot.
    const left = uPlot.paths.bars({ size: [0.4, 18], align: -1 });
    const right = uPlot.paths.bars({ size: [0.4, 18], align: 1 });
    const css = getComputedStyle(document.documentElement);
    const color = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
    holder.replaceChildren();
    // eslint-disable-next-line no-new
    new uPlot({
      width,
      height: 220,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true, range: (self, min, max) => [min - 43200, max + 43200] }, y: { range: (self, min, max) => [0, Math.max(max, u.allowed) * 1.1 || 1] } },
      axes: [{ space: 60 }, { size: 50 }],
      series: [
        {},
        { label: 'Accepted', fill: color('--primary', '#1f4e8c'), stroke: color('--primary', '#1f4e8c'), paths: left, points: { show: false } },
        { label: 'Refused', fill: color('--danger', '#b42318'), stroke: color('--danger', '#b42318'), paths: right, points: { show: false } },
        { label: 'Daily allowance', stroke: color('--warn', '#8a5a00'), width: 2, dash: [6, 4], points: { show: false } },
      ],
    }, [xs, u.days.map((d) => d.accepted), u.days.map((d) => d.refused), u.days.map(() => u.allowed)], holder);
  }).catch(() => {
    holder.replaceChildren(h('p', { class: 'muted' }, 'The chart could not be drawn; the table below has the figures.'));
  });
}

export function usageSection(v, u) {
  const used = v.usage.used;
  const allowed = v.usage.allowed;
  const level = usageLevel(used, allowed);
  const pct = allowed > 0 ? Math.min(100, Math.round((used / allowed) * 100)) : 100;
  const items = [
    h('div', { class: 'kv' }, h('span', { class: 'kv-k' }, "Today's usage"),
      h('span', { class: 'kv-v', 'data-testid': 'usage' }, `${used} / ${allowed} submissions`),
      h('meter', {
        class: 'usage-meter', 'data-level': level, 'data-testid': 'usage-meter', min: '0', max: String(Math.max(1, allowed)),
        value: String(Math.min(used, Math.max(1, allowed))), 'aria-label': "Today's usage", 'aria-valuetext': `${pct}% of the daily allowance`,
      }),
      level !== 'ok' ? h('span', { class: ['usage-level', 'usage-level-' + level] }, level === 'full' ? 'Quota used up' : `${pct}% used`) : null),
    h('div', { class: 'kv' }, h('span', { class: 'kv-k' }, 'Last use'),
      h('span', { class: 'kv-v' }, v.lastUsedOn ? timeEl(v.lastUsedOn) : 'Not used yet')),
  ];
  if (u) {
    items.push(h('p', { class: 'usage-reset', 'data-testid': 'usage-reset' }, resetText(u)));
    const r = u.refusedToday;
    items.push(h('p', { 'data-testid': 'refusals-today' }, r.quota + r.rate === 0 ? 'No calls refused today.'
      : ['Refused today: ', plural(r.quota, 'call'), ' over the daily quota, ', plural(r.rate, 'call'), ' over the rate limit (per second or per hour).']));
    if (!v.disabledByProvider) {
      const n = u.overQuotaCallsBeforeDisable;
      items.push(h('p', { class: ['threshold-line', level !== 'ok' && 'threshold-near'], 'data-testid': 'threshold' },
        level === 'full' || r.quota > 0
          ? `${plural(n, 'more over-quota call')} ${n === 1 ? 'disables' : 'will disable'} the token today.`
          : `Once the daily quota is used up, ${plural(n, 'more over-quota call')} in the same day ${n === 1 ? 'disables' : 'will disable'} the token.`));
    }
    const total = u.days.reduce((a, d) => a + d.accepted, 0);
    const refused = u.days.reduce((a, d) => a + d.refused, 0);
    const holder = h('div', { class: 'usage-chart', 'aria-hidden': 'true', 'data-testid': 'usage-chart' });
    items.push(
      h('h3', { id: 'usage-history-title' }, 'Last 30 days'),
      h('p', { 'data-testid': 'usage-summary' }, `${plural(total, 'submission')} accepted and ${plural(refused, 'call')} refused in the last 30 days; the daily allowance is ${allowed}.`),
      holder,
      h('details', { class: 'usage-table' },
        h('summary', null, 'Show the figures as a table'),
        h('div', { class: 'table-scroll' },
          h('table', { class: 'plain-table', 'aria-labelledby': 'usage-history-title' },
            h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Day (UTC)'), h('th', { scope: 'col' }, 'Accepted'), h('th', { scope: 'col' }, 'Refused'))),
            h('tbody', null, [...u.days].reverse().map((d) => h('tr', null,
              h('th', { scope: 'row' }, dayLabel(d.date)), h('td', null, String(d.accepted)), h('td', null, String(d.refused)))))))));
    queueMicrotask(() => drawChart(holder, u));
  }
  return h('section', { class: 'card', 'aria-labelledby': 'usage-title' },
    h('h2', { id: 'usage-title', class: 'card-title' }, 'Usage'), items);
}
