// The provider console, and what the organization's page shows after the provider acts.
import assert from 'node:assert/strict';
import { artifactPath, newPage, signIn, suite, uiTest, waitLoaded } from './harness.js';

const env = suite();
const CHANGE_CONTROLS = ['Add Sandbox API Token', 'Regenerate token', 'Delete token'];

async function openOrg(page, name) {
  await signIn(page, env.server, 'provider');
  await page.getByRole('link', { name: 'Organizations', exact: true }).click();
  await page.getByRole('link', { name, exact: true }).click();
  await page.getByRole('heading', { name, level: 1 }).waitFor();
}

// The organization admin's view, in a second browser context, saved as an extra artefact.
async function orgAdminView(name, check) {
  const page = await newPage(env.browser, env.server);
  try {
    await signIn(page, env.server, 'acme-admin');
    await page.getByTestId('token-status').waitFor();
    await check(page);
    assert.deepEqual(page.problems, []);
  } finally {
    await page.screenshot({ path: artifactPath(name), fullPage: true }).catch(() => {});
    await page.context().close();
  }
}

async function countButtons(page, names) {
  const out = {};
  for (const n of names) out[n] = await page.getByRole('button', { name: n }).count();
  return out;
}

uiTest(env, 'provider disables the token; the org page shows Disabled with no change controls', async (page) => {
  await openOrg(page, 'Acme Corp');
  const token = page.getByRole('region', { name: 'Token' });
  await token.getByLabel('Reason').selectOption('TERMS_VIOLATION');
  await token.getByLabel('Note (optional)').fill('ticket 42');
  await token.getByRole('button', { name: 'Disable token' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('button', { name: 'Ok' }).click();
  await page.getByText('The token was disabled.').waitFor();
  assert.match(await page.getByTestId('org-token-status').textContent(), /Disabled.*by the service provider/);
  // Rate-limit refusals are shown apart from the quota (issue #14, finding 1).
  assert.match(await page.getByTestId('rate-limited').textContent(), /^\d+ \(not counted toward disabling\)$/);
  await token.getByText('ticket 42').waitFor();
  assert.equal(await token.getByRole('button', { name: 'Disable token' }).count(), 0);
  assert.equal(await token.getByRole('button', { name: 'Enable token' }).count(), 1);

  await orgAdminView('provider-disabled-org-view', async (org) => {
    assert.equal(await org.getByTestId('token-status').textContent(), 'Disabled');
    await org.getByText('Disabled by your service provider').waitFor();
    await org.getByText('Terms of service violation').waitFor();
    await org.getByText('Contact your service provider.').waitFor();
    assert.deepEqual(await countButtons(org, CHANGE_CONTROLS), { 'Add Sandbox API Token': 0, 'Regenerate token': 0, 'Delete token': 0 });
  });

  // Enable again: the organization gets its controls back.
  await token.getByRole('button', { name: 'Enable token' }).click();
  await page.getByText('The token was enabled.').waitFor();
  assert.match(await page.getByTestId('org-token-status').textContent(), /^Enabled/);
  await orgAdminView('provider-enabled-org-view', async (org) => {
    assert.equal(await org.getByTestId('token-status').textContent(), 'Enabled');
    assert.deepEqual(await countButtons(org, CHANGE_CONTROLS), { 'Add Sandbox API Token': 0, 'Regenerate token': 1, 'Delete token': 1 });
  });
});

uiTest(env, 'provider expires the subscription; the org page is read-only until renewal', async (page) => {
  const admin = await env.server.api('acme-admin');
  const tokenText = (await admin.ok('GET', '/api/v1/sandbox/token/reveal')).token;
  await openOrg(page, 'Acme Corp');
  const sub = page.getByRole('region', { name: 'Subscription' });
  await sub.getByRole('button', { name: 'Expire subscription' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Ok' }).click();
  await page.getByText('The subscription was expired.').waitFor();
  await sub.getByText('Expired', { exact: true }).waitFor();
  assert.equal(await sub.getByRole('button', { name: 'Expire subscription' }).count(), 0);
  assert.equal(env.server.verify(tokenText).status, 1);

  await orgAdminView('provider-expired-org-view', async (org) => {
    await org.getByText('Read-only: the sandbox subscription has expired').waitFor();
    assert.equal(await org.getByTestId('token-status').textContent(), 'Disabled');
    await org.getByText('subscription expired').waitFor();
    assert.deepEqual(await countButtons(org, CHANGE_CONTROLS), { 'Add Sandbox API Token': 0, 'Regenerate token': 0, 'Delete token': 0 });
    assert.match(await org.getByTestId('token-value').textContent(), /^sbx_•+/); // the token is still shown
  });

  await sub.getByRole('button', { name: 'Renew subscription' }).click();
  await page.getByText('The subscription was renewed.').waitFor();
  await sub.getByText('Active', { exact: true }).waitFor();
  assert.equal(env.server.verify(tokenText).accepted, true);
});

uiTest(env, 'a change refused meanwhile is explained in words and the page catches up', async (page) => {
  await signIn(page, env.server, 'acme-admin');
  await page.getByRole('button', { name: 'Regenerate token' }).waitFor();
  const provider = await env.server.api('provider');
  await provider.ok('POST', '/api/v1/provider/orgs/1/token/disable', { reason: 'QUOTA_THRESHOLD' });
  await page.getByRole('button', { name: 'Regenerate token' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Ok' }).click();
  // One message for the problem: the notice, and a line saying the action was not done.
  await page.getByTestId('not-done').waitFor();
  assert.equal(await page.locator('#main [role="alert"]').count(), 1);
  assert.equal(await page.getByTestId('token-status').textContent(), 'Disabled');
  await page.getByText('Daily quota threshold exceeded').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Regenerate token' }).count(), 0);
  assert.equal(await page.locator('body').textContent().then((t) => t.includes('{"code"')), false, 'no raw JSON');
  await provider.ok('POST', '/api/v1/provider/orgs/1/token/enable', {});
});

uiTest(env, 'a read-only user sees the page without any control', async (page) => {
  await signIn(page, env.server, 'acme-viewer');
  await page.getByTestId('token-value').waitFor();
  assert.match(await page.getByTestId('token-value').textContent(), /^sbx_•+/);
  assert.deepEqual(await countButtons(page, ['Reveal token', 'Copy token', ...CHANGE_CONTROLS]),
    { 'Reveal token': 0, 'Copy token': 0, 'Add Sandbox API Token': 0, 'Regenerate token': 0, 'Delete token': 0 });
  await page.getByText('You have read-only access').waitFor();
  // The API agrees: the viewer may not reveal.
  const viewer = await env.server.api('acme-viewer');
  assert.equal((await viewer.request('GET', '/api/v1/sandbox/token/reveal')).status, 403);
});

uiTest(env, 'tenant isolation: an org admin gets no provider data, only a clear message', async (page) => {
  await signIn(page, env.server, 'acme-admin');
  assert.equal(await page.getByRole('link', { name: 'Organizations' }).count(), 0);
  await page.goto('/provider');
  await page.getByRole('link', { name: 'Go to the Sandbox API Token page' }).click();
  await page.getByTestId('token-value').waitFor();
  for (const path of ['/provider/orgs/1', '/provider/audit', '/provider', '/provider/orgs']) {
    await page.goto(path);
    await page.getByRole('heading', { name: 'Not available', level: 1 }).waitFor();
    await page.getByText('is not available to your account').waitFor();
    await page.getByText('No such organization or resource.').waitFor();
    assert.equal(await page.getByRole('table').count(), 0, path);
    assert.equal(await page.getByText('Acme Corp').count(), 0, path);
    assert.equal(await page.getByText('acme-viewer').count(), 0, path);
  }
  for (const p of ['/api/v1/provider/orgs', '/api/v1/provider/overview']) assert.equal((await page.request.get(p)).status(), 404, p);
});

uiTest(env, 'organizations: debounced search, paging, create and activate', async (page) => {
  const provider = await env.server.api('provider');
  for (let i = 1; i <= 30; i++) await provider.ok('POST', '/api/v1/provider/orgs', { name: `Globex ${String(i).padStart(2, '0')}` });
  await signIn(page, env.server, 'provider');
  await page.goto('/provider/orgs');
  await page.getByRole('table', { name: 'Organizations' }).waitFor();
  await waitLoaded(page);
  const rows = page.getByRole('table', { name: 'Organizations' }).locator('tbody tr');
  assert.equal(await rows.count(), 25);
  assert.match(await page.getByTestId('pager-info').textContent(), /^1–25 of 31 · page 1 of 2$/);
  await page.getByRole('button', { name: 'Next page' }).click();
  await page.getByTestId('pager-info').getByText('26–31 of 31 · page 2 of 2').waitFor();
  assert.equal(await rows.count(), 6);
  assert.match(page.url(), /page=2/);
  let requests = 0;
  page.on('request', (r) => { if (r.url().includes('/api/v1/provider/orgs?')) requests++; });
  await page.getByLabel('Search organizations').pressSequentially('Globex 07', { delay: 20 });
  await page.getByTestId('pager-info').getByText('1–1 of 1 · page 1 of 1').waitFor();
  assert.ok(requests <= 3, `search was not debounced: ${requests} requests`);
  assert.deepEqual(await rows.locator('td[data-label="Organization"] a').allTextContents(), ['Globex 07']);
  await page.getByLabel('Search organizations').fill('no such organization');
  await page.getByText('No organization matches').waitFor();

  // Create an organization from the console, then activate its subscription with an end date.
  await page.locator('summary', { hasText: 'Create an organization' }).click();
  await page.getByLabel('New organization name').fill('Initech');
  await page.getByRole('button', { name: 'Create organization' }).click();
  await page.getByRole('heading', { name: 'Initech', level: 1 }).waitFor();
  const sub = page.getByRole('region', { name: 'Subscription' });
  await sub.getByText('No subscription').waitFor();
  assert.equal(await sub.getByRole('button', { name: 'Renew subscription' }).count(), 0);
  await sub.getByLabel('End date').fill('2099-12-31');
  await sub.getByRole('button', { name: 'Activate subscription' }).click();
  await page.getByText('The subscription was activated.').waitFor();
  await sub.getByText('Active', { exact: true }).waitFor();
  await sub.locator('time[datetime="2099-12-31T00:00:00Z"]').waitFor();
  assert.equal(await sub.getByRole('button', { name: 'Activate subscription' }).count(), 0);
  assert.match(await page.getByRole('region', { name: 'Token' }).locator('code').textContent(), /^sbx_•+/);
});

uiTest(env, 'users: create, change role, reset password (shown once), delete', async (page) => {
  const provider = await env.server.api('provider');
  const org = await provider.ok('POST', '/api/v1/provider/orgs', { name: 'Umbrella' });
  await signIn(page, env.server, 'provider');
  await page.goto(`/provider/orgs/${org.id}`);
  const users = page.getByRole('region', { name: 'Users' });
  await users.getByText('This organization has no users yet.').waitFor();
  await users.getByLabel('Username').fill('umbrella-admin');
  await users.getByLabel('Role', { exact: true }).selectOption('ORG_ADMIN');
  await users.getByRole('button', { name: 'Create user' }).click();
  let dialog = page.getByRole('dialog', { name: 'Password for umbrella-admin' });
  const first = (await dialog.getByTestId('new-password').textContent()).trim();
  assert.ok(first.length >= 12);
  await dialog.getByRole('button', { name: 'Done' }).click();
  await dialog.waitFor({ state: 'detached' });
  // Not only hidden: the password has left the document as soon as the dialog closes.
  assert.equal(await page.getByTestId('new-password').count(), 0, 'the password is shown once');
  assert.equal(await page.getByText(first).count(), 0, 'the password is shown once');
  const row = users.locator('tr[data-user="umbrella-admin"]');
  await row.waitFor();

  await row.getByLabel('Role of umbrella-admin', { exact: true }).selectOption('ORG_READONLY');
  await row.getByRole('button', { name: 'Change role of umbrella-admin' }).click();
  await page.getByText('The role of umbrella-admin was changed.').waitFor();
  assert.equal(await users.locator('tr[data-user="umbrella-admin"]').getByLabel('Role of umbrella-admin', { exact: true }).inputValue(), 'ORG_READONLY');

  await users.getByRole('button', { name: 'Reset password of umbrella-admin' }).click();
  await page.getByRole('dialog', { name: 'Reset the password of umbrella-admin?' }).getByRole('button', { name: 'Ok' }).click();
  dialog = page.getByRole('dialog', { name: 'Password for umbrella-admin' });
  const second = (await dialog.getByTestId('new-password').textContent()).trim();
  assert.notEqual(second, first);
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  const signedIn = await env.server.api('provider');
  const login = await signedIn.request('POST', '/api/v1/authenticatedSession', { username: 'umbrella-admin', password: second });
  assert.equal(login.status, 200);
  assert.equal(login.json.user.role, 'ORG_READONLY');

  await users.getByRole('button', { name: 'Delete user umbrella-admin' }).click();
  await page.getByRole('dialog', { name: 'Delete the user umbrella-admin?' }).getByRole('button', { name: 'Ok' }).click();
  await page.getByText('The user umbrella-admin was deleted.').waitFor();
  await users.getByText('This organization has no users yet.').waitFor();
});

uiTest(env, 'quota settings, the organization audit log and the global audit log with filters', async (page) => {
  await openOrg(page, 'Acme Corp');
  const settings = page.getByRole('region', { name: 'Quota settings' });
  await settings.getByLabel('Daily allowance (submissions per UTC day)').fill('50');
  await settings.getByRole('button', { name: 'Save settings' }).click();
  await page.getByText('The settings were saved.').waitFor();
  assert.equal(await settings.getByLabel('Daily allowance (submissions per UTC day)').inputValue(), '50');
  // A wrong value is refused with a sentence beside the field, not JSON.
  await settings.getByLabel('Rate per hour').fill('-3');
  await settings.getByRole('button', { name: 'Save settings' }).click();
  await settings.getByText('Enter a whole number, 0 or more.').waitFor();

  const audit = page.getByRole('region', { name: 'Recent activity' });
  await audit.getByText('Changed the settings').first().waitFor();

  await page.getByRole('link', { name: 'Audit log', exact: true }).click();
  await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
  await page.getByLabel('What').selectOption('TOKEN_DISABLE');
  await page.getByLabel('Organization ID').fill('1');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  const expected = (await (await env.server.api('provider')).ok('GET', '/api/v1/provider/auditLog?orgId=1&action=TOKEN_DISABLE')).items.length;
  assert.ok(expected >= 1);
  await page.getByTestId('audit-count').getByText(`Entries 1–${expected}, newest first · page 1`).waitFor();
  assert.deepEqual(new Set(await page.locator('td[data-label="What"]').allTextContents()), new Set(['Disabled the token']));
  assert.deepEqual(new Set(await page.locator('td[data-label="Organization"]').allTextContents()), new Set(['Acme Corp']));
  assert.match(page.url(), /action=TOKEN_DISABLE/);
  await page.getByLabel('Who (username)').fill('nobody-at-all');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.getByText('No audit entries match.').waitFor();
  await page.getByLabel('Who (username)').fill('');
  await page.getByLabel('What').selectOption('');
  await page.getByLabel('From (UTC)').fill('2000-01-01T00:00');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.locator('td[data-label="What"]').first().waitFor();
  assert.ok(await page.locator('td[data-label="What"]').count() > 5);

  // The organization admin sees the new allowance.
  await orgAdminView('quota-org-view', async (org) => {
    assert.match(await org.getByTestId('usage').textContent(), /\/ 50 submissions$/);
  });
});

uiTest(env, 'the console fits a 360 px screen and every control has an accessible name', async (page) => {
  await signIn(page, env.server, 'provider');
  for (const path of ['/provider', '/provider/orgs', '/provider/orgs/1', '/provider/audit']) {
    await page.goto(path);
    await page.waitForFunction(() => !document.querySelector('#main [aria-busy="true"]') && document.querySelector('#main table'));
    const unnamed = await page.evaluate(() => [...document.querySelectorAll('button, a[href], input, select, summary, textarea')]
      .filter((el) => {
        const byLabel = el.id && document.querySelector(`label[for="${el.id}"]`);
        return !(el.getAttribute('aria-label') || el.textContent || '').trim() && !byLabel;
      }).map((el) => el.outerHTML));
    assert.deepEqual(unnamed, [], path);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `${path}: horizontal overflow of ${overflow}px at 360px`);
  }
  await page.goto('/provider/orgs/1');
  await page.getByRole('region', { name: 'Users' }).waitFor();
}, { viewport: { width: 360, height: 740 } });
