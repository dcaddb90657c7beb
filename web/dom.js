// Small DOM helpers shared by every page. No framework, no innerHTML with data: every text goes
// through textContent, so nothing the server or a user typed is ever parsed as markup.

// h('button', {class: 'x', onclick: fn, 'aria-label': 'Copy'}, 'text', childNode, [more])
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'value' && 'value' in el) {
      el.value = v;
    } else if (k === 'checked' || k === 'selected' || k === 'disabled' || k === 'hidden') {
      el[k] = Boolean(v);
      if (v) el.setAttribute(k, '');
    } else if (k === 'style') {
      throw new Error('inline styles are not allowed (Content-Security-Policy)');
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// --- Icons: inline SVG built through the DOM (no markup strings, no style attributes).
const ICONS = {
  eye: ['M1 12s4-7 11-7 11 7 11 7-4 7-11 7S1 12 1 12z', 'M12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6z'],
  eyeOff: [
    'M17.9 17.9A10.6 10.6 0 0 1 12 19c-7 0-11-7-11-7a19.8 19.8 0 0 1 5.1-5.9',
    'M9.9 5.2A9.7 9.7 0 0 1 12 5c7 0 11 7 11 7a19.9 19.9 0 0 1-2.2 3.2',
    'M14.1 14.2a3 3 0 1 1-4.2-4.2',
    'M1 1l22 22',
  ],
  copy: ['M9 9h11v11H9z', 'M5 15H4V4h11v1'],
  regenerate: ['M23 4v6h-6', 'M1 20v-6h6', 'M3.5 9a9 9 0 0 1 14.9-3.4L23 10', 'M1 14l4.6 4.4A9 9 0 0 0 20.5 15'],
  trash: ['M3 6h18', 'M8 6V4h8v2', 'M19 6l-1 14H6L5 6', 'M10 11v6', 'M14 11v6'],
  plus: ['M12 5v14', 'M5 12h14'],
  columns: ['M3 4h18v16H3z', 'M9 4v16', 'M15 4v16'],
  signOut: ['M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4', 'M16 17l5-5-5-5', 'M21 12H9'],
  check: ['M20 6L9 17l-5-5'],
};

export function icon(name) {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '18');
  svg.setAttribute('height', '18');
  svg.setAttribute('fill', 'none');
  svg.setAttribute('stroke', 'currentColor');
  svg.setAttribute('stroke-width', '2');
  svg.setAttribute('stroke-linecap', 'round');
  svg.setAttribute('stroke-linejoin', 'round');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'icon');
  for (const d of ICONS[name] || []) {
    const p = document.createElementNS(NS, 'path');
    p.setAttribute('d', d);
    svg.append(p);
  }
  return svg;
}

// An icon-only button: the accessible name is the aria-label (and the tooltip).
export function iconButton(name, label, onclick, attrs = {}) {
  return h('button', { type: 'button', class: 'icon-btn', 'aria-label': label, title: label, onclick, ...attrs }, icon(name));
}

// --- Dates.
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short',
});
const dateFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' });

export function timeEl(iso, dateOnly = false) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h('span', null, iso);
  return h('time', { datetime: iso, title: iso }, dateOnly ? dateFormat.format(d) : dateTimeFormat.format(d));
}

// --- Messages.
// A live region for short confirmations ("Token copied").
export function toast(message, kind = 'ok') {
  const region = document.getElementById('toast');
  if (!region) return;
  clear(region);
  const item = h('div', { class: ['toast-item', kind === 'error' && 'toast-error'] }, message);
  region.append(item);
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => item.remove(), 5000);
}

// An inline error box for a failed API call: the server's sentence, never raw JSON.
export function errorBox(err, extra) {
  const message = err && err.message ? err.message : 'Something went wrong; try again.';
  return h('div', { class: 'notice notice-error', role: 'alert' }, h('p', null, message), extra || null);
}

export function notice(kind, title, ...body) {
  return h('div', { class: ['notice', 'notice-' + kind], role: kind === 'error' ? 'alert' : 'status' },
    title ? h('p', { class: 'notice-title' }, title) : null,
    ...body.map((b) => (typeof b === 'string' ? h('p', null, b) : b)));
}

// --- Clipboard: the asynchronous Clipboard API where available (secure contexts), otherwise the
// selection fallback so plain-HTTP deployments still copy.
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const ta = h('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true' });
  ta.value = text;
  document.body.append(ta);
  ta.select();
  const ok = document.execCommand('copy');
  ta.remove();
  if (!ok) throw new Error('copy failed');
}

// --- Dialogs: native <dialog> with showModal (the rest of the page is inert; Escape closes).
// Tab and Shift+Tab also wrap inside the dialog, so focus never leaves it.
function trapFocus(dialog) {
  dialog.addEventListener('keydown', (e) => {
    if (e.key !== 'Tab') return;
    const items = [...dialog.querySelectorAll('button, [href], input, select, textarea, [tabindex]:not([tabindex="-1"])')]
      .filter((el) => !el.disabled && !el.closest('[hidden]'));
    if (items.length === 0) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  });
}

let dialogSeq = 0;

// Opens a modal dialog. `build(body, close)` fills it. Resolves with the value passed to close()
// (undefined on Escape). Focus returns to the element that had it.
export function openDialog({ title, build, className }) {
  const opener = document.activeElement;
  const id = 'dlg-title-' + ++dialogSeq;
  const body = h('div', { class: 'dialog-body', id: id + '-body' });
  const dialog = h('dialog', { class: ['dialog', className], 'aria-labelledby': id, 'aria-describedby': id + '-body' },
    h('h2', { id, class: 'dialog-title' }, title), body);
  trapFocus(dialog);
  document.body.append(dialog);
  return new Promise((resolve) => {
    let result;
    // The dialog leaves the DOM at once: a closed <dialog> would otherwise keep its content
    // (a password shown once) in the document until the asynchronous 'close' event.
    const close = (value) => {
      result = value;
      if (dialog.open) dialog.close();
      dialog.remove();
    };
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      close(undefined);
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
      else restoreFocusByKey(opener);
      resolve(result);
    });
    build(body, close, dialog);
    dialog.showModal();
    const auto = dialog.querySelector('[autofocus]');
    if (auto) auto.focus();
  });
}

// A confirmation window with Ok and Cancel. Resolves true only for Ok. Cancel (and Escape) is
// focused first so that an accidental Enter changes nothing.
export function confirmDialog({ title, message, ok = 'Ok', danger = false }) {
  return openDialog({
    title,
    className: 'dialog-confirm',
    build(body, close) {
      append(body, [
        (Array.isArray(message) ? message : [message]).map((m) => h('p', null, m)),
        h('div', { class: 'dialog-actions' },
          h('button', { type: 'button', class: ['btn', danger ? 'btn-danger' : 'btn-primary'], 'data-role': 'ok', onclick: () => close(true) }, ok),
          h('button', { type: 'button', class: 'btn', 'data-role': 'cancel', autofocus: true, onclick: () => close(false) }, 'Cancel')),
      ]);
    },
  }).then((v) => v === true);
}

// A secret shown once (a generated password, a webhook signing secret): the intro, the value with
// a Copy button, and Done. `noun` names it in the button and the messages ("password").
export function showOnceDialog({ title, intro, value, noun, testId }) {
  return openDialog({
    title,
    build(body, close) {
      append(body, [
        h('p', null, ...(Array.isArray(intro) ? intro : [intro])),
        h('div', { class: 'copy-line' }, h('code', { class: 'password-once', 'data-testid': testId }, value),
          h('button', { type: 'button', class: 'btn', onclick: async () => {
            try {
              await copyText(value);
              toast(`The ${noun} was copied to the clipboard.`);
            } catch {
              toast(`The ${noun} could not be copied; select it and copy it by hand.`, 'error');
            }
          } }, `Copy ${noun}`)),
        h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn btn-primary', autofocus: true, onclick: () => close(true) }, 'Done')),
      ]);
    },
  });
}

// After a re-render the old element is gone; focus its replacement (same data-focus-key).
export function restoreFocusByKey(el) {
  const key = el && el.dataset ? el.dataset.focusKey : null;
  if (!key) return false;
  const next = document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
  if (next) {
    next.focus();
    return true;
  }
  return false;
}

// Re-renders `container` with `render()` while keeping keyboard focus on the equivalent control.
export function rerender(container, render) {
  const active = document.activeElement;
  const key = active && container.contains(active) && active.dataset ? active.dataset.focusKey : null;
  clear(container);
  render();
  if (key) {
    const next = container.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
    if (next) next.focus();
  }
}

export function debounce(fn, ms) {
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

// "1 second", "3 seconds": a count with its noun, singular for one.
export function plural(n, noun, pluralNoun = noun + 's') {
  return `${n} ${n === 1 ? noun : pluralNoun}`;
}

// Human words for the API's enumerations.
export const LABELS = {
  reason: {
    QUOTA_THRESHOLD: 'Daily quota threshold exceeded',
    TERMS_VIOLATION: 'Terms of service violation',
    OTHER: 'Other',
  },
  subscription: { ACTIVE: 'Active', EXPIRED: 'Expired', NONE: 'No subscription' },
  status: { ENABLED: 'Enabled', DISABLED: 'Disabled' },
  statusReason: {
    PROVIDER: 'by the service provider',
    SUBSCRIPTION_EXPIRED: 'subscription expired',
    NO_SUBSCRIPTION: 'no subscription',
  },
  role: { ORG_ADMIN: 'Administrator', ORG_READONLY: 'Read-only', PROVIDER_ADMIN: 'Provider administrator' },
};

export function label(kind, value) {
  return (LABELS[kind] && LABELS[kind][value]) || value || '—';
}
