// The organization page's Subscription section: activate, renew (with an end date), expire.
import { post } from './api.js';
import { confirmDialog, h } from './dom.js';
import { fieldError, subscriptionText } from './provider-common.js';

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

export function subscriptionSection(page) {
  const { st, base, allowed, act } = page;
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
