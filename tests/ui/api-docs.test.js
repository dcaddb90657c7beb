// The API reference page (/docs/api): Swagger UI, embedded in the binary, renders the served
// contract under the server's unchanged CSP (uiTest fails on any console error, CSP violation
// included, and on any request that leaves the server).
import assert from 'node:assert/strict';
import { suite, uiTest } from './harness.js';

const env = suite();

uiTest(env, 'the API reference renders every operation of the contract', async (page) => {
  const offsite = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(env.server.url + '/') && !r.url().startsWith('data:')) offsite.push(r.url());
  });
  const violations = [];
  await page.exposeFunction('reportCspViolation', (v) => violations.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      window.reportCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`));
  });
  const res = await page.goto('/docs/api');
  assert.equal(res.headers()['content-security-policy'], "default-src 'self'; frame-ancestors 'none'");
  await page.getByRole('heading', { name: /Sandgate API/ }).first().waitFor();
  const doc = await (await page.request.get('/api/v1/openapi.json')).json();
  // Swagger UI shows an operation once under each of its tags.
  let operations = 0;
  for (const p of Object.values(doc.paths)) {
    for (const [k, op] of Object.entries(p)) if (k !== 'parameters') operations += op.tags.length;
  }
  assert.ok(operations > 30);
  await page.locator('.opblock').nth(operations - 1).waitFor();
  assert.equal(await page.locator('.opblock').count(), operations);
  // One operation opened: its responses, with the documented statuses, are rendered.
  await page.locator('#operations-Submission-submitFile .opblock-summary').click();
  const responses = page.locator('#operations-Submission-submitFile .responses-table');
  await responses.getByText('429', { exact: true }).first().waitFor();
  // Open a schema too (models use the styles and images of the bundled CSS).
  await page.locator('.models-control').first().click().catch(() => {});
  await page.waitForTimeout(300);
  assert.deepEqual(violations, []);
  assert.deepEqual(offsite, []);
});
