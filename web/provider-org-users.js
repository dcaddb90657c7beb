// The organization page's Users section: roles, password resets, deletion, creating a user.
import { del, patch, post } from './api.js';
import { confirmDialog, errorBox, h, label, showOnceDialog, timeEl, toast } from './dom.js';
import { fieldError } from './provider-common.js';

function showPassword(username, password) {
  return showOnceDialog({
    title: `Password for ${username}`,
    intro: 'This password is shown once. Copy it now and give it to the user over a secure channel.',
    value: password,
    noun: 'password',
    testId: 'new-password',
  });
}

export function usersSection(page) {
  const { st, base, allowed, act } = page;
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
