// HTTP client of the dashboard: the access token lives in memory and in sessionStorage (gone when the
// tab closes), the refresh token in sessionStorage; a 401 refreshes once and retries, and the access
// token is refreshed a minute before it expires so a page left open keeps its live numbers.

const KEY = "nofx.session";
let session = load();
let refreshing = null;
let timer = null;
const listeners = new Set();

function load() {
  try { return JSON.parse(sessionStorage.getItem(KEY)) || null; } catch { return null; }
}

function save(s) {
  session = s;
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s)); else sessionStorage.removeItem(KEY);
  schedule();
  for (const fn of listeners) fn(s);
}

function schedule() {
  clearTimeout(timer);
  if (!session) return;
  // renew when a fifth of the token's life (at most a minute) is left
  const ttl = session.ttl || 900_000;
  const ms = Math.max(5_000, session.expires_at - Date.now() - Math.min(60_000, ttl * 0.2));
  timer = setTimeout(() => refresh().catch(() => {}), ms);
}
schedule();

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || "HTTP_" + status;
    this.details = e.details;
  }
}

export const token = () => (session ? session.access_token : null);
export const loggedIn = () => session !== null;
export const onSession = (fn) => listeners.add(fn);

function pair(body) {
  return { access_token: body.access_token, refresh_token: body.refresh_token,
           expires_at: Date.now() + body.expires_in * 1000, ttl: body.expires_in * 1000 };
}

export async function login(username, password) {
  const r = await fetch("/api/v1/auth/login", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, body);
  save(pair(body));
}

export async function refresh() {
  if (!session) throw new ApiError(401, null);
  if (!refreshing) {
    const rt = session.refresh_token;
    refreshing = (async () => {
      const r = await fetch("/api/v1/auth/refresh", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: rt }),
      });
      const body = await r.json().catch(() => null);
      if (!r.ok) { save(null); throw new ApiError(r.status, body); }
      save(pair(body));
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

export async function logout() {
  const s = session;
  if (s) {
    await fetch("/api/v1/auth/logout", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${s.access_token}` },
      body: JSON.stringify({ refresh_token: s.refresh_token }),
    }).catch(() => {});
  }
  save(null);
}

// JSON request to /api/v1; `query` values that are null/undefined are left out. Returns the parsed body
// (text for non-JSON answers such as the HTML report).
export async function api(path, { method = "GET", body, query } = {}, retried = false) {
  let url = "/api/v1" + path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== null && v !== undefined && v !== "") q.set(k, v);
    const s = q.toString();
    if (s) url += "?" + s;
  }
  const headers = {};
  if (session) headers.Authorization = `Bearer ${session.access_token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status === 401 && session && !retried) {
    await refresh();
    return api(path, { method, body, query }, true);
  }
  if (r.status === 204) return null;
  const type = r.headers.get("content-type") || "";
  const data = type.includes("application/json") ? await r.json().catch(() => null) : await r.text();
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

// Every item of a keyset-paginated list (at most `pages` pages of `limit`).
export async function all(path, query, { limit = 1000, pages = 10 } = {}) {
  const items = [];
  let cursor = null;
  for (let k = 0; k < pages; k++) {
    const page = await api(path, { query: { ...query, limit, cursor } });
    items.push(...page.items);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return items;
}
