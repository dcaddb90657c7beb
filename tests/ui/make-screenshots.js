// Regenerates the README's screenshots in docs/screenshots/ from a real `sandgate serve --demo`:
//   node tests/ui/make-screenshots.js
// (not a test: the test runner only picks up *.test.js).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ApiClient, REPO, Server, launchBrowser, newPage, signIn } from './harness.js';

const OUT = path.join(REPO, 'docs/screenshots');
fs.mkdirSync(OUT, { recursive: true });

const server = await new Server({ args: ['--webhook-allow-cidr', '127.0.0.1/32'] }).start();
const browser = await launchBrowser();
try {
  const provider = await server.api('provider');
  const admin = await server.api('acme-admin');
  // One submission, so the page shows today's usage and the last use.
  const token = (await admin.ok('GET', '/api/v1/sandbox/token/reveal')).token;
  await fetch(`${server.url}/zscsb/submit?api_token=${encodeURIComponent(token)}`, { method: 'POST', body: 'Sandgate screenshot sample\n' });

  const page = await newPage(browser, server, { viewport: { width: 1100, height: 560 } });
  const shot = async (name) => {
    await page.mouse.move(0, 0);
    await page.screenshot({ path: path.join(OUT, name), fullPage: true });
    console.log('wrote docs/screenshots/' + name);
  };

  await signIn(page, server, 'acme-admin');
  await page.getByTestId('token-value').waitFor();
  await shot('token-page-enabled.png');

  // The usage chart and the activity (issue 18): a small allowance nearly used, a few refusals.
  await provider.ok('PATCH', '/api/v1/provider/orgs/1', { dailyAllowance: 5, disableThreshold: 10, ratePerSecond: 1000, ratePerHour: 10000 });
  for (let i = 0; i < 6; i++) {
    const res = await fetch(`${server.url}/zscsb/submit?api_token=${encodeURIComponent(token)}`, { method: 'POST', body: `Sandgate screenshot sample ${i}\n` });
    await res.arrayBuffer();
  }
  await admin.ok('PUT', '/api/v1/sandbox/token');
  await page.reload();
  await page.locator('[data-testid="usage-chart"] canvas').first().waitFor();
  await page.getByTestId('activity-item').first().waitFor();
  await page.getByTestId('usage-chart').scrollIntoViewIfNeeded();
  await page.mouse.move(0, 0);
  await page.locator('section', { has: page.getByRole('heading', { name: 'Usage', exact: true }) })
    .screenshot({ path: path.join(OUT, 'token-page-usage.png') });
  console.log('wrote docs/screenshots/token-page-usage.png');
  await page.getByTestId('activity').screenshot({ path: path.join(OUT, 'token-page-activity.png') });
  console.log('wrote docs/screenshots/token-page-activity.png');
  const phone = await newPage(browser, server, { viewport: { width: 390, height: 844 } });
  await signIn(phone, server, 'acme-admin');
  await phone.getByRole('button', { name: 'Reveal token' }).click();
  await phone.getByRole('button', { name: 'Hide token' }).waitFor();
  await phone.screenshot({ path: path.join(OUT, 'token-page-phone.png') });
  console.log('wrote docs/screenshots/token-page-phone.png');
  await phone.context().close();
  await provider.ok('PATCH', '/api/v1/provider/orgs/1', { dailyAllowance: 100, disableThreshold: 100, ratePerSecond: 1, ratePerHour: 400 });

  await provider.ok('POST', '/api/v1/provider/orgs/1/token/disable', { reason: 'TERMS_VIOLATION', note: 'ticket 42' });
  await page.reload();
  await page.getByText('Disabled by your service provider').waitFor();
  await shot('token-page-disabled.png');

  await provider.ok('POST', '/api/v1/provider/orgs/1/token/enable', {});
  await provider.ok('POST', '/api/v1/provider/orgs/1/subscription', { action: 'expire' });
  await page.reload();
  await page.getByText('Read-only: the sandbox subscription has expired').waitFor();
  await shot('token-page-expired.png');
  await provider.ok('POST', '/api/v1/provider/orgs/1/subscription', { action: 'renew' });

  // A console with organizations in every state.
  const make = async (name, steps) => {
    const org = await provider.ok('POST', '/api/v1/provider/orgs', { name });
    for (const [p, body] of steps) await provider.ok('POST', `/api/v1/provider/orgs/${org.id}${p}`, body);
  };
  await make('Globex Corporation', [['/subscription', { action: 'activate', endsAt: '2027-12-31T00:00:00Z' }]]);
  await make('Initech', [['/subscription', { action: 'activate' }], ['/subscription', { action: 'expire' }]]);
  await make('Umbrella Research', []);
  await make('Wayne Enterprises', [['/subscription', { action: 'activate' }], ['/token/disable', { reason: 'QUOTA_THRESHOLD' }]]);
  await make('Stark Industries', [['/subscription', { action: 'activate' }]]);
  await page.context().close();

  // Provider console (issue 18): 14 days of traffic for the overview's chart, through the test
  // clock (SANDGATE_TEST_CLOCK_FILE): Acme within its allowance, Stark over it on some days.
  await provider.ok('PATCH', '/api/v1/provider/orgs/1', { ratePerSecond: 1000, ratePerHour: 100000 });
  const stark = (await provider.ok('GET', '/api/v1/provider/orgs?search=Stark')).items[0].id;
  await provider.ok('PATCH', `/api/v1/provider/orgs/${stark}`, { dailyAllowance: 4, disableThreshold: 50, ratePerSecond: 1000, ratePerHour: 100000 });
  const starkUser = await provider.ok('POST', `/api/v1/provider/orgs/${stark}/users`, { username: 'stark-admin', role: 'ORG_ADMIN' });
  const starkApi = new ApiClient(server.url);
  await starkApi.login('stark-admin', starkUser.password);
  const starkToken = (await starkApi.ok('GET', '/api/v1/sandbox/token/reveal')).token;
  const submit = (tok, n) => fetch(`${server.url}/zscsb/submit?api_token=${encodeURIComponent(tok)}`, { method: 'POST', body: `Sandgate screenshot sample ${n}\n` }).then((r) => r.arrayBuffer());
  await server.advanceClock(-13 * 86400);
  for (let d = 0; d < 14; d++) {
    for (let i = 0; i < 3 + ((d * 7) % 5); i++) await submit(token, `${d}-${i}`);
    for (let i = 0; i < (d % 3 === 0 ? 6 : 3); i++) await submit(starkToken, `s${d}-${i}`);
    if (d < 13) await server.advanceClock(86400);
  }
  await provider.ok('PATCH', `/api/v1/provider/orgs/${stark}`, { disableThreshold: 3 }); // near it today
  const soon = new Date(Date.now() + server.clockOffset * 1000 + 6 * 86400000).toISOString().slice(0, 10);
  await provider.ok('POST', '/api/v1/provider/orgs', { name: 'Hooli' });
  const hooli = (await provider.ok('GET', '/api/v1/provider/orgs?search=Hooli')).items[0].id;
  await provider.ok('POST', `/api/v1/provider/orgs/${hooli}/subscription`, { action: 'activate', endsAt: `${soon}T00:00:00Z` });

  const consolePage = await newPage(browser, server, { viewport: { width: 1100, height: 560 } });
  const shotOf = async (p, name) => {
    await p.mouse.move(0, 0);
    await p.screenshot({ path: path.join(OUT, name), fullPage: true });
    process.stdout.write(`wrote docs/screenshots/${name}\n`);
  };
  await signIn(consolePage, server, 'provider');
  await consolePage.getByTestId('days-chart').locator('canvas').waitFor();
  await shotOf(consolePage, 'provider-overview.png');
  await consolePage.goto('/provider/orgs?sort=-usage');
  await consolePage.getByRole('link', { name: 'Wayne Enterprises' }).waitFor();
  await shotOf(consolePage, 'provider-console.png');
  await consolePage.goto(`/provider/audit`);
  await consolePage.getByRole('table', { name: 'Audit entries' }).waitFor();
  await consolePage.setViewportSize({ width: 1100, height: 900 });
  await consolePage.screenshot({ path: path.join(OUT, 'provider-audit.png') });
  process.stdout.write('wrote docs/screenshots/provider-audit.png\n');
  await consolePage.context().close();
  const consolePhone = await newPage(browser, server, { viewport: { width: 390, height: 844 } });
  await signIn(consolePhone, server, 'provider');
  await consolePhone.getByTestId('days-chart').locator('canvas').waitFor();
  await shotOf(consolePhone, 'provider-overview-390.png');
  await consolePhone.goto(`/provider/orgs/${stark}`);
  await consolePhone.getByRole('region', { name: 'Recent activity' }).waitFor();
  await consolePhone.getByLabel('Rate per hour').fill('-5');
  await consolePhone.getByRole('button', { name: 'Save settings' }).click();
  await consolePhone.getByText('Enter a whole number, 0 or more.').waitFor();
  await consolePhone.getByLabel('Rate per hour').scrollIntoViewIfNeeded();
  await consolePhone.screenshot({ path: path.join(OUT, 'provider-org-form-390.png') });
  process.stdout.write('wrote docs/screenshots/provider-org-form-390.png\n');
  await consolePhone.context().close();

  // Webhooks (issue 20): an endpoint with a delivered test event, and one whose receiver is down.
  const hook = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => { res.writeHead(204); res.end(); });
  });
  await new Promise((resolve) => hook.listen(0, '127.0.0.1', resolve));
  const hooks = await server.api('acme-admin');
  const ep = await hooks.ok('POST', '/api/v1/sandbox/webhooks', {
    url: `http://127.0.0.1:${hook.address().port}/sandgate`, description: 'On-call pager',
    events: ['token.disabled', 'token.enabled', 'quota.warning', 'quota.exhausted', 'subscription.expiring'],
  });
  await hooks.ok('POST', `/api/v1/sandbox/webhooks/${ep.id}/test`, {});
  await hooks.ok('POST', '/api/v1/sandbox/webhooks', { url: 'http://127.0.0.1:9/staging', description: 'Staging (offline)', events: ['token.regenerated'] });
  const hookPage = await newPage(browser, server, { viewport: { width: 1100, height: 700 } });
  await signIn(hookPage, server, 'acme-admin');
  const first = hookPage.getByTestId('webhook-endpoint').first();
  await first.getByRole('button', { name: 'Show deliveries' }).click();
  await first.locator('[data-testid="delivery-row"][data-state="delivered"]').waitFor();
  await hookPage.mouse.move(0, 0);
  await hookPage.getByTestId('webhooks').screenshot({ path: path.join(OUT, 'token-page-webhooks.png') });
  process.stdout.write('wrote docs/screenshots/token-page-webhooks.png\n');
  await hookPage.context().close();
  hook.close();
} finally {
  await browser.close();
  await server.stop();
}
