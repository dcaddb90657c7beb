// Sandgate web portal: session, header, client-side routing (history.pushState).
// Pages live in token.js (organization) and provider.js (provider console).
import { ApiError, del, get, lastActivityAt, onUnauthorized, post, setCsrfToken } from './api.js';
import { clear, errorBox, h, icon, label, notice, plural, toast } from './dom.js';
import { renderTokenPage } from './token.js';
import { renderAuditPage, renderOrgList, renderOrgPage, renderOverview } from './provider.js';
import { renderWebhooksPage } from './webhooks.js';
import { renderSettingsPage } from './settings.js';

const TOKEN_PATH = '/admin/sandbox-api-token';
const PROVIDER_PATH = '/provider';

const state = {
  user: null, // {id, username, role, orgId}
  flash: null, // {kind, text}: shown once on the next page (e.g. on the sign-in form)
  next: null, // where to go after signing in again
  generation: 0, // increments on each navigation; stale async renders check it
  pageNotice: null, // {kind, text}: shown once at the top of the next signed-in page
  lastUsername: '', // prefilled on the sign-in form after a session ended
  focusHeading: false, // after signing in, focus lands on the page's heading
  idleTimeoutMs: 30 * 60 * 1000, // the server's idle timeout (idleTimeoutSeconds)
};

// The page's one-time notice (e.g. "the token was not regenerated"), taken by the page that shows it.
export function takePageNotice() {
  const n = state.pageNotice;
  state.pageNotice = null;
  return n;
}

function setSession(s) {
  state.user = s.user;
  setCsrfToken(s.csrfToken);
  if (Number.isInteger(s.idleTimeoutSeconds) && s.idleTimeoutSeconds > 0) state.idleTimeoutMs = s.idleTimeoutSeconds * 1000;
}

// What a change refused because the session had ended did not do.
function lostChange(err) {
  if (!err.method || err.method === 'GET' || err.method === 'HEAD') return null;
  if (err.path === '/api/v1/sandbox/token') {
    if (err.method === 'PUT') return 'so the token was not regenerated. Regenerate it again if you still want a new token.';
    if (err.method === 'DELETE') return 'so the token was not deleted. Delete it again if you still want to.';
    if (err.method === 'POST') return 'so no token was added. Add it again if you still want one.';
  }
  return 'so your last change was not made. Make it again if you still want it.';
}

// --- Session expiry warning: two minutes before the idle timeout (counted from the last request
// that was not a background refresh), with a button that keeps the session.
const WARN_BEFORE_MS = 2 * 60 * 1000;
function sessionWarningTick() {
  let bar = document.getElementById('session-warning');
  if (!state.user) {
    if (bar) bar.remove();
    return;
  }
  const left = state.idleTimeoutMs - (Date.now() - lastActivityAt());
  if (left > WARN_BEFORE_MS) {
    if (bar) bar.remove();
    return;
  }
  const minutes = Math.max(1, Math.ceil(left / 60000));
  const text = left > 0
    ? `Your session ends in ${plural(minutes, 'minute')} without activity; unsaved actions would then need signing in again.`
    : 'Your session has probably ended; the next action will ask you to sign in again.';
  if (!bar) {
    const stay = h('button', {
      type: 'button', class: 'btn btn-small btn-primary', id: 'stay-signed-in',
      onclick: async () => {
        try {
          setSession(await get('/api/v1/authenticatedSession'));
          toast('You are still signed in.');
        } catch {
          // a 401 takes the user to sign-in; other failures leave the warning up
        }
        sessionWarningTick();
      },
    }, 'Stay signed in');
    bar = h('div', { id: 'session-warning', class: 'session-warning notice notice-warning', role: 'alert' },
      h('p', { class: 'session-warning-text' }, text), h('p', null, stay));
    document.body.append(bar);
  } else {
    bar.querySelector('.session-warning-text').textContent = text;
  }
}

export function currentUser() {
  return state.user;
}

function homeFor(user) {
  return user && user.role === 'PROVIDER_ADMIN' ? PROVIDER_PATH : TOKEN_PATH;
}

// --- Routing.
const routes = [
  { re: /^\/$/, page: renderSignIn, title: 'Sign in', public: true },
  { re: /^\/admin\/sandbox-api-token\/?$/, page: renderTokenPage, title: 'Sandbox API Token', nav: 'token' },
  { re: /^\/provider\/?$/, page: renderOverview, title: 'Overview', nav: 'overview' },
  { re: /^\/provider\/orgs\/?$/, page: renderOrgList, title: 'Organizations', nav: 'orgs' },
  { re: /^\/provider\/orgs\/(\d{1,18})\/?$/, page: renderOrgPage, title: 'Organization', nav: 'orgs' },
  { re: /^\/provider\/audit\/?$/, page: renderAuditPage, title: 'Audit log', nav: 'audit' },
  { re: /^\/provider\/settings\/?$/, page: renderSettingsPage, title: 'Settings', nav: 'settings' },
  { re: /^\/provider\/webhooks\/?$/, page: renderWebhooksPage, title: 'Webhooks', nav: 'webhooks' },
];

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

function mainEl() {
  return document.getElementById('main');
}

function render() {
  const gen = ++state.generation;
  const path = location.pathname;
  const route = routes.find((r) => r.re.test(path));
  const main = mainEl();
  clear(main);
  document.getElementById('toast')?.replaceChildren();
  if (!route) {
    renderHeader(null);
    document.title = 'Not found — Sandgate';
    main.append(h('h1', { tabindex: '-1' }, 'Page not found'),
      h('p', null, 'There is no such page. ', h('a', { href: state.user ? homeFor(state.user) : '/' }, 'Go to the start page')));
    return;
  }
  if (!route.public && !state.user) {
    // Signed out (or never signed in): sign in first, then come back here.
    state.next = path + location.search;
    if (!state.flash) state.flash = { kind: 'info', text: 'Sign in to continue.' };
    history.replaceState(null, '', '/');
    render();
    return;
  }
  if (route.public && state.user) {
    navigate(homeFor(state.user), { replace: true });
    return;
  }
  renderHeader(route.nav || null);
  document.title = `${route.title} — Sandgate`;
  const m = path.match(route.re);
  const ctx = {
    main,
    params: m.slice(1),
    user: state.user,
    search: new URLSearchParams(location.search),
    isCurrent: () => gen === state.generation,
    setTitle: (t) => {
      document.title = `${t} — Sandgate`;
    },
  };
  const focusHeading = state.focusHeading;
  state.focusHeading = false;
  Promise.resolve(route.page(ctx)).then(() => {
    // After signing in, focus lands on the page's heading (screen readers announce the page).
    if (focusHeading && ctx.isCurrent()) main.querySelector('h1')?.focus();
  }, (err) => {
    if (!ctx.isCurrent() || (err instanceof ApiError && err.handled)) return;
    console.error(err);
    clear(main);
    main.append(h('h1', { tabindex: '-1' }, 'Something went wrong'), errorBox(err));
  });
}

// --- Header: brand, navigation for the signed-in role, the user and Sign out.
function renderHeader(active) {
  const header = document.getElementById('topbar');
  clear(header);
  const brand = h('a', { class: 'brand', href: state.user ? homeFor(state.user) : '/' },
    h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'SG'), h('span', null, 'Sandgate'));
  header.append(brand);
  if (!state.user) return;
  const links = state.user.role === 'PROVIDER_ADMIN'
    ? [['overview', PROVIDER_PATH, 'Overview'], ['orgs', '/provider/orgs', 'Organizations'], ['audit', '/provider/audit', 'Audit log'], ['webhooks', '/provider/webhooks', 'Webhooks'], ['settings', '/provider/settings', 'Settings']]
    : [['token', TOKEN_PATH, 'Sandbox API Token']];
  header.append(
    h('nav', { class: 'topnav', 'aria-label': 'Main' },
      h('ul', null, links.map(([key, href, text]) =>
        h('li', null, h('a', { href, 'aria-current': key === active ? 'page' : null }, text))))),
    h('div', { class: 'userbox' },
      h('span', { class: 'user-name' }, h('span', { class: 'visually-hidden' }, 'Signed in as '), state.user.username,
        h('span', { class: 'user-role' }, ` (${label('role', state.user.role)})`)),
      h('button', { type: 'button', class: 'btn btn-quiet', id: 'sign-out', onclick: signOut }, icon('signOut'), h('span', null, 'Sign out'))));
}

async function signOut() {
  document.getElementById('sign-out-error')?.remove();
  try {
    await del('/api/v1/authenticatedSession', undefined, { quiet401: true });
  } catch (err) {
    // A session that already ended is signed out all the same.
    if (!(err instanceof ApiError) || err.status !== 401) {
      // One message (never stacked), with a Retry; you are still signed in.
      const box = notice('error', 'You are still signed in',
        h('p', null, 'Signing out failed: ', err.status === 0 ? 'the server cannot be reached.' : err.message),
        h('p', null, h('button', { type: 'button', class: 'btn btn-small', onclick: signOut }, 'Retry sign out')));
      box.id = 'sign-out-error';
      mainEl().prepend(box);
      box.querySelector('button').focus();
      return;
    }
  }
  state.user = null;
  setCsrfToken(null);
  state.next = null;
  state.lastUsername = '';
  state.pageNotice = null;
  document.getElementById('session-warning')?.remove();
  state.flash = { kind: 'info', text: 'You have signed out.' };
  navigate('/');
}

// Any 401 from a signed-in call: back to sign-in with the server's sentence.
onUnauthorized((err) => {
  if (!state.user) return;
  state.lastUsername = state.user.username;
  state.user = null;
  setCsrfToken(null);
  state.next = location.pathname + location.search;
  const lost = lostChange(err);
  const ended = err.code === 'SESSION_EXPIRED' ? err.message : 'Your session has ended; sign in again.';
  state.flash = { kind: 'warning', text: lost ? `${ended} Your session had ended, ${lost}` : ended };
  state.pageNotice = lost ? { kind: 'warning', text: `Your session had ended, ${lost}`, user: state.lastUsername } : null;
  for (const d of document.querySelectorAll('dialog')) d.remove();
  navigate('/');
});

// --- Sign-in form.
function renderSignIn(ctx) {
  const { main } = ctx;
  const flash = state.flash;
  state.flash = null;
  const message = h('div', { id: 'signin-message', 'aria-live': 'polite' },
    flash ? notice(flash.kind, null, flash.text) : null);
  const username = h('input', { id: 'username', name: 'username', type: 'text', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');
  const form = h('form', { class: 'signin-form', novalidate: true, 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in to Sandgate'),
    h('p', { class: 'muted' }, 'Sandbox API token management'),
    message,
    h('div', { class: 'field' }, h('label', { for: 'username' }, 'Username'), username),
    h('div', { class: 'field' }, h('label', { for: 'password' }, 'Password'), password),
    submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const show = (kind, text) => {
      clear(message);
      message.append(notice(kind, null, text));
    };
    if (!username.value.trim() || !password.value) {
      show('error', 'Enter your username and password.');
      (username.value.trim() ? password : username).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      const r = await post('/api/v1/authenticatedSession', { username: username.value.trim(), password: password.value }, { quiet401: true });
      setSession(r);
      state.focusHeading = true;
      // The "not done" notice is for the user whose action was lost, on their own page.
      if (state.pageNotice && state.pageNotice.user !== r.user.username) state.pageNotice = null;
      const next = state.next;
      state.next = null;
      const home = homeFor(r.user);
      // Go back where the session ended, if that page belongs to this kind of user.
      const back = next && (r.user.role === 'PROVIDER_ADMIN' ? next.startsWith(PROVIDER_PATH) : next.startsWith(TOKEN_PATH));
      navigate(back ? next : home);
    } catch (err) {
      submit.disabled = false;
      submit.textContent = 'Sign in';
      if (!ctx.isCurrent()) return;
      if (err.status === 429) {
        const wait = err.retryAfter ?? 60;
        show('error', `Too many attempts; try again in ${plural(wait, 'second')}.`);
      } else if (err.status === 401) {
        show('error', 'The username or password is not correct.');
        password.value = '';
        password.focus();
      } else {
        show('error', err.message);
      }
    }
  });
  main.append(h('div', { class: 'signin-wrap' }, form));
  if (state.lastUsername) {
    username.value = state.lastUsername;
    password.focus();
  } else {
    username.focus();
  }
}

// --- Start: ask the server who we are, then route.
async function start() {
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest('a[href]');
    if (!a || a.target || a.hasAttribute('download') || a.getAttribute('href').startsWith('#')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith('/api/') || url.pathname.startsWith('/static/')) return;
    e.preventDefault();
    if (url.pathname + url.search !== location.pathname + location.search) navigate(url.pathname + url.search);
    else render();
  });
  window.addEventListener('popstate', render);
  try {
    setSession(await get('/api/v1/authenticatedSession', { quiet401: true }));
  } catch (err) {
    if (err.status === 401) {
      if (err.code === 'SESSION_EXPIRED') state.flash = { kind: 'warning', text: err.message };
    } else {
      state.flash = { kind: 'error', text: err.message };
    }
  }
  render();
  setInterval(sessionWarningTick, 10_000);
}

start();
