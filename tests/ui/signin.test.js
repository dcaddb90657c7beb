// Sign-in: wrong credentials, throttling, deep links, and the provider's landing page.
import assert from 'node:assert/strict';
import { signIn, suite, uiTest } from './harness.js';

const env = suite();

async function attempt(page, username, password) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

uiTest(env, 'wrong password shows a clear message', async (page) => {
  await page.goto('/');
  await page.getByRole('heading', { name: 'Sign in to Sandgate' }).waitFor();
  await attempt(page, 'acme-admin', 'not-the-password');
  await page.getByRole('alert').getByText('The username or password is not correct.').waitFor();
  assert.equal(new URL(page.url()).pathname, '/');
  assert.equal(await page.getByLabel('Password').inputValue(), '');
  // Empty fields are caught before any request.
  await page.getByLabel('Username').fill('');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Enter your username and password.').waitFor();
});

uiTest(env, 'a provider admin lands on the console', async (page) => {
  await signIn(page, env.server, 'provider');
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor(); // the console's home
  await page.getByTestId('stat-enabled').waitFor();
  // The provider has no token page of its own: the API's refusal is shown in words.
  await page.goto('/admin/sandbox-api-token');
  await page.getByRole('alert').getByText('Provider administrators manage tokens').waitFor();
});

uiTest(env, 'a deep link asks for sign-in first, then opens the page', async (page) => {
  await page.goto('/provider/audit');
  await page.getByText('Sign in to continue.').waitFor();
  assert.equal(new URL(page.url()).pathname, '/');
  await attempt(page, 'provider', env.server.logins.provider);
  await page.waitForURL((u) => u.pathname === '/provider/audit');
  await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
});

uiTest(env, 'too many failed attempts show when to try again', async (page) => {
  await page.goto('/');
  let text = '';
  for (let i = 0; i < 8 && !/Too many attempts/.test(text); i++) {
    await attempt(page, 'mallory', 'wrong-password-' + i);
    await page.getByRole('alert').waitFor();
    await page.waitForFunction(() => !document.querySelector('button[type="submit"]').disabled);
    text = await page.getByRole('alert').textContent();
  }
  assert.match(text, /^Too many attempts; try again in (1 second|\d+ seconds)\.$/);
});
