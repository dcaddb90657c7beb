// The organization page's Token section: status, disable (with a reason) and enable.
import { post } from './api.js';
import { confirmDialog, h, label, timeEl } from './dom.js';
import { fieldError, REASONS, tokenStatusText } from './provider-common.js';

export function tokenSection(page) {
  const { st, base, allowed, act } = page;
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
