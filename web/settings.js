// The provider's settings page (/provider/settings): the support contact organizations see in
// their disabled and expired notices. Precedence: a contact saved here replaces the config file's
// (support_name, support_email, support_url, support_phone) as a whole until it is reset; before
// any save the config file's applies. The page says which one is in effect.
import { del, get, put } from './api.js';
import { confirmDialog, errorBox, h, timeEl, toast } from './dom.js';

const FIELDS = [
  // key, label, config key, input type, max length, autocomplete, hint
  ['name', 'Name', 'support_name', 'text', 100, 'organization', 'e.g. Example Sandbox Support'],
  ['email', 'Email', 'support_email', 'email', 254, 'email', 'e.g. sandbox-support@example.com'],
  ['url', 'Web page', 'support_url', 'url', 500, 'url', 'Starts with https:// or http://'],
  ['phone', 'Phone', 'support_phone', 'tel', 40, 'tel', 'Digits, spaces and + ( ) - . /'],
];

// The same checks as the server (domain/support_contact.cc), so most mistakes are caught at the
// field; the server's answer is shown the same way when it refuses anyway.
function problem(key, v) {
  if (!v) return null;
  switch (key) {
    case 'name':
      if (v.length > 100) return 'The name is at most 100 characters.';
      // eslint-disable-next-line no-control-regex
      if (/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/.test(v)) return 'The name has characters that cannot be shown.';
      return null;
    case 'email': {
      if (v.length > 254) return 'The email address is at most 254 characters.';
      const m = /^([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64})@([A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+)$/.exec(v);
      if (!m || m[1].startsWith('.') || m[1].endsWith('.') || m[1].includes('..')
        || m[2].split('.').some((l) => l.startsWith('-') || l.endsWith('-'))
        || !/^[A-Za-z]{2,}$/.test(m[2].split('.').pop())) {
        return 'Enter an email address such as support@example.com.';
      }
      return null;
    }
    case 'url':
      if (v.length > 500) return 'The web address is at most 500 characters.';
      if (!/^https?:\/\/[A-Za-z0-9.[\]:-]+(?:[/?#][\x21-\x7e]*)?$/i.test(v) || /["<>\\^`{|}]/.test(v)) {
        return 'Enter a web address that starts with https:// or http://, without spaces.';
      }
      return null;
    case 'phone':
      if (v.length > 40) return 'The phone number is at most 40 characters.';
      if (!/^\+?[0-9 ()./-]+$/.test(v) || (v.match(/[0-9]/g) || []).length < 3) {
        return 'Enter a phone number: digits, spaces and + ( ) - . /';
      }
      return null;
    default:
      return null;
  }
}

function fieldError(input, msgEl, message) {
  msgEl.textContent = message || '';
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

function sourceLine(s) {
  if (s.source === 'console') {
    return h('p', { 'data-testid': 'support-source', class: 'support-source' },
      h('strong', null, 'In effect: saved here'),
      s.updatedBy ? [' by ', s.updatedBy] : null, s.updatedAt ? [' on ', timeEl(s.updatedAt)] : null,
      '. It overrides the config file\u2019s support contact until you reset it.');
  }
  return h('p', { 'data-testid': 'support-source', class: 'support-source' },
    h('strong', null, 'In effect: the config file\u2019s'),
    ' (keys ', FIELDS.map(([, , key], i) => [i ? ', ' : '', h('code', null, key)]),
    '). Saving here overrides it.');
}

export async function renderSettingsPage(ctx) {
  const { main } = ctx;
  main.append(h('h1', { tabindex: '-1' }, 'Settings'));
  const body = h('div', { 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading…'));
  main.append(body);
  let setting;
  try {
    setting = await get('/api/v1/provider/supportContact');
  } catch (err) {
    if (err.handled || !ctx.isCurrent()) return;
    body.replaceChildren(errorBox(err));
    body.removeAttribute('aria-busy');
    return;
  }
  if (!ctx.isCurrent()) return;
  body.removeAttribute('aria-busy');

  const inputs = {};
  const msgs = {};
  const status = h('div', { 'aria-live': 'polite' });
  const formError = h('div', { 'data-testid': 'support-form-error' });
  const resetButton = h('button', { type: 'button', class: 'btn', 'data-testid': 'support-reset' }, 'Use the config file\u2019s');
  let busy = false;

  function fill(s) {
    setting = s;
    for (const [k] of FIELDS) {
      inputs[k].value = (s.contact && s.contact[k]) || '';
      fieldError(inputs[k], msgs[k], null);
    }
    status.replaceChildren(sourceLine(s));
    resetButton.hidden = s.source !== 'console';
    formError.replaceChildren();
  }

  function showRefusal(err) {
    let first = null;
    if (Array.isArray(err.fields) && err.fields.length) {
      for (const f of err.fields) {
        if (!inputs[f.field]) continue;
        fieldError(inputs[f.field], msgs[f.field], f.message);
        first = first || inputs[f.field];
      }
    }
    if (first) first.focus();
    else formError.replaceChildren(errorBox(err));
  }

  const form = h('form', { class: 'settings-form support-form', novalidate: true, 'data-testid': 'support-form' },
    FIELDS.map(([key, text, , type, max, autocomplete, hint]) => {
      const id = 'support-' + key;
      const input = h('input', {
        id, name: key, type, maxlength: String(max), autocomplete, spellcheck: 'false',
        'aria-describedby': `${id}-hint ${id}-msg`,
      });
      const msg = h('p', { id: `${id}-msg`, class: 'field-error', 'aria-live': 'polite' });
      input.addEventListener('input', () => fieldError(input, msg, null));
      input.addEventListener('blur', () => fieldError(input, msg, problem(key, input.value.trim())));
      inputs[key] = input;
      msgs[key] = msg;
      return h('div', { class: 'field' }, h('label', { for: id }, text), h('p', { id: `${id}-hint`, class: 'hint' }, hint), input, msg);
    }),
    formError,
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'support-save' }, 'Save contact'),
      resetButton));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (busy) return;
    formError.replaceChildren();
    const value = {};
    let firstBad = null;
    for (const [k] of FIELDS) {
      value[k] = inputs[k].value.trim();
      const p = problem(k, value[k]);
      fieldError(inputs[k], msgs[k], p);
      if (p && !firstBad) firstBad = inputs[k];
    }
    if (firstBad) {
      firstBad.focus();
      return;
    }
    busy = true;
    try {
      const saved = await put('/api/v1/provider/supportContact', value);
      if (!ctx.isCurrent()) return;
      fill(saved);
      toast('The support contact was saved.');
    } catch (err) {
      if (err.handled || !ctx.isCurrent()) return;
      showRefusal(err);
    } finally {
      busy = false;
    }
  });

  resetButton.addEventListener('click', async () => {
    const ok = await confirmDialog({
      title: 'Use the config file\u2019s support contact?',
      message: 'The contact saved here is removed; organizations see the config file\u2019s support_* values instead (or none, when they are not set).',
    });
    if (!ok || busy) return;
    busy = true;
    try {
      const now = await del('/api/v1/provider/supportContact');
      if (!ctx.isCurrent()) return;
      fill(now);
      toast('The config file\u2019s support contact is in effect again.');
    } catch (err) {
      if (err.handled || !ctx.isCurrent()) return;
      formError.replaceChildren(errorBox(err));
    } finally {
      busy = false;
    }
  });

  const configParts = FIELDS.filter(([k]) => setting.configFile && setting.configFile[k]);
  body.replaceChildren(h('section', { class: 'card', 'aria-labelledby': 'support-title', 'data-testid': 'support-settings' },
    h('h2', { id: 'support-title', class: 'card-title' }, 'Support contact'),
    h('p', null, "Organizations see this contact in their token page's notices when their token is disabled or their subscription has expired or is about to. Leave a field empty to leave it out."),
    status,
    form,
    h('details', { class: 'config-contact' },
      h('summary', null, 'The config file\u2019s support contact'),
      configParts.length
        ? h('dl', { class: 'facts', 'data-testid': 'config-contact' }, configParts.map(([k, title]) => [
          h('dt', null, title), h('dd', { 'data-field': k }, setting.configFile[k])]))
        : h('p', { class: 'empty', 'data-testid': 'config-contact' }, 'None set in the config file.'))));
  fill(setting);
}
