// Harness for the browser tests: starts the real `sandgate serve --demo` on a free port with a
// temporary data directory (like tests/blackbox/harness.py), drives Debian's Chromium through
// playwright-core, and offers a small JSON API client for setting up state.
//
// Environment:
//   SANDGATE_BIN      the binary under test (default build/release/sandgate)
//   SANDGATE_WEB_DIR  serve the portal from this directory (--web-dir) instead of the embedded copy
//   CHROMIUM_BIN      the browser (default /usr/bin/chromium)
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { after, before } from 'node:test';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '../..');
export const BIN = path.resolve(REPO, process.env.SANDGATE_BIN || 'build/release/sandgate');
export const ARTIFACTS = path.join(REPO, 'tests/artifacts');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Server {
  // config: text of a TOML config file passed with --config (e.g. the support contact keys).
  // args: more `serve` flags (e.g. --webhook-allow-cidr 127.0.0.1/32).
  constructor({ config = null, args = [] } = {}) {
    this.config = config;
    this.args = args;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sandgate-ui-'));
    this.data = path.join(this.dir, 'data');
    this.clockFile = path.join(this.dir, 'clock');
    this.clockOffset = 0;
    fs.writeFileSync(this.clockFile, '0');
    this.logins = {};
    this.proc = null;
    this.port = null;
  }

  env() {
    return { ...process.env, SANDGATE_TEST_CLOCK_FILE: this.clockFile };
  }

  async start() {
    const args = ['serve', '--demo', '--listen', '127.0.0.1:0', '--data', this.data];
    args.push(...this.args);
    if (process.env.SANDGATE_WEB_DIR) args.push('--web-dir', path.resolve(REPO, process.env.SANDGATE_WEB_DIR));
    if (this.config !== null) {
      const file = path.join(this.dir, 'sandgate.toml');
      fs.writeFileSync(file, this.config);
      args.push('--config', file);
    }
    this.stdout = '';
    this.proc = spawn(BIN, args, { env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (d) => { this.stdout += d; });
    this.proc.stderr.on('data', (d) => { this.stdout += d; });
    const exited = new Promise((resolve) => this.proc.once('exit', resolve));
    const log = path.join(this.data, 'sandgate.log');
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error('sandgate exited: ' + this.stdout);
      if (fs.existsSync(log)) {
        const m = /sandgate \S+ listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(fs.readFileSync(log, 'utf8'))
          || /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(fs.readFileSync(log, 'utf8'));
        if (m && /These passwords are shown once/.test(this.stdout)) {
          this.port = Number(m[1]);
          break;
        }
      }
      await Promise.race([sleep(50), exited]);
    }
    if (!this.port) throw new Error('sandgate did not start: ' + this.stdout);
    // "  org admin (Acme):  acme-admin   / PASSWORD"
    for (const m of this.stdout.matchAll(/(provider|acme-admin|acme-viewer)\s*\/ (\S+)/g)) this.logins[m[1]] = m[2];
    for (const u of ['provider', 'acme-admin', 'acme-viewer']) if (!this.logins[u]) throw new Error('no demo password for ' + u + ': ' + this.stdout);
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  // Moves the server's clock (the SANDGATE_TEST_CLOCK_FILE seam) forward.
  async advanceClock(seconds) {
    this.clockOffset += seconds;
    fs.writeFileSync(this.clockFile, String(this.clockOffset));
    await sleep(150); // the server re-reads the file at most every 50 ms
  }

  // `sandgate token verify -` with the token on standard input: true when accepted (exit 0).
  verify(token) {
    const p = spawnSync(BIN, ['token', 'verify', '-', '--data', this.data], { input: token + '\n', env: this.env(), encoding: 'utf8', timeout: 60000 });
    if (p.status !== 0 && p.status !== 1) throw new Error(`token verify exited ${p.status}: ${p.stderr}`);
    return { accepted: p.status === 0, status: p.status, output: p.stdout + p.stderr };
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null) {
      const exited = new Promise((resolve) => this.proc.once('exit', resolve));
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.proc.kill('SIGKILL'), 20000);
      await exited;
      clearTimeout(t);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  // A JSON API client signed in as `user` (for setting up and checking state, not for the UI).
  async api(user) {
    const c = new ApiClient(this.url);
    await c.login(user, this.logins[user]);
    return c;
  }
}

export class ApiClient {
  constructor(base) {
    this.base = base;
    this.cookie = null;
    this.csrf = null;
  }

  async request(method, p, body) {
    const headers = { Accept: 'application/json' };
    if (this.cookie) headers.Cookie = this.cookie;
    if (this.csrf && method !== 'GET') headers['X-CSRF-Token'] = this.csrf;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(this.base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    return { status: res.status, json, headers: res.headers, text };
  }

  async login(username, password) {
    const r = await this.request('POST', '/api/v1/authenticatedSession', { username, password });
    if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${r.text}`);
    this.cookie = /sg_session=[^;]*/.exec(r.headers.get('set-cookie'))[0];
    this.csrf = r.json.csrfToken;
    return r;
  }

  async ok(method, p, body) {
    const r = await this.request(method, p, body);
    if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
    return r.json;
  }
}

// --- Browser.
export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // playwright-core gives each launch a fresh temporary user data directory and removes it after.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// A fresh browser context (own cookies and storage) that records console errors, page errors and
// Content-Security-Policy violations: a test fails if the page produced any.
export async function newPage(browser, server, { viewport = { width: 1280, height: 860 }, clipboard = false } = {}) {
  const context = await browser.newContext({
    baseURL: server.url,
    viewport,
    permissions: clipboard ? ['clipboard-read', 'clipboard-write'] : [],
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push('page error: ' + e.message));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    // A refused API call logs "Failed to load resource: ... 4xx": that is the page working as
    // designed (it then shows the message). Anything else (CSP, script errors) is a problem.
    if (/Failed to load resource: the server responded with a status of (4\d\d)/.test(text)) return;
    page.problems.push('console: ' + text);
  });
  return page;
}

export async function signIn(page, server, user, { expectPath } = {}) {
  await page.goto('/');
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(server.logins[user]);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const target = expectPath || (user === 'provider' ? '/provider' : '/admin/sandbox-api-token');
  await page.waitForURL((u) => u.pathname === target);
  await page.getByRole('heading', { level: 1 }).waitFor();
  await waitLoaded(page);
}

// Waits until the page's first API calls have answered (no region is aria-busy any more).
export async function waitLoaded(page) {
  await page.waitForFunction(() => !document.querySelector('#main [aria-busy="true"]'));
}

export function artifactPath(name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name.replace(/[^a-z0-9_.-]+/gi, '-').replace(/^-|-$/g, '').toLowerCase() + '.png');
}

// Defines one browser test: a fresh context and page, a screenshot as the test's artefact
// (tests/artifacts/<test name>.png, also on failure), and no console errors or CSP violations.
export function uiTest(env, name, fn, options = {}) {
  test(name, async () => {
    const page = await newPage(env.browser, env.server, options);
    let failed = false;
    try {
      await fn(page);
      if (page.problems.length) throw new Error('the page reported problems:\n' + page.problems.join('\n'));
    } catch (e) {
      failed = true;
      throw e;
    } finally {
      await page.screenshot({ path: artifactPath(name), fullPage: true }).catch((e) => {
        if (!failed) throw e;
      });
      await page.context().close();
    }
  });
}

// Starts one server and one browser for a test file; stops both at the end.
export function suite(serverOptions = {}) {
  const env = { server: null, browser: null };
  before(async () => {
    env.server = await new Server(serverOptions).start();
    env.browser = await launchBrowser();
  });
  after(async () => {
    if (env.browser) await env.browser.close();
    if (env.server) await env.server.stop();
  });
  return env;
}

// Focuses the control with this accessible name using the Tab key only (at most `max` presses).
export async function tabTo(page, matches, max = 60) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const info = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el) return null;
      return { label: el.getAttribute('aria-label') || el.textContent.trim(), tag: el.tagName };
    });
    if (info && matches(info)) return info;
  }
  throw new Error('no focusable control matched after ' + max + ' Tab presses');
}

// No horizontal overflow: the document is no wider than the viewport (checked at 390 px).
export async function assertNoOverflow(page, what) {
  const r = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth }));
  if (r.sw > r.cw) throw new Error(`${what}: horizontal overflow (${r.sw}px wide in a ${r.cw}px viewport)`);
}
