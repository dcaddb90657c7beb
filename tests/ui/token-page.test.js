// The organization admin's Sandbox API Token page, in a real browser against a real server.
import assert from 'node:assert/strict';
import { artifactPath, signIn, suite, tabTo, uiTest } from './harness.js';

const env = suite();
const TOKEN_RE = /^sbx_[0-9A-Za-z]{49}$/;

async function tokenText(page) {
  return (await page.getByTestId('token-value').textContent()).trim();
}

async function revealed(page) {
  await page.getByRole('button', { name: 'Reveal token' }).click();
  await page.getByRole('button', { name: 'Hide token' }).waitFor();
  const t = await tokenText(page);
  assert.match(t, TOKEN_RE);
  return t;
}

uiTest(env, 'org admin signs in and sees the token page', async (page) => {
  await signIn(page, env.server, 'acme-admin');
  const crumbs = await page.getByRole('navigation', { name: 'Breadcrumb' }).locator('li').allTextContents();
  assert.deepEqual(crumbs.map((s) => s.trim()),
    ['Administration', 'API Configuration', 'Legacy API', 'Internet & SaaS API', 'Sandbox API Token']);
  await page.getByRole('heading', { name: 'Sandbox API Token', level: 1 }).waitFor();
  const headers = await page.getByRole('table', { name: 'Sandbox API Token' }).locator('th').allTextContents();
  assert.deepEqual(headers, ['Sandbox API Token', 'Status', 'Last Modified By', 'Last Modified On', 'Actions']);
  assert.equal(await page.getByTestId('base-url').textContent(), env.server.url);
  assert.match(await tokenText(page), /^sbx_•+[0-9A-Za-z]{4}$/);
  assert.equal(await page.getByTestId('token-status').textContent(), 'Enabled');
  assert.match(await page.getByTestId('usage').textContent(), /^0 \/ 100 submissions$/);
  // Exactly the controls of allowedActions; a token exists, so no Add.
  for (const name of ['Reveal token', 'Copy token', 'Regenerate token', 'Delete token', 'Sign out']) {
    assert.equal(await page.getByRole('button', { name }).count(), 1, name);
  }
  assert.equal(await page.getByRole('button', { name: 'Add Sandbox API Token' }).count(), 0);
  // The page is served with the security headers and never inline code.
  const res = await page.request.get('/admin/sandbox-api-token');
  assert.equal(res.headers()['content-security-policy'].startsWith("default-src 'self'"), true);
  assert.equal(res.headers()['x-frame-options'], 'DENY');
  assert.equal(res.headers()['x-content-type-options'], 'nosniff');
  assert.equal(res.headers()['referrer-policy'], 'no-referrer');
  const html = await res.text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/);
  assert.doesNotMatch(html, /style=|<style/);
});

uiTest(env, 'reveal, hide and copy the token', async (page) => {
  await signIn(page, env.server, 'acme-admin');
  const masked = await tokenText(page);
  const full = await revealed(page);
  assert.equal(full.slice(-4), masked.slice(-4));
  assert.equal(await page.getByRole('button', { name: 'Hide token' }).getAttribute('aria-pressed'), 'true');
  await page.getByRole('button', { name: 'Hide token' }).click();
  await page.getByRole('button', { name: 'Reveal token' }).waitFor();
  assert.equal(await tokenText(page), masked);
  // Copy works while masked: the full token lands on the clipboard.
  await page.getByRole('button', { name: 'Copy token' }).click();
  await page.getByText('The token was copied to the clipboard.').waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), full);
  assert.equal(await tokenText(page), masked);
  // The base URL copies too.
  await page.getByRole('button', { name: 'Copy Submission API base URL' }).click();
  await page.getByText('The base URL was copied to the clipboard.').waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), env.server.url);
  // The reveal was audited.
  const provider = await env.server.api('provider');
  const audit = await provider.ok('GET', '/api/v1/provider/auditLog?orgId=1&action=TOKEN_REVEAL');
  assert.ok(audit.items.length >= 1);
}, { clipboard: true });

uiTest(env, 'regenerate: Cancel changes nothing, Ok replaces the token and the old one is refused', async (page) => {
  await signIn(page, env.server, 'acme-admin');
  const old = await revealed(page);
  const before = await page.locator('td[data-col="modifiedOn"]').textContent();
  const navigations = [];
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations.push(f.url()); });

  await page.getByRole('button', { name: 'Regenerate token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Regenerate the Sandbox API Token?' });
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await tokenText(page), old);
  assert.equal(env.server.verify(old).accepted, true);
  assert.equal(await page.locator('td[data-col="modifiedOn"]').textContent(), before);

  // A slow usage read after the change: the message must not come before the new state does.
  await page.route('**/api/v1/sandbox/usage*', async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 700));
    await route.continue();
  });
  await page.getByRole('button', { name: 'Regenerate token' }).click();
  await dialog.getByRole('button', { name: 'Ok' }).click();
  await page.getByText('A new token was generated').waitFor();
  assert.match(await tokenText(page), /^sbx_•+/);
  assert.equal(await page.locator('td[data-col="modifiedBy"]').textContent(), 'acme-admin');
  const fresh = await revealed(page);
  assert.notEqual(fresh, old);
  const refused = env.server.verify(old);
  assert.equal(refused.status, 1, refused.output);
  assert.equal(env.server.verify(fresh).accepted, true);
  assert.deepEqual(navigations, [], 'no page reload');
});

uiTest(env, 'delete the token, then add a new one', async (page) => {
  await signIn(page, env.server, 'acme-admin');
  const old = await revealed(page);
  await page.getByRole('button', { name: 'Delete token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Delete the Sandbox API Token?' });
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await tokenText(page), old);

  await page.getByRole('button', { name: 'Delete token' }).click();
  await dialog.getByRole('button', { name: 'Ok' }).click();
  await page.getByTestId('no-token').waitFor();
  assert.equal(env.server.verify(old).status, 1);
  for (const name of ['Reveal token', 'Copy token', 'Regenerate token', 'Delete token']) {
    assert.equal(await page.getByRole('button', { name }).count(), 0, name);
  }
  await page.screenshot({ path: artifactPath('token-page-no-token') });

  await page.getByRole('button', { name: 'Add Sandbox API Token' }).click();
  await page.getByTestId('token-value').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Add Sandbox API Token' }).count(), 0);
  const added = await revealed(page);
  assert.equal(env.server.verify(added).accepted, true);
});

uiTest(env, 'keyboard only: regenerate with Tab, Enter and Escape', async (page) => {
  await signIn(page, env.server, 'acme-admin');
  const masked = await tokenText(page);
  await tabTo(page, (el) => el.label === 'Regenerate token');
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: 'Regenerate the Sandbox API Token?' });
  await dialog.waitFor();
  // Focus starts on Cancel and stays inside the dialog.
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Cancel');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Ok');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Cancel');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Regenerate token');
  assert.equal(await tokenText(page), masked);

  await page.keyboard.press('Enter');
  await dialog.waitFor();
  await page.keyboard.press('Tab'); // Cancel -> Ok
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Ok');
  await page.keyboard.press('Enter');
  await page.getByText('A new token was generated').waitFor();
  // The message comes before the table is drawn again (after the usage figures are read).
  await page.waitForFunction(
    (m) => document.querySelector('[data-testid="token-value"]').textContent.trim() !== m, masked);
  // Focus stays on the Regenerate button of the refreshed table.
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Regenerate token');
});

uiTest(env, 'every control has an accessible name and the page fits 360 px', async (page) => {
  await signIn(page, env.server, 'acme-admin');
  const unnamed = await page.evaluate(() => [...document.querySelectorAll('button, a[href], input, select, summary, textarea')]
    .filter((el) => {
      const byLabel = el.id && document.querySelector(`label[for="${el.id}"]`);
      const name = (el.getAttribute('aria-label') || el.textContent || '').trim();
      return !name && !byLabel;
    }).map((el) => el.outerHTML));
  assert.deepEqual(unnamed, []);
  await page.setViewportSize({ width: 360, height: 740 });
  await page.getByTestId('token-value').waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `horizontal overflow of ${overflow}px at 360px`);
  await page.getByRole('button', { name: 'Regenerate token' }).isVisible();
});

uiTest(env, 'sign out, and an expired session returns to sign-in with a message', async (page) => {
  await signIn(page, env.server, 'acme-admin');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((u) => u.pathname === '/');
  await page.getByText('You have signed out.').waitFor();
  await page.goto('/admin/sandbox-api-token');
  await page.getByText('Sign in to continue.').waitFor();
  assert.equal(new URL(page.url()).pathname, '/');

  await signIn(page, env.server, 'acme-admin');
  await env.server.advanceClock(31 * 60); // past the 30-minute idle timeout
  await page.getByRole('button', { name: 'Reveal token' }).click();
  await page.getByText('Your session has expired; sign in again.').waitFor();
  assert.equal(new URL(page.url()).pathname, '/');
  await page.getByLabel('Username').waitFor();
  // Signing in again returns to the page the session ended on.
  await page.getByLabel('Username').fill('acme-admin');
  await page.getByLabel('Password').fill(env.server.logins['acme-admin']);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/admin/sandbox-api-token');
  await page.getByTestId('token-value').waitFor();
});
