// Webhook settings (issue 20) in a real browser against a real server and a real receiver on
// 127.0.0.1 (the server runs with --webhook-allow-cidr 127.0.0.1/32): add an endpoint, its secret
// shown once, send a test event and see its delivery with the status code, edit, rotate, delete;
// refusals at the URL field; read-only users; the provider's page; desktop and 390 px.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { after, before } from 'node:test';
import { assertNoOverflow, signIn, suite, uiTest } from './harness.js';

const env = suite({ args: ['--webhook-allow-cidr', '127.0.0.1/32'] });
const received = []; // { headers, body } of every request the receiver got
let receiver = null;
let receiverUrl = '';

before(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${receiver.address().port}/hook`;
});
after(() => new Promise((resolve) => (receiver ? receiver.close(resolve) : resolve())));

// The receiver's check (README, "Webhooks"): HMAC-SHA256 over "id.timestamp.body".
function signedWith(secret, { headers, body }) {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const mac = crypto.createHmac('sha256', key).update(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`).digest('base64');
  return headers['webhook-signature'].split(' ').some((s) => s === 'v1,' + mac);
}

async function waitReceived(n) {
  for (let i = 0; i < 600 && received.length < n; i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(received.length >= n, `the receiver got ${received.length} requests, not ${n}`);
}

async function cleanUp(user, base) {
  const c = await env.server.api(user);
  const l = await c.ok('GET', base);
  for (const e of l.items) await c.ok('DELETE', `${base}/${e.id}`);
}

uiTest(env, 'org admin adds an endpoint, sees its secret once, tests, edits, rotates and deletes it', async (page) => {
  await signIn(page, env.server, 'acme-admin');
  const card = page.getByTestId('webhooks');
  await card.getByTestId('no-webhooks').waitFor();
  await card.getByRole('button', { name: 'Add endpoint' }).click();
  const dialog = page.getByRole('dialog', { name: 'Add a webhook endpoint' });
  await dialog.waitFor();
  // Refusals are shown at the URL field and add nothing.
  const url = dialog.getByLabel('Receiver URL');
  const urlError = dialog.getByTestId('webhook-url-error');
  await url.fill('http://10.0.0.1/hook');
  await dialog.getByRole('button', { name: 'Add endpoint' }).click();
  await urlError.filter({ hasText: 'resolves to 10.0.0.1' }).waitFor();
  assert.equal(await url.getAttribute('aria-invalid'), 'true');
  await url.fill('ftp://example.com/hook');
  await dialog.getByRole('button', { name: 'Add endpoint' }).click();
  await urlError.filter({ hasText: 'The webhook URL is not valid' }).waitFor();
  const admin = await env.server.api('acme-admin');
  assert.deepEqual((await admin.ok('GET', '/api/v1/sandbox/webhooks')).items, []);
  // The default events are every one but token.revealed.
  assert.equal(await dialog.getByLabel(/token\.revealed/).isChecked(), false);
  assert.equal(await dialog.getByLabel(/quota\.warning/).isChecked(), true);
  await url.fill(receiverUrl);
  await dialog.getByLabel('Description (optional)').fill('UI receiver');
  await dialog.getByRole('button', { name: 'Add endpoint' }).click();

  // The secret, once.
  const secretDialog = page.getByRole('dialog', { name: 'Signing secret' });
  await secretDialog.waitFor();
  const secret = (await secretDialog.getByTestId('webhook-secret').textContent()).trim();
  assert.match(secret, /^whsec_[A-Za-z0-9+/]+=*$/);
  await secretDialog.getByRole('button', { name: 'Done' }).click();
  await secretDialog.waitFor({ state: 'detached' });
  assert.equal((await page.content()).includes(secret), false, 'the secret stays on the page');
  const listed = await admin.ok('GET', '/api/v1/sandbox/webhooks');
  assert.equal(listed.items.length, 1);
  assert.equal(JSON.stringify(listed).includes(secret), false);
  const endpoint = card.getByTestId('webhook-endpoint');
  assert.equal((await endpoint.getByTestId('webhook-url').textContent()).trim(), receiverUrl);
  assert.equal((await endpoint.getByTestId('webhook-state').textContent()).trim(), 'Active');
  await endpoint.getByText('UI receiver').waitFor();

  // Send test event: the delivery appears with its status code; the receiver got it signed.
  const before = received.length;
  await endpoint.getByRole('button', { name: 'Send test event' }).click();
  const row = endpoint.locator('[data-testid="delivery-row"][data-event="webhook.test"][data-state="delivered"]');
  await row.waitFor({ timeout: 30000 });
  assert.match(await row.getByTestId('delivery-status-code').textContent(), /HTTP 204/);
  assert.match(await row.textContent(), /\d+ ms/);
  await waitReceived(before + 1);
  const req = received[received.length - 1];
  assert.equal(JSON.parse(req.body).type, 'webhook.test');
  assert.ok(signedWith(secret, req), 'the test event is signed with the secret shown');

  // Edit: the description and the events.
  await endpoint.getByRole('button', { name: 'Edit' }).click();
  const edit = page.getByRole('dialog', { name: 'Edit webhook endpoint' });
  await edit.getByLabel('Description (optional)').fill('Renamed receiver');
  await edit.getByLabel(/token\.revealed/).check();
  await edit.getByRole('button', { name: 'Save' }).click();
  await edit.waitFor({ state: 'detached' });
  await endpoint.getByText('Renamed receiver').waitFor();
  const saved = (await admin.ok('GET', '/api/v1/sandbox/webhooks')).items[0];
  assert.equal(saved.description, 'Renamed receiver');
  assert.ok(saved.events.includes('token.revealed'));

  // Rotate: a new secret, shown once.
  await endpoint.getByRole('button', { name: 'Rotate secret' }).click();
  await page.getByRole('dialog', { name: 'Rotate the signing secret?' }).getByRole('button', { name: 'Rotate' }).click();
  await secretDialog.waitFor();
  const rotated = (await secretDialog.getByTestId('webhook-secret').textContent()).trim();
  assert.match(rotated, /^whsec_/);
  assert.notEqual(rotated, secret);
  await secretDialog.getByRole('button', { name: 'Done' }).click();
  await secretDialog.waitFor({ state: 'detached' });

  // Delete, after a confirmation.
  await endpoint.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('dialog', { name: 'Delete this webhook endpoint?' }).getByRole('button', { name: 'Delete' }).click();
  await card.getByTestId('no-webhooks').waitFor();
  assert.deepEqual((await admin.ok('GET', '/api/v1/sandbox/webhooks')).items, []);
}, { clipboard: true });

uiTest(env, 'a read-only user sees the endpoints and their deliveries without the controls', async (page) => {
  const admin = await env.server.api('acme-admin');
  await admin.ok('POST', '/api/v1/sandbox/webhooks', { url: receiverUrl, description: 'Seen by viewers' });
  try {
    await signIn(page, env.server, 'acme-viewer');
    const card = page.getByTestId('webhooks');
    const endpoint = card.getByTestId('webhook-endpoint');
    await endpoint.getByText('Seen by viewers').waitFor();
    for (const name of ['Add endpoint', 'Send test event', 'Edit', 'Rotate secret']) {
      assert.equal(await card.getByRole('button', { name, exact: true }).count(), 0, name);
    }
    await endpoint.getByRole('button', { name: 'Show deliveries' }).click();
    await endpoint.getByText('No deliveries yet.').waitFor();
  } finally {
    await cleanUp('acme-admin', '/api/v1/sandbox/webhooks');
  }
});

uiTest(env, 'the webhook settings fit a 390 px screen', async (page) => {
  const admin = await env.server.api('acme-admin');
  const ep = await admin.ok('POST', '/api/v1/sandbox/webhooks', {
    url: receiverUrl + '/a/rather/long/path/that/must/wrap/inside/its/card?and=a&query=string',
    description: 'A description long enough to wrap on a phone screen without widening it',
  });
  await admin.ok('POST', `/api/v1/sandbox/webhooks/${ep.id}/test`, {});
  try {
    await signIn(page, env.server, 'acme-admin');
    const endpoint = page.getByTestId('webhook-endpoint');
    await endpoint.getByRole('button', { name: 'Show deliveries' }).click();
    await endpoint.getByTestId('delivery-row').first().waitFor();
    await page.getByTestId('webhooks').scrollIntoViewIfNeeded();
    await assertNoOverflow(page, 'token page with a webhook endpoint at 390 px');
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await page.getByRole('dialog', { name: 'Add a webhook endpoint' }).waitFor();
    await assertNoOverflow(page, 'the add-endpoint dialog at 390 px');
    await page.keyboard.press('Escape');
  } finally {
    await cleanUp('acme-admin', '/api/v1/sandbox/webhooks');
  }
}, { viewport: { width: 390, height: 844 } });

uiTest(env, 'the provider manages provider-wide endpoints on the Webhooks page', async (page) => {
  try {
    await signIn(page, env.server, 'provider');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Webhooks', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/provider/webhooks');
    await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
    const card = page.getByTestId('webhooks');
    await card.getByTestId('no-webhooks').waitFor();
    await card.getByRole('button', { name: 'Add endpoint' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add a webhook endpoint' });
    await dialog.getByLabel('Receiver URL').fill(receiverUrl + '/provider');
    await dialog.getByRole('button', { name: 'Add endpoint' }).click();
    const secretDialog = page.getByRole('dialog', { name: 'Signing secret' });
    const secret = (await secretDialog.getByTestId('webhook-secret').textContent()).trim();
    await secretDialog.getByRole('button', { name: 'Done' }).click();
    await card.getByTestId('webhook-endpoint').waitFor();
    const provider = await env.server.api('provider');
    const l = await provider.ok('GET', '/api/v1/provider/webhooks');
    assert.equal(l.items.length, 1);
    assert.equal(l.items[0].scope, 'provider');
    // A provider-wide endpoint gets every organization's events.
    const before = received.length;
    const admin = await env.server.api('acme-admin');
    await admin.ok('PUT', '/api/v1/sandbox/token');
    await waitReceived(before + 1);
    const got = received.slice(before).find((r) => JSON.parse(r.body).type === 'token.regenerated');
    assert.ok(got && signedWith(secret, got));
    await assertNoOverflow(page, 'the provider webhooks page');
  } finally {
    await cleanUp('provider', '/api/v1/provider/webhooks');
  }
});
