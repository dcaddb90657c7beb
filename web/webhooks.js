// Webhook settings (issue 20): an organization's endpoints on its token page
// (/api/v1/sandbox/webhooks) and the provider-wide ones in the provider console
// (/provider/webhooks, /api/v1/provider/webhooks). Administrators add, edit and delete endpoints,
// rotate their signing secret (shown once, like a generated password), send a test event and read
// each endpoint's recent deliveries; read-only users see the same without the controls.
import { del, get, patch, post } from './api.js';
import {
  append, confirmDialog, errorBox, h, icon, notice, openDialog, plural, showOnceDialog, timeEl, toast,
} from './dom.js';

// docs/openapi.yaml, WebhookEventType, in its order.
const EVENTS = [
  ['token.added', 'Token added'],
  ['token.regenerated', 'Token regenerated'],
  ['token.deleted', 'Token deleted'],
  ['token.revealed', 'Token revealed or copied (opt-in)'],
  ['token.disabled', 'Token disabled'],
  ['token.enabled', 'Token enabled'],
  ['token.leaked', 'Token found in a public repository'],
  ['quota.warning', '80% of the daily allowance used'],
  ['quota.exhausted', 'Daily allowance used up'],
  ['quota.threshold_near', 'Half of the over-quota threshold reached'],
  ['subscription.expiring', 'Subscription ends in 14, 3 or 1 days'],
  ['subscription.expired', 'Subscription expired'],
  ['subscription.renewed', 'Subscription renewed'],
];
const DEFAULT_OFF = new Set(['token.revealed']);
const URL_CODES = new Set(['WEBHOOK_URL_INVALID', 'WEBHOOK_URL_FORBIDDEN', 'WEBHOOK_URL_UNRESOLVED']);
const POLL_MS = 1000;
const POLLS = 30; // after "Send test event": look for the outcome at most this many times

function fieldError(input, msgEl, message) {
  msgEl.textContent = message || '';
  if (!input) return;
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

// The add / edit form in a dialog. Resolves with the API's answer (the endpoint; with its secret
// when created) or undefined when cancelled. The server's refusals are shown at their field.
function endpointForm(base, existing) {
  const n = existing ? existing.id : 'new';
  return openDialog({
    title: existing ? 'Edit webhook endpoint' : 'Add a webhook endpoint',
    className: 'dialog-wide',
    build(body, close) {
      const url = h('input', { id: `wh-url-${n}`, type: 'text', inputmode: 'url', autocomplete: 'off', spellcheck: 'false', maxlength: '2000', autofocus: true, value: existing ? existing.url : '', placeholder: 'https://hooks.example.com/sandgate', 'aria-describedby': `wh-url-msg-${n} wh-url-hint-${n}` });
      const urlMsg = h('p', { id: `wh-url-msg-${n}`, class: 'field-error', 'aria-live': 'polite', 'data-testid': 'webhook-url-error' });
      const desc = h('input', { id: `wh-desc-${n}`, type: 'text', maxlength: '200', autocomplete: 'off', value: existing ? existing.description : '', 'aria-describedby': `wh-desc-msg-${n}` });
      const descMsg = h('p', { id: `wh-desc-msg-${n}`, class: 'field-error', 'aria-live': 'polite' });
      const chosen = existing ? new Set(existing.events) : null;
      const boxes = EVENTS.map(([ev, words], i) => h('input', { id: `wh-ev-${n}-${i}`, type: 'checkbox', value: ev, checked: chosen ? chosen.has(ev) : !DEFAULT_OFF.has(ev) }));
      const evMsg = h('p', { id: `wh-ev-msg-${n}`, class: 'field-error', 'aria-live': 'polite' });
      const general = h('div', { 'aria-live': 'polite' });
      const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, existing ? 'Save' : 'Add endpoint');
      const form = h('form', { class: 'webhook-form', novalidate: true },
        h('div', { class: 'field' }, h('label', { for: url.id }, 'Receiver URL'), url,
          h('p', { id: `wh-url-hint-${n}`, class: 'hint' }, 'https (or http) on a public address; requests are POSTed with a signature.'), urlMsg),
        h('div', { class: 'field' }, h('label', { for: desc.id }, 'Description (optional)'), desc, descMsg),
        h('fieldset', { class: 'webhook-events', 'aria-describedby': evMsg.id },
          h('legend', null, 'Events'),
          h('div', { class: 'event-grid' }, EVENTS.map(([ev, words], i) => h('div', { class: 'check' }, boxes[i],
            h('label', { for: boxes[i].id }, h('code', null, ev), h('span', { class: 'event-words' }, words))))),
          evMsg),
        general,
        h('div', { class: 'dialog-actions' },
          submit,
          h('button', { type: 'button', class: 'btn', onclick: () => close(undefined) }, 'Cancel')));
      url.addEventListener('input', () => fieldError(url, urlMsg, null));
      desc.addEventListener('input', () => fieldError(desc, descMsg, null));
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        fieldError(url, urlMsg, null);
        fieldError(desc, descMsg, null);
        fieldError(null, evMsg, null);
        general.replaceChildren();
        const events = boxes.filter((b) => b.checked).map((b) => b.value);
        if (!url.value.trim()) {
          fieldError(url, urlMsg, 'Enter the URL of your receiver.');
          url.focus();
          return;
        }
        if (!events.length) {
          fieldError(null, evMsg, 'Choose at least one event.');
          boxes[0].focus();
          return;
        }
        const input = { url: url.value.trim(), events, description: desc.value.trim() };
        submit.disabled = true;
        try {
          const r = existing ? await patch(`${base}/${existing.id}`, input) : await post(base, input);
          close(r);
        } catch (err) {
          if (err.handled) return close(undefined);
          if (URL_CODES.has(err.code)) {
            fieldError(url, urlMsg, err.message);
            url.focus();
          } else if (err.code === 'INVALID_DESCRIPTION') {
            fieldError(desc, descMsg, err.message);
            desc.focus();
          } else if (err.code === 'INVALID_EVENTS') {
            fieldError(null, evMsg, err.message);
            boxes[0].focus();
          } else {
            general.replaceChildren(errorBox(err));
          }
        } finally {
          submit.disabled = false;
        }
      });
      append(body, [form]);
    },
  });
}

// The signing secret, shown once (the same pattern as a generated password).
function showSecret(endpoint, secret) {
  return showOnceDialog({
    title: 'Signing secret',
    intro: ['This secret is shown once. Copy it now and keep it with your receiver: it verifies the ',
      h('code', null, 'webhook-signature'), ' header of every request to ', h('code', { class: 'wrap-anywhere' }, endpoint.url), '.'],
    value: secret,
    noun: 'secret',
    testId: 'webhook-secret',
  });
}

function deliveryStatus(d) {
  const code = d.lastStatus !== null ? h('span', { class: 'status-code', 'data-testid': 'delivery-status-code' }, `HTTP ${d.lastStatus}`) : null;
  const badge = d.state === 'delivered' ? h('span', { class: 'badge badge-on' }, 'Delivered')
    : d.state === 'failed' ? h('span', { class: 'badge badge-off' }, 'Failed')
      : h('span', { class: 'badge badge-warn' }, d.attempts ? 'Retrying' : 'Pending');
  const why = d.state !== 'delivered' && d.lastError ? h('span', { class: 'status-reason' }, d.lastError) : null;
  return h('span', { class: 'status-cell' }, badge, code, why);
}

function deliveriesTable(items) {
  if (!items.length) return h('p', { class: 'empty' }, 'No deliveries yet.');
  const cols = ['Time', 'Event', 'Status', 'Latency', 'Attempts', 'Next retry'];
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data-table deliveries-table', 'aria-label': 'Recent deliveries, newest first' },
    h('thead', null, h('tr', null, cols.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', null, items.map((d) => h('tr', { 'data-testid': 'delivery-row', 'data-state': d.state, 'data-event': d.event },
      h('td', { 'data-label': 'Time' }, timeEl(d.createdAt)),
      h('td', { 'data-label': 'Event' }, h('code', null, d.event)),
      h('td', { 'data-label': 'Status' }, deliveryStatus(d)),
      h('td', { 'data-label': 'Latency' }, d.latencyMs === null ? h('span', { class: 'muted' }, '—') : `${d.latencyMs} ms`),
      h('td', { 'data-label': 'Attempts' }, String(d.attempts)),
      h('td', { 'data-label': 'Next retry' }, d.state === 'pending' && d.attempts ? timeEl(d.nextAttemptAt) : h('span', { class: 'muted' }, '—')))))));
}

// The webhook endpoints as a card: `base` is the API collection, `canManage` shows the controls,
// `max` the number of endpoints allowed. Returns { el, refresh }.
export function webhooksSection(ctx, { base, canManage, max, intro }) {
  const st = { items: null, error: null, open: new Set(), deliveries: new Map(), busy: false };
  const list = h('div', { class: 'webhook-list', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  const addBtn = h('button', { type: 'button', class: 'btn btn-primary', 'data-focus-key': 'wh-add', onclick: onAdd }, icon('plus'), h('span', null, 'Add endpoint'));
  const el = h('section', { class: 'card', 'aria-labelledby': 'webhooks-title', 'data-testid': 'webhooks' },
    h('div', { class: 'card-head' },
      h('h2', { id: 'webhooks-title', class: 'card-title' }, 'Webhooks'),
      canManage ? h('div', { class: 'toolbar' }, addBtn) : null),
    h('p', { class: 'muted' }, intro),
    list);

  async function load() {
    try {
      const r = await get(base, { background: true });
      st.items = r.items;
      st.error = null;
    } catch (err) {
      if (err.handled) return;
      st.error = err;
    }
    if (ctx.isCurrent()) paint();
  }

  async function loadDeliveries(id) {
    try {
      const r = await get(`${base}/${id}/deliveries`, { background: true });
      st.deliveries.set(id, r.items);
    } catch (err) {
      if (err.handled) return;
      st.deliveries.set(id, err);
    }
    if (ctx.isCurrent()) paint();
  }

  function focusKey(key) {
    const next = el.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
    if (next) next.focus();
  }

  async function onAdd() {
    const r = await endpointForm(base, null);
    if (!r) return;
    const { secret, ...endpoint } = r;
    await showSecret(endpoint, secret);
    toast('The webhook endpoint was added.');
    await load();
    focusKey(`wh-test-${endpoint.id}`);
  }

  async function onEdit(e) {
    const r = await endpointForm(base, e);
    if (!r) return;
    toast('The webhook endpoint was saved.');
    await load();
    focusKey(`wh-edit-${e.id}`);
  }

  async function onDelete(e) {
    const ok = await confirmDialog({
      title: 'Delete this webhook endpoint?',
      message: [h('code', { class: 'wrap-anywhere' }, e.url), 'It stops receiving events at once; events not yet delivered to it are dropped.'],
      ok: 'Delete',
      danger: true,
    });
    if (!ok) return;
    await act(async () => {
      await del(`${base}/${e.id}`);
      st.open.delete(e.id);
      st.deliveries.delete(e.id);
      toast('The webhook endpoint was deleted.');
    });
    focusKey('wh-add');
  }

  async function onRotate(e) {
    const ok = await confirmDialog({
      title: 'Rotate the signing secret?',
      message: ['A new secret replaces the current one. For 24 hours every request is signed with both, so your receiver can switch over without missing an event.'],
      ok: 'Rotate',
    });
    if (!ok) return;
    let r = null;
    await act(async () => {
      r = await post(`${base}/${e.id}/secret`, {});
    });
    if (r) await showSecret(r, r.secret);
  }

  async function onTest(e) {
    await act(async () => {
      await post(`${base}/${e.id}/test`, {});
      toast('A test event was queued.');
      st.open.add(e.id);
    });
    // Show its outcome as it comes (bounded: POLLS looks, one a second).
    for (let i = 0; i < POLLS && ctx.isCurrent() && el.isConnected; i++) {
      await loadDeliveries(e.id);
      const items = st.deliveries.get(e.id);
      if (!Array.isArray(items) || !items.length || items[0].state !== 'pending' || items[0].attempts > 0) break;
      await new Promise((res) => setTimeout(res, POLL_MS));
    }
  }

  function toggle(e) {
    if (st.open.has(e.id)) {
      st.open.delete(e.id);
      paint();
    } else {
      st.open.add(e.id);
      paint();
      loadDeliveries(e.id);
    }
  }

  async function act(fn) {
    if (st.busy) return;
    st.busy = true;
    st.error = null;
    try {
      await fn();
    } catch (err) {
      if (!err.handled) {
        st.error = err;
        toast(err.message, 'error');
      }
    } finally {
      st.busy = false;
    }
    await load();
  }

  function endpointCard(e) {
    const open = st.open.has(e.id);
    const dl = st.deliveries.get(e.id);
    const panelId = `wh-deliveries-${e.id}`;
    const controls = [
      h('button', { type: 'button', class: 'btn btn-small', 'aria-expanded': open ? 'true' : 'false', 'aria-controls': panelId, 'data-focus-key': `wh-deliveries-${e.id}`, onclick: () => toggle(e) }, open ? 'Hide deliveries' : 'Show deliveries'),
    ];
    if (canManage) {
      controls.push(
        h('button', { type: 'button', class: 'btn btn-small', 'data-focus-key': `wh-test-${e.id}`, onclick: () => onTest(e) }, 'Send test event'),
        h('button', { type: 'button', class: 'btn btn-small', 'data-focus-key': `wh-edit-${e.id}`, onclick: () => onEdit(e) }, 'Edit'),
        h('button', { type: 'button', class: 'btn btn-small', 'data-focus-key': `wh-rotate-${e.id}`, onclick: () => onRotate(e) }, 'Rotate secret'),
        h('button', { type: 'button', class: 'btn btn-small btn-danger', 'data-focus-key': `wh-delete-${e.id}`, onclick: () => onDelete(e) }, 'Delete'));
    }
    return h('article', { class: 'webhook', 'data-testid': 'webhook-endpoint', 'data-id': String(e.id), 'aria-label': `Webhook endpoint ${e.url}` },
      h('div', { class: 'webhook-head' },
        h('code', { class: 'webhook-url', 'data-testid': 'webhook-url' }, e.url),
        e.failing
          ? h('span', { class: 'badge badge-off', 'data-testid': 'webhook-state' }, 'Failing')
          : h('span', { class: 'badge badge-on', 'data-testid': 'webhook-state' }, 'Active')),
      e.description ? h('p', { class: 'webhook-desc' }, e.description) : null,
      e.failing ? notice('error', null, h('p', null, 'Deliveries to this endpoint have failed for 24 hours',
        e.failingSince ? [' (since ', timeEl(e.failingSince), ')'] : null, '. They resume, and this clears, when it answers with a 2xx status again.')) : null,
      h('p', { class: 'webhook-events-line' }, h('span', { class: 'muted' }, plural(e.events.length, 'event') + ': '),
        e.events.map((ev, i) => [i ? ', ' : '', h('code', null, ev)])),
      h('div', { class: 'btn-row' }, controls),
      open ? h('div', { id: panelId, class: 'webhook-deliveries', 'data-testid': 'webhook-deliveries' },
        h('div', { class: 'card-head' }, h('h3', { class: 'card-title' }, 'Recent deliveries'),
          h('button', { type: 'button', class: 'btn btn-small', 'data-focus-key': `wh-reload-${e.id}`, onclick: () => loadDeliveries(e.id) }, 'Refresh')),
        dl === undefined ? h('p', { class: 'muted' }, 'Loading…') : dl instanceof Error ? errorBox(dl) : deliveriesTable(dl)) : null);
  }

  function paint() {
    const active = document.activeElement;
    const key = active && el.contains(active) && active.dataset ? active.dataset.focusKey : null;
    list.replaceChildren();
    if (st.error && !st.items) {
      list.append(errorBox(st.error));
    } else if (st.items) {
      if (!st.items.length) list.append(h('p', { class: 'empty', 'data-testid': 'no-webhooks' }, 'No webhook endpoints.'));
      else list.append(...st.items.map(endpointCard));
    }
    if (canManage) {
      const full = st.items && st.items.length >= max;
      addBtn.disabled = Boolean(full);
      addBtn.title = full ? `At most ${max} endpoints: delete one first.` : '';
    }
    if (key) focusKey(key);
  }

  load();
  return { el, refresh: load };
}

// The provider console's page (/provider/webhooks): provider-wide endpoints.
export async function renderWebhooksPage(ctx) {
  const { main } = ctx;
  main.append(
    h('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' },
      h('ol', null, h('li', null, h('a', { href: '/provider' }, 'Provider console')), h('li', null, h('span', { 'aria-current': 'page' }, 'Webhooks')))),
    h('h1', { tabindex: '-1' }, 'Webhooks'));
  const section = webhooksSection(ctx, {
    base: '/api/v1/provider/webhooks',
    canManage: ctx.user.role === 'PROVIDER_ADMIN',
    max: 20,
    intro: 'Provider-wide endpoints receive the events of every organization (each organization can add its own on its token page). Requests are signed per Standard Webhooks; see the README, "Webhooks".',
  });
  main.append(section.el);
}
