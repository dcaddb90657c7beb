// The provider's settings page (/provider/settings): the support contact organizations see in
// their disabled and expired notices. It comes from the config file (support_name, support_email,
// support_url, support_phone); the page shows it as organizations will see it.
import { get } from './api.js';
import { errorBox, h } from './dom.js';

const FIELDS = [
  ['name', 'Name', 'support_name'],
  ['email', 'Email', 'support_email'],
  ['url', 'Web page', 'support_url'],
  ['phone', 'Phone', 'support_phone'],
];

export async function renderSettingsPage(ctx) {
  const { main } = ctx;
  main.append(h('h1', { tabindex: '-1' }, 'Settings'));
  const body = h('div', { 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading…'));
  main.append(body);
  let contact;
  try {
    contact = await get('/api/v1/provider/supportContact');
  } catch (err) {
    if (err.handled || !ctx.isCurrent()) return;
    body.replaceChildren(errorBox(err));
    body.removeAttribute('aria-busy');
    return;
  }
  if (!ctx.isCurrent()) return;
  body.removeAttribute('aria-busy');
  const set = FIELDS.some(([k]) => contact[k]);
  body.replaceChildren(h('section', { class: 'card', 'aria-labelledby': 'support-title', 'data-testid': 'support-settings' },
    h('h2', { id: 'support-title', class: 'card-title' }, 'Support contact'),
    h('p', null, "Organizations see this contact in their token page's notices when their token is disabled or their subscription has expired or is about to."),
    set
      ? h('dl', { class: 'facts' }, FIELDS.map(([k, title]) => [
        h('dt', null, title),
        h('dd', { 'data-field': k }, contact[k] || h('span', { class: 'muted' }, 'Not set'))]))
      : h('p', { class: 'empty', 'data-testid': 'no-support-contact' }, 'No support contact is set: organizations are told to "contact your service provider" without details.'),
    h('p', { class: 'hint' }, 'Set it in the config file with the keys ',
      FIELDS.map(([, , key], i) => [i ? ', ' : '', h('code', null, key)]),
      ', then restart the service (', h('code', null, 'sandgate config check FILE'), ' shows the values).')));
}
