// The leak banner (issue 20): a token reported found in public (here through the provider's
// leak-report API, the same path as a signed GitHub report) shows "Your token was found in a
// public repository at URL on DATE and was revoked; add a new one" on the token page, the URL as
// text (a link only for http/https, never markup), at 1280 and 390 px without horizontal
// overflow; adding a new token clears it. With the NOTIFY policy it says the token is still active.
import assert from 'node:assert/strict';
import { assertNoOverflow, signIn, suite, uiTest, waitLoaded } from './harness.js';

const env = suite();
const PHONE = { width: 390, height: 844 };
const LONG_URL = 'https://github.com/acme-corp/a-rather-long-repository-name/blob/0123456789abcdef0123456789abcdef01234567/config/production/settings.py#L42';

uiTest(env, 'leak banner: revoked token, URL as a link, cleared by a new token; notify policy; no markup', async (page) => {
  const provider = await env.server.api('provider');
  const admin = await env.server.api('acme-admin');
  const token = (await admin.ok('GET', '/api/v1/sandbox/token/reveal')).token;
  const r = await provider.ok('POST', '/api/v1/provider/leak-reports', { token, url: LONG_URL, source: 'commit' });
  assert.equal(r.label, 'true_positive');
  assert.equal(r.action, 'REVOKED');

  await signIn(page, env.server, 'acme-admin');
  await page.getByText('Your token was found in public and revoked').waitFor();
  const text = page.getByTestId('leak-text');
  assert.match(await text.textContent(),
    new RegExp(`^Your token \\(…${token.slice(-4)}\\) was found in a public repository at ${LONG_URL.replace(/[.?*+^$[\]\\(){}|-]/g, '\\$&')} on .+ and was revoked; add a new one\\.$`));
  const link = page.getByTestId('leak-url');
  assert.equal(await link.evaluate((el) => el.tagName), 'A');
  assert.equal(await link.getAttribute('href'), LONG_URL);
  assert.match(await link.getAttribute('rel'), /noopener/);
  await assertNoOverflow(page, 'leak banner at 1280 px');
  await page.setViewportSize(PHONE);
  await page.getByTestId('leak-text').waitFor();
  await assertNoOverflow(page, 'leak banner at 390 px');
  await page.setViewportSize({ width: 1280, height: 860 });
  // The activity says who found it.
  await page.getByTestId('activity').getByText('The service provider found the token in public and revoked it').first().waitFor();

  // Adding a new token clears the banner.
  await page.getByRole('button', { name: 'Add Sandbox API Token' }).click();
  await page.getByText('A new token was added.').first().waitFor();
  await waitLoaded(page);
  assert.equal(await page.getByTestId('leak-text').count(), 0);

  // NOTIFY, and a URL that is not http(s) and carries markup: shown as text, no link, no element.
  await provider.ok('PATCH', '/api/v1/provider/orgs/1', { leakPolicy: 'NOTIFY' });
  const token2 = (await admin.ok('GET', '/api/v1/sandbox/token/reveal')).token;
  const evil = 'javascript:alert(1)//<img src=x onerror=alert(2)>';
  const r2 = await provider.ok('POST', '/api/v1/provider/leak-reports', { token: token2, url: evil, source: 'paste' });
  assert.equal(r2.action, 'NOTIFIED');
  await page.reload();
  await waitLoaded(page);
  await page.getByText('Your token was found in public', { exact: true }).waitFor();
  const where = page.getByTestId('leak-url');
  assert.equal(await where.evaluate((el) => el.tagName), 'CODE');
  assert.equal(await where.textContent(), evil);
  assert.equal(await page.locator('.notice img').count(), 0);
  assert.match(await page.getByTestId('leak-text').textContent(), /and was reported; it is still active\./);
  await page.setViewportSize(PHONE);
  await assertNoOverflow(page, 'notify banner at 390 px');
  await provider.ok('PATCH', '/api/v1/provider/orgs/1', { leakPolicy: 'REVOKE' });
});

uiTest(env, 'leak policy on the provider console org page', async (page) => {
  await signIn(page, env.server, 'provider');
  await page.goto('/provider/orgs/1');
  await waitLoaded(page);
  const select = page.getByLabel('When the token is found in public');
  assert.equal(await select.inputValue(), 'REVOKE');
  await select.selectOption('NOTIFY');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByText('The settings were saved.').first().waitFor();
  const provider = await env.server.api('provider');
  assert.equal((await provider.ok('GET', '/api/v1/provider/orgs/1')).leakPolicy, 'NOTIFY');
  await provider.ok('PATCH', '/api/v1/provider/orgs/1', { leakPolicy: 'REVOKE' });
});
