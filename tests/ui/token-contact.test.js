// The organization's notices name the provider's support contact (config keys support_*), and an
// automatic disable by the over-quota threshold says so (issue 18, item 5). Every org-side page
// fits a 390 px screen.
import assert from 'node:assert/strict';
import { assertNoOverflow, newPage, signIn, suite, uiTest } from './harness.js';

const env = suite({
  config: [
    'support_name = "Example Sandbox Support"',
    'support_email = "sandbox-support@example.com"',
    'support_url = "https://support.example.com/sandbox"',
    'support_phone = "+1 555 0100"',
    '',
  ].join('\n'),
});
const PHONE = { width: 390, height: 844 };

uiTest(env, 'item 5: disabled and expired notices show the support contact; the threshold disable says so', async (page) => {
  const provider = await env.server.api('provider');
  await provider.ok('POST', '/api/v1/provider/orgs/1/token/disable', { reason: 'TERMS_VIOLATION' });
  await signIn(page, env.server, 'acme-admin');
  await page.getByText('Disabled by your service provider').waitFor();
  const contact = page.getByTestId('support-contact');
  assert.equal(await contact.textContent(),
    'Contact your service provider: Example Sandbox Support (sandbox-support@example.com, +1 555 0100, https://support.example.com/sandbox).');
  assert.equal(await contact.getByRole('link', { name: 'sandbox-support@example.com' }).getAttribute('href'), 'mailto:sandbox-support@example.com');
  assert.equal(await contact.getByRole('link', { name: '+1 555 0100' }).getAttribute('href'), 'tel:+15550100');
  await page.setViewportSize(PHONE);
  await assertNoOverflow(page, 'disabled notice at 390 px');
  await page.setViewportSize({ width: 1280, height: 860 });
  await provider.ok('POST', '/api/v1/provider/orgs/1/token/enable', {});

  // The automatic disable: allowance 1, threshold 1: the second over-quota call disables.
  await provider.ok('PATCH', '/api/v1/provider/orgs/1', { dailyAllowance: 1, disableThreshold: 1, ratePerSecond: 1000, ratePerHour: 10000 });
  const admin = await env.server.api('acme-admin');
  const token = (await admin.ok('GET', '/api/v1/sandbox/token/reveal')).token;
  const statuses = [];
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${env.server.url}/zscsb/submit?api_token=${encodeURIComponent(token)}`, { method: 'POST', body: `contact test ${i}\n` });
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  assert.deepEqual(statuses, [200, 429, 429]);
  await page.evaluate(() => window.dispatchEvent(new Event('focus')));
  await page.getByText('Disabled automatically', { exact: true }).waitFor();
  assert.match(await page.getByTestId('disable-text').textContent(),
    /^The token was disabled automatically after 2 over-quota calls on .+ \(calls made after the daily quota was used up\)\./);
  assert.equal(await page.getByText('by your service provider').count(), 0);
  assert.equal(await page.getByTestId('threshold').count(), 0, 'no countdown once disabled');
  await page.getByTestId('activity').getByText('The token was disabled automatically after too many over-quota calls').waitFor();
  await provider.ok('POST', '/api/v1/provider/orgs/1/token/enable', {});
  await provider.ok('PATCH', '/api/v1/provider/orgs/1', { dailyAllowance: 100, disableThreshold: 100, ratePerSecond: 1, ratePerHour: 400 });

  // Expired: the same contact, to renew.
  await provider.ok('POST', '/api/v1/provider/orgs/1/subscription', { action: 'expire' });
  await page.reload();
  await page.getByText('Read-only: the sandbox subscription has expired').waitFor();
  assert.match(await page.getByTestId('support-contact').textContent(), /^Contact your service provider to renew it: Example Sandbox Support/);
  await provider.ok('POST', '/api/v1/provider/orgs/1/subscription', { action: 'renew' });
});

uiTest(env, 'no horizontal overflow at 390 px on every organization page and state', async (page) => {
  await page.setViewportSize(PHONE);
  await page.goto('/');
  await page.getByLabel('Username').waitFor();
  await assertNoOverflow(page, 'sign-in');
  await signIn(page, env.server, 'acme-admin');
  await assertNoOverflow(page, 'token page');
  await page.getByRole('button', { name: 'Reveal token' }).click();
  await page.getByRole('button', { name: 'Hide token' }).waitFor();
  await assertNoOverflow(page, 'revealed token');
  await page.getByText('Show the figures as a table').click();
  await assertNoOverflow(page, 'usage table open');
  await page.getByRole('button', { name: 'Delete token' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Ok' }).click();
  await page.getByTestId('no-token').waitFor();
  await assertNoOverflow(page, 'no token');
  await page.getByRole('button', { name: 'Add Sandbox API Token' }).click();
  await page.getByTestId('token-value').waitFor();
  const provider = await env.server.api('provider');
  await provider.ok('POST', '/api/v1/provider/orgs/1/subscription', { action: 'expire' });
  await page.reload();
  await page.getByText('Read-only: the sandbox subscription has expired').waitFor();
  await assertNoOverflow(page, 'expired');
  await provider.ok('POST', '/api/v1/provider/orgs/1/subscription', { action: 'renew' });
  const viewer = page; // the read-only user's page
  await viewer.getByRole('button', { name: 'Sign out', exact: true }).click();
  await signIn(viewer, env.server, 'acme-viewer');
  await assertNoOverflow(viewer, 'read-only user');
});

uiTest(env, 'item 5: the provider edits the support contact in the console; it overrides the config file until reset', async (page) => {
  await signIn(page, env.server, 'provider');
  await page.getByRole('link', { name: 'Settings', exact: true }).click();
  await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
  const card = page.getByTestId('support-settings');
  await card.waitFor();
  // Before any save: the config file's, said so, in the form.
  assert.match(await page.getByTestId('support-source').textContent(), /^In effect: the config file’s \(keys support_name, support_email, support_url, support_phone\)/);
  assert.equal(await page.getByLabel('Name').inputValue(), 'Example Sandbox Support');
  assert.equal(await page.getByLabel('Email').inputValue(), 'sandbox-support@example.com');
  assert.equal(await page.getByLabel('Web page').inputValue(), 'https://support.example.com/sandbox');
  assert.equal(await page.getByLabel('Phone').inputValue(), '+1 555 0100');
  await page.getByText('The config file’s support contact').click();
  assert.equal(await card.locator('dd[data-field="email"]').textContent(), 'sandbox-support@example.com');

  // Checked at the field, the message beside it; nothing is sent.
  const provider = await env.server.api('provider');
  const auditBefore = (await provider.ok('GET', '/api/v1/provider/auditLog?action=SETTINGS_UPDATE')).items.length;
  await page.getByLabel('Email').fill('help at example');
  await page.getByLabel('Web page').fill('javascript:alert(1)');
  await page.getByRole('button', { name: 'Save contact' }).click();
  assert.equal(await page.locator('#support-email-msg').textContent(), 'Enter an email address such as support@example.com.');
  assert.equal(await page.locator('#support-url-msg').textContent(), 'Enter a web address that starts with https:// or http://, without spaces.');
  assert.equal(await page.getByLabel('Email').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'support-email');
  await page.setViewportSize(PHONE);
  await assertNoOverflow(page, 'support contact form with errors at 390 px');
  await page.setViewportSize({ width: 1280, height: 860 });

  // The server's own refusal (a port out of range passes the browser's check) lands beside the field too.
  await page.getByLabel('Email').fill('help@example.org');
  await page.getByLabel('Web page').fill('https://help.example.org:999999/');
  await page.getByRole('button', { name: 'Save contact' }).click();
  await page.locator('#support-url-msg').getByText('Enter a web address that starts with https:// or http://').waitFor();
  assert.equal(await page.locator('#support-email-msg').textContent(), '');
  const refused = await provider.request('PUT', '/api/v1/provider/supportContact', { name: '', email: 'x', url: '', phone: '12' });
  assert.equal(refused.status, 400);
  assert.equal(refused.json.code, 'INVALID_SUPPORT_CONTACT');
  assert.deepEqual(refused.json.fields.map((f) => f.field), ['email', 'phone']);
  assert.equal((await provider.ok('GET', '/api/v1/provider/auditLog?action=SETTINGS_UPDATE')).items.length, auditBefore, 'refusals change nothing');

  // A valid save: stored, audited old → new, shown as the source, and on the organization's notices.
  await page.getByLabel('Name').fill('Console Support Desk');
  await page.getByLabel('Web page').fill('');
  await page.getByLabel('Phone').fill('+44 20 7946 0000');
  await page.getByRole('button', { name: 'Save contact' }).click();
  await page.getByTestId('support-source').getByText('In effect: saved here').waitFor();
  assert.match(await page.getByTestId('support-source').textContent(), /^In effect: saved here by provider on .+\. It overrides the config file’s support contact until you reset it\.$/);
  const audit = (await provider.ok('GET', '/api/v1/provider/auditLog?action=SETTINGS_UPDATE')).items[0];
  assert.equal(audit.detail, 'support contact saved in the console (was the config file\'s): supportName: Example Sandbox Support \u2192 Console Support Desk; '
    + 'supportEmail: sandbox-support@example.com \u2192 help@example.org; supportUrl: https://support.example.com/sandbox \u2192 (not set); supportPhone: +1 555 0100 \u2192 +44 20 7946 0000');
  await page.setViewportSize(PHONE);
  await assertNoOverflow(page, 'support contact saved at 390 px');
  await page.setViewportSize({ width: 1280, height: 860 });

  await provider.ok('POST', '/api/v1/provider/orgs/1/token/disable', { reason: 'OTHER' });
  const orgPage = await newPage(env.browser, env.server, { viewport: PHONE });
  try {
    await signIn(orgPage, env.server, 'acme-admin');
    await orgPage.getByText('Disabled by your service provider').waitFor();
    assert.equal(await orgPage.getByTestId('support-contact').textContent(),
      'Contact your service provider: Console Support Desk (help@example.org, +44 20 7946 0000).');
    await assertNoOverflow(orgPage, 'disabled notice with the console contact at 390 px');
    assert.deepEqual(orgPage.problems, []);
  } finally {
    await orgPage.context().close();
    await provider.ok('POST', '/api/v1/provider/orgs/1/token/enable', {});
  }

  // Reset: the config file's applies again.
  await page.getByRole('button', { name: 'Use the config file’s' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Ok' }).click();
  await page.getByTestId('support-source').getByText('In effect: the config file’s').waitFor();
  assert.equal(await page.getByLabel('Name').inputValue(), 'Example Sandbox Support');
  assert.equal(await page.getByRole('button', { name: 'Use the config file’s' }).isVisible(), false);
  const now = await provider.ok('GET', '/api/v1/provider/supportContact');
  assert.equal(now.source, 'configFile');
  assert.equal(now.contact.phone, '+1 555 0100');
});
