// The JSON API client. Every failure becomes an ApiError carrying the server's sentence
// (`message`), so pages show words, never raw JSON.

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    this.handled = false; // true once the 401 handler has taken the user back to sign-in
    this.method = null; // the request that failed (set by api())
    this.path = null;
    this.fields = null; // [{field, message}] when the server names the refused fields
  }
}

// The time of the last request that counts as activity for the server's idle timeout (anything
// but a background refresh); the session-expiry warning counts from it.
let lastActivity = Date.now();
export function lastActivityAt() {
  return lastActivity;
}

let csrfToken = null;
let unauthorizedHandler = null;

export function setCsrfToken(token) {
  csrfToken = token;
}

// Called with the ApiError whenever a signed-in call answers 401 (session expired or ended).
export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

const FALLBACK = {
  400: 'The request was not accepted.',
  401: 'Sign in first.',
  403: 'You are not allowed to do that.',
  404: 'No such organization or resource.',
  409: 'That conflicts with the current state; reload and try again.',
  413: 'The request is too large.',
  429: 'Too many requests; wait a moment and try again.',
  500: 'The server had a problem; try again later.',
  503: 'The service is busy; try again shortly.',
};

function fallbackMessage(status) {
  return FALLBACK[status] || (status >= 500 ? FALLBACK[500] : `The request failed (HTTP ${status}).`);
}

// api('GET', '/api/v1/sandbox/token'); api('POST', path, {body}); options.quiet401 skips the
// sign-in redirect (used by the session probe and the sign-in form itself).
export async function api(method, path, body, options = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  // A page's periodic refresh is not user activity: the server does not extend the session for it.
  if (options.background) headers['X-Sandgate-Background'] = '1';
  else lastActivity = Date.now();
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    const err = new ApiError(0, 'NETWORK', 'The server cannot be reached; check the connection and try again.');
    err.method = method;
    err.path = path;
    throw err;
  }
  const text = await res.text().catch(() => '');
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const code = data && typeof data.code === 'string' ? data.code : `HTTP_${res.status}`;
    const message = data && typeof data.message === 'string' && data.message ? data.message : fallbackMessage(res.status);
    const retry = res.headers.get('Retry-After');
    const err = new ApiError(res.status, code, message, retry !== null && /^\d+$/.test(retry) ? Number(retry) : null);
    err.method = method;
    err.path = path;
    if (data && Array.isArray(data.fields)) err.fields = data.fields;
    if (res.status === 401 && !options.quiet401 && unauthorizedHandler) {
      err.handled = true;
      unauthorizedHandler(err);
    }
    throw err;
  }
  if (res.status === 204 || !text) return null;
  if (data === null) throw new ApiError(res.status, 'BAD_RESPONSE', 'The server sent an answer this page cannot read.');
  return data;
}

export const get = (path, options) => api('GET', path, undefined, options);
export const post = (path, body, options) => api('POST', path, body, options);
export const put = (path, body, options) => api('PUT', path, body, options);
export const patch = (path, body, options) => api('PATCH', path, body, options);
export const del = (path, body, options) => api('DELETE', path, body, options);

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? '?' + s : '';
}
