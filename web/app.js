// Sandgate web portal: session, header, client-side routing (history.pushState).
// Pages live in token.js (organization) and provider.js (provider console).
import { ApiError, del, get, onUnauthorized, post, setCsrfToken } from './api.js';
import { clear, errorBox, h, icon, label, notice } from './dom.js';
import { renderTokenPage } from './token.js';
import { renderAuditPage, renderOrgList, renderOrgPage, renderOverview } from './provider.js';

const TOKEN_PATH = '/admin/sandbox-api-token';
const PROVIDER_PATH = '/provider';

const state = {
  user: null, // {id, username, role, orgId}
  flash: null, // {kind, text}: shown once on the next page (e.g. on the sign-in form)
  next: null, // where to go after signing in again
  generation: 0, // increments on each navigation; stale async renders check it
};

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
  Promise.resolve(route.page(ctx)).catch((err) => {
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
    ? [['overview', PROVIDER_PATH, 'Overview'], ['orgs', '/provider/orgs', 'Organizations'], ['audit', '/provider/audit', 'Audit log']]
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
  try {
    await del('/api/v1/authenticatedSession', undefined, { quiet401: true });
  } catch (err) {
    // A session that already ended is signed out all the same.
    if (!(err instanceof ApiError) || err.status !== 401) {
      mainEl().prepend(errorBox(err));
      return;
    }
  }
  state.user = null;
  setCsrfToken(null);
  state.next = null;
  state.flash = { kind: 'info', text: 'You have signed out.' };
  navigate('/');
}

// Any 401 from a signed-in call: back to sign-in with the server's sentence.
onUnauthorized((err) => {
  if (!state.user) return;
  state.user = null;
  setCsrfToken(null);
  state.next = location.pathname + location.search;
  state.flash = {
    kind: 'warning',
    text: err.code === 'SESSION_EXPIRED' ? err.message : 'Your session has ended; sign in again.',
  };
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
      state.user = r.user;
      setCsrfToken(r.csrfToken);
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
        show('error', `Too many attempts; try again in ${wait} seconds.`);
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
  username.focus();
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
    const s = await get('/api/v1/authenticatedSession', { quiet401: true });
    state.user = s.user;
    setCsrfToken(s.csrfToken);
  } catch (err) {
    if (err.status === 401) {
      if (err.code === 'SESSION_EXPIRED') state.flash = { kind: 'warning', text: err.message };
    } else {
      state.flash = { kind: 'error', text: err.message };
    }
  }
  render();
}

start();
