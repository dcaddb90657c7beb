// The provider console for many organizations (issue 18, items 11-14): the overview as the home
// page, the organization list's filters and sort, field-level form validation, a readable audit
// log; and no horizontal overflow at 390 px on any provider page.
import assert from 'node:assert/strict';
import { signIn, suite, uiTest, waitLoaded } from './harness.js';

const env = suite();
const PHONE = { viewport: { width: 390, height: 844 } };
const DAY = 86400000;
const dateOnly = (ms) => new Date(ms).toISOString().slice(0, 10);

// Acme: 2 accepted and 2 over-quota submissions today (allowance 2, threshold 2: near it, not
// past it); one organization ending in 5 days, one disabled for "Other", one without anything.
const SETTINGS_CHANGES = 55;
const ids = {};
let seeded = null;
const seed = () => (seeded = seeded || seedOnce());
async function seedOnce() {
  const provider = await env.server.api('provider');
  await provider.ok('PATCH', '/api/v1/provider/orgs/1', { dailyAllowance: 2, disableThreshold: 2, ratePerSecond: 1000, ratePerHour: 100000 });
  const admin = await env.server.api('acme-admin');
  const token = (await admin.ok('GET', '/api/v1/sandbox/token/reveal')).token;
  const codes = [];
  for (let i = 0; i < 4; i++) {
    const r = await fetch(`${env.server.url}/zscsb/submit?api_token=${encodeURIComponent(token)}`, { method: 'POST', body: `provider console sample ${i}\n` });
    codes.push(r.status);
    await r.arrayBuffer();
  }
  assert.deepEqual(codes.map((c) => (c === 429 ? 429 : c < 300 ? 200 : c)), [200, 200, 429, 429], `submissions: ${codes}`);
  const mk = async (name) => (await provider.ok('POST', '/api/v1/provider/orgs', { name })).id;
  ids.expiring = await mk('Zeta Expiring');
  await provider.ok('POST', `/api/v1/provider/orgs/${ids.expiring}/subscription`, { action: 'activate', endsAt: new Date(Date.now() + 5 * DAY).toISOString().replace(/\.\d+Z$/, 'Z') });
  ids.disabled = await mk('Eta Disabled');
  await provider.ok('POST', `/api/v1/provider/orgs/${ids.disabled}/subscription`, { action: 'activate' });
  await provider.ok('POST', `/api/v1/provider/orgs/${ids.disabled}/token/disable`, { reason: 'OTHER' });
  ids.bare = await mk('Theta New');
  // Enough audit entries for a second page of the full log.
  for (let i = 0; i < SETTINGS_CHANGES; i++) await provider.ok('PATCH', `/api/v1/provider/orgs/${ids.bare}`, { ratePerHour: 500 + i });
}

const rowNames = (page) => page.getByRole('table', { name: 'Organizations' }).locator('td[data-label="Organization"] a').allTextContents();

async function noOverflow(page, what) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `${what}: horizontal overflow of ${overflow}px at ${page.viewportSize().width}px`);
}

async function checkOverview(page) {
  await seed();
  await signIn(page, env.server, 'provider'); // lands on /provider: the overview
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  const api = await (await env.server.api('provider')).ok('GET', '/api/v1/provider/overview');
  const num = async (key) => Number((await page.getByTestId(`stat-${key}`).locator('.stat-num').textContent()).replace(/,/g, ''));
  assert.equal(await num('enabled'), api.tokenStates.enabled);
  assert.equal(await num('providerDisabled'), 1);
  assert.equal(await num('noSubscription'), api.tokenStates.noSubscription);
  assert.equal(await num('nearThreshold'), 1);
  assert.equal(await num('over80'), 1);
  assert.equal(await num('expiring'), 1);
  assert.equal(await num('reason-OTHER'), 1);
  assert.equal(await num('reason-TERMS_VIOLATION'), 0);
  // The day's submissions and refusals: a chart, with the numbers as text and a table.
  assert.match(await page.getByTestId('days-summary').textContent(), /Today: 2 accepted, 2 refused\.$/);
  await page.getByTestId('days-chart').locator('canvas').waitFor();
  assert.equal(await page.getByRole('table', { name: 'Submissions per day', includeHidden: true }).locator('tbody tr').count(), 14);
  const top = page.getByRole('table', { name: 'Top organizations by usage today' });
  assert.deepEqual(await top.locator('td[data-label="Organization"]').allTextContents(), ['Acme Corp']);
  assert.match(await top.locator('td[data-label="Accepted today / allowance"]').textContent(), /^2 \/ 2/);
  await noOverflow(page, '/provider');
  // Each count links to the filtered list.
  await page.getByTestId('stat-nearThreshold').click();
  await page.waitForURL((u) => u.pathname === '/provider/orgs' && u.searchParams.get('filter') === 'nearThreshold');
  await page.getByRole('table', { name: 'Organizations' }).waitFor();
  assert.deepEqual(await rowNames(page), ['Acme Corp']);
  await noOverflow(page, '/provider/orgs?filter=nearThreshold');
  await page.goBack();
  await page.getByTestId('stat-reason-OTHER').click();
  await page.waitForURL((u) => u.searchParams.get('reason') === 'OTHER');
  await page.getByRole('table', { name: 'Organizations' }).waitFor();
  assert.deepEqual(await rowNames(page), ['Eta Disabled']);
  assert.equal(await page.getByLabel('Disable reason').inputValue(), 'OTHER');
  await page.goBack();
  await page.getByTestId('stat-expiring').click();
  await page.getByRole('table', { name: 'Organizations' }).waitFor();
  assert.deepEqual(await rowNames(page), ['Zeta Expiring']);
}

uiTest(env, 'overview (item 11): counts by state, reason, attention; 14-day chart; top organizations; each links to the filtered list', checkOverview);
uiTest(env, 'overview (item 11) at 390 px', checkOverview, PHONE);

async function checkList(page) {
  await seed();
  await signIn(page, env.server, 'provider');
  await page.getByRole('link', { name: 'Organizations', exact: true }).click();
  await page.waitForURL((u) => u.pathname === '/provider/orgs');
  const table = page.getByRole('table', { name: 'Organizations' });
  await table.waitFor();
  // Sorted by name by default; usage today and state columns.
  assert.deepEqual(await rowNames(page), ['Acme Corp', 'Eta Disabled', 'Theta New', 'Zeta Expiring']);
  const acme = table.locator('tbody tr').first();
  assert.match(await acme.locator('td[data-label="Usage today"]').textContent(), /^2 \/ 2/);
  assert.equal(await acme.locator('.usage-fill').getAttribute('class'), 'usage-fill usage-full');
  assert.match(await acme.locator('td[data-label="Refused over quota today"]').textContent(), /^2 \/ 2$/);
  assert.match(await table.locator('tbody tr').nth(2).locator('td[data-label="Token status"]').textContent(), /No token/);
  await noOverflow(page, '/provider/orgs');
  await page.getByLabel('Sort by').selectOption('-name');
  await page.waitForURL((u) => u.searchParams.get('sort') === '-name');
  assert.deepEqual(await rowNames(page), ['Zeta Expiring', 'Theta New', 'Eta Disabled', 'Acme Corp']);
  await page.getByLabel('Sort by').selectOption('-usage');
  await page.waitForURL((u) => u.searchParams.get('sort') === '-usage');
  assert.equal((await rowNames(page))[0], 'Acme Corp');
  for (const [filter, names] of [['over80', ['Acme Corp']], ['expiring', ['Zeta Expiring']], ['disabled', ['Eta Disabled', 'Theta New']], ['noToken', ['Theta New']]]) {
    await page.getByLabel('Show').selectOption(filter);
    await page.waitForURL((u) => u.searchParams.get('filter') === filter);
    await page.waitForFunction(() => !document.querySelector('#main [aria-busy="true"]'));
    assert.deepEqual((await rowNames(page)).sort(), names, filter);
    await noOverflow(page, `/provider/orgs?filter=${filter}`);
  }
  // A filtered list is a link of its own (reload, bookmark).
  await page.goto('/provider/orgs?filter=expiring&sort=endsAt');
  await page.getByRole('table', { name: 'Organizations' }).waitFor();
  assert.deepEqual(await rowNames(page), ['Zeta Expiring']);
  assert.equal(await page.getByLabel('Show').inputValue(), 'expiring');
  assert.equal(await page.getByLabel('Sort by').inputValue(), 'endsAt');
  await page.getByLabel('Search organizations').fill('zzz');
  await page.getByText('No organization matches “zzz” with this filter.').waitFor();
}

uiTest(env, 'organization list (item 12): usage and state columns, sort, filters', checkList);
uiTest(env, 'organization list (item 12) at 390 px', checkList, PHONE);

async function checkForms(page) {
  await seed();
  await signIn(page, env.server, 'provider');
  // Settings: the message is beside the field, and what was typed stays.
  await page.goto('/provider/orgs/1');
  const settings = page.getByRole('region', { name: 'Quota settings' });
  const perHour = settings.getByLabel('Rate per hour');
  await perHour.fill('-5');
  await settings.getByRole('button', { name: 'Save settings' }).click();
  await settings.locator('#set-ratePerHour-msg').getByText('Enter a whole number, 0 or more.').waitFor();
  assert.equal(await perHour.inputValue(), '-5');
  assert.equal(await perHour.getAttribute('aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'set-ratePerHour');
  assert.equal(await page.locator('#main .notice-error').count(), 0, 'no error at the top of the page');
  await perHour.fill('100000');
  // Disable: no reason is chosen in advance; the provider must choose one.
  const token = page.getByRole('region', { name: 'Token' });
  assert.equal(await token.getByLabel('Reason').inputValue(), '');
  await token.getByRole('button', { name: 'Disable token' }).click();
  await token.getByText('Choose the reason for disabling the token.').waitFor();
  assert.equal(await page.getByRole('dialog').count(), 0);
  await noOverflow(page, '/provider/orgs/1');

  // No "Disable token" without a token; the date picker refuses past dates, beside the field.
  await page.goto(`/provider/orgs/${ids.bare}`);
  await page.getByRole('heading', { name: 'Theta New', level: 1 }).waitFor();
  await waitLoaded(page);
  assert.equal(await page.getByRole('button', { name: 'Disable token' }).count(), 0);
  const sub = page.getByRole('region', { name: 'Subscription' });
  const end = sub.getByLabel('End date');
  assert.equal(await end.getAttribute('min'), dateOnly(Date.now() + DAY));
  await end.fill('2001-01-01');
  await sub.getByRole('button', { name: 'Activate subscription' }).click();
  await sub.getByText('Choose a date after today: the subscription ends at 00:00 UTC on that day.').waitFor();
  assert.equal(await end.inputValue(), '2001-01-01', 'the date typed is kept');
  assert.equal(await sub.getByText('No subscription').count(), 1, 'nothing changed');
  await noOverflow(page, `/provider/orgs/${ids.bare}`);
  // Messages are sentences: a capital first letter and a full stop.
  const messages = await page.locator('.field-error:not(:empty)').allTextContents();
  assert.ok(messages.length >= 1);
  for (const m of messages) assert.match(m, /^[A-Z].*\.$/, m);
}

uiTest(env, 'forms (item 13): messages beside the field, no default disable reason, no disable without a token, no past dates', checkForms);
uiTest(env, 'forms (item 13) at 390 px', checkForms, PHONE);

async function checkAudit(page) {
  await seed();
  await signIn(page, env.server, 'provider');
  await page.goto(`/provider/orgs/${ids.bare}`);
  const recent = page.getByRole('region', { name: 'Recent activity' });
  await recent.getByRole('table').waitFor();
  assert.equal(await recent.locator('tbody tr').count(), 5, 'a short list on the organization page');
  await recent.getByText('Changed the settings').first().waitFor();
  await recent.getByText(`ratePerHour: ${500 + SETTINGS_CHANGES - 2} → ${500 + SETTINGS_CHANGES - 1}`).waitFor();
  await noOverflow(page, `/provider/orgs/${ids.bare}`);
  await recent.getByRole('link', { name: 'See the full audit log' }).click();
  await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
  assert.equal(new URL(page.url()).searchParams.get('orgId'), String(ids.bare));
  const table = page.getByRole('table', { name: 'Audit entries' });
  await table.waitFor();
  // Organization names, not ids; actions in words; roles whole.
  assert.deepEqual(new Set(await table.locator('td[data-label="Organization"]').allTextContents()), new Set(['Theta New']));
  assert.ok((await table.locator('td[data-label="What"]').allTextContents()).includes('Changed the settings'));
  assert.equal(await table.getByText('ORG_UPDATE', { exact: true }).count(), 0);
  const role = table.locator('.actor-role').first();
  assert.equal(await role.textContent(), 'Provider administrator');
  assert.equal(await role.evaluate((el) => getComputedStyle(el).whiteSpace), 'nowrap');
  assert.ok(await role.evaluate((el) => el.getBoundingClientRect().right <= el.closest('td').getBoundingClientRect().right + 1), 'the role fits its cell');
  await noOverflow(page, '/provider/audit');
  // Paged: 50 entries per page, older and newer.
  assert.equal(await table.locator('tbody tr').count(), 50);
  await page.getByRole('button', { name: 'Older entries' }).click();
  await page.getByTestId('audit-count').getByText(/^Entries 51–\d+, newest first · page 2$/).waitFor();
  await page.getByRole('button', { name: 'Newer entries' }).click();
  await page.getByTestId('audit-count').getByText('Entries 1–50, newest first · page 1').waitFor();
  // The action filter is in words too.
  await page.getByLabel('What').selectOption({ label: 'Disabled the token' });
  await page.getByLabel('Organization ID').fill('');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.waitForURL((u) => u.searchParams.get('action') === 'TOKEN_DISABLE');
  assert.deepEqual(new Set(await table.locator('td[data-label="What"]').allTextContents()), new Set(['Disabled the token']));
  assert.ok((await table.locator('td[data-label="Organization"]').allTextContents()).includes('Eta Disabled'));
}

uiTest(env, 'audit log (item 14): words, names, whole roles, old → new, short list on the org page, paged full log', checkAudit);
uiTest(env, 'audit log (item 14) at 390 px', checkAudit, PHONE);
