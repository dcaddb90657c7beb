// Regenerates the README's screenshots in docs/screenshots/ from a real `sandgate serve --demo`:
//   node tests/ui/make-screenshots.js
// (not a test: the test runner only picks up *.test.js).
import fs from 'node:fs';
import path from 'node:path';
import { REPO, Server, launchBrowser, newPage, signIn } from './harness.js';

const OUT = path.join(REPO, 'docs/screenshots');
fs.mkdirSync(OUT, { recursive: true });

const server = await new Server().start();
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

  const consolePage = await newPage(browser, server, { viewport: { width: 1100, height: 560 } });
  await signIn(consolePage, server, 'provider');
  await consolePage.getByRole('link', { name: 'Wayne Enterprises' }).waitFor();
  await consolePage.mouse.move(0, 0);
  await consolePage.screenshot({ path: path.join(OUT, 'provider-console.png'), fullPage: true });
  process.stdout.write('wrote docs/screenshots/provider-console.png\n');
} finally {
  await browser.close();
  await server.stop();
}
