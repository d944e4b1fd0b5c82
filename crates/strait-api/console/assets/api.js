// The console's only way to the gateway: fetch against straitd's REST API with the cookie
// session, the anti-CSRF header on changes, NSX error bodies turned into ApiError, and a
// 401 from anywhere sending the user back to the login form.

export const POLICY = '/policy/api/v1';
const STORE_KEY = 'strait.console.session';

let unauthorizedHandler = () => {};

/** Called (once per expiry) when the API answers 401. */
export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

/** The logged-in user: {username, role, xsrf} or null. */
export function currentSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(STORE_KEY) || 'null');
    return s && s.username && s.xsrf ? s : null;
  } catch {
    return null;
  }
}

function saveSession(s) {
  if (s) sessionStorage.setItem(STORE_KEY, JSON.stringify(s));
  else sessionStorage.removeItem(STORE_KEY);
}

/** An NSX ApiError body (or a transport failure) as an exception. */
export class ApiError extends Error {
  constructor(status, body, fallback) {
    const message = (body && body.error_message) || fallback || `request failed (HTTP ${status})`;
    super(message);
    this.status = status;
    this.body = body || null;
    // Every problem: {field, message}. The message loses its "field: " prefix, since the
    // console shows it next to the field.
    const related = (body && Array.isArray(body.related_errors)) ? body.related_errors : [];
    this.problems = related.map((e) => {
      const field = (e.error_data && typeof e.error_data.field === 'string') ? e.error_data.field : (e.details || '');
      let msg = String(e.error_message || '');
      if (field && msg.startsWith(field + ': ')) msg = msg.slice(field.length + 2);
      return { field, message: msg };
    });
    if (this.problems.length === 0) this.problems = [{ field: '', message }];
  }
}

/** The URL of a policy path (`/infra/...`) or an API path (`/api/...`). */
export function url(path) {
  return path.startsWith('/infra') ? POLICY + path : path;
}

/** One policy-path segment for an id (ids may hold `: @ ~ + =`). */
export function seg(id) {
  return encodeURIComponent(id);
}

async function parseBody(resp) {
  const text = await resp.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * A request to the API. `path` is a policy path (`/infra/...`) or an absolute API path.
 * Resolves to the parsed body (object, string or null); rejects with ApiError.
 */
export async function request(method, path, body, { text = false, query } = {}) {
  const s = currentSession();
  // X-Requested-With: the API then answers 401 without a Basic challenge, so the browser
  // does not prompt and the console shows its own login form.
  const headers = { Accept: text ? 'text/plain' : 'application/json', 'X-Requested-With': 'XMLHttpRequest' };
  if (method !== 'GET' && method !== 'HEAD' && s) headers['X-XSRF-TOKEN'] = s.xsrf;
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let u = url(path);
  if (query) {
    const q = new URLSearchParams(query).toString();
    if (q) u += (u.includes('?') ? '&' : '?') + q;
  }
  let resp;
  try {
    resp = await fetch(u, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, null, `The gateway did not answer (${e.message || 'network error'}); check that straitd is running and reload.`);
  }
  if (resp.status === 401) {
    const b = await parseBody(resp).catch(() => null);
    saveSession(null);
    unauthorizedHandler();
    throw new ApiError(401, typeof b === 'object' ? b : null, 'Your session has ended; log in again.');
  }
  if (!resp.ok) {
    const b = await parseBody(resp).catch(() => null);
    throw new ApiError(resp.status, typeof b === 'object' ? b : null,
      typeof b === 'string' && b ? b : `${method} ${path} failed (HTTP ${resp.status})`);
  }
  if (text) return resp.text();
  return parseBody(resp);
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const put = (path, body) => request('PUT', path, body);
export const patch = (path, body) => request('PATCH', path, body);
export const del = (path) => request('DELETE', path);

/** Every object of a collection, following the cursor. */
export async function list(path) {
  const out = [];
  let cursor;
  for (let i = 0; i < 1000; i++) {
    const query = cursor ? { cursor } : undefined;
    const page = await get(path, { query });
    if (!page || !Array.isArray(page.results)) break;
    out.push(...page.results);
    if (!page.cursor || page.results.length === 0) break;
    cursor = page.cursor;
  }
  return out;
}

/** Form login. Resolves to {username, role}; rejects with ApiError carrying the API's reason. */
export async function login(username, password) {
  const form = new URLSearchParams({ j_username: username, j_password: password });
  let resp;
  try {
    resp = await fetch('/api/session/create', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json', 'X-Requested-With': 'XMLHttpRequest' },
      body: form.toString(),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, null, `The gateway did not answer (${e.message || 'network error'}).`);
  }
  const b = await parseBody(resp).catch(() => null);
  if (!resp.ok) throw new ApiError(resp.status, typeof b === 'object' ? b : null, `Login failed (HTTP ${resp.status}).`);
  const xsrf = resp.headers.get('X-XSRF-TOKEN') || '';
  const s = { username: (b && b.username) || username, role: (b && b.role) || 'auditor', xsrf };
  saveSession(s);
  return s;
}

/** Confirm the stored session still works and refresh the role. */
export async function whoami() {
  const s = currentSession();
  if (!s) return null;
  const u = await get(`/api/v1/users/${seg(s.username)}`);
  const fresh = { ...s, role: (u && u.role) || s.role };
  saveSession(fresh);
  return fresh;
}

/** Log out (ends the API session) and forget the local copy. */
export async function logout() {
  const s = currentSession();
  try {
    await fetch('/api/session/destroy', {
      method: 'POST',
      headers: s ? { 'X-XSRF-TOKEN': s.xsrf, 'X-Requested-With': 'XMLHttpRequest' } : { 'X-Requested-With': 'XMLHttpRequest' },
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } finally {
    saveSession(null);
  }
}

/** Forget the session locally (after a 401). */
export function forgetSession() {
  saveSession(null);
}
