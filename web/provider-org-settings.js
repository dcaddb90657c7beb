// The organization page's Quota settings section: name, allowance, rates, threshold, leak policy.
import { patch } from './api.js';
import { h, toast } from './dom.js';
import { fieldError } from './provider-common.js';

export function settingsSection(page) {
  const { st, base, allowed, act } = page;
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
