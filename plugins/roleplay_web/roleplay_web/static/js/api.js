// The HTTP API (docs/api/*.md). Every call sends the access token as `Authorization: Bearer`;
// a 401 triggers one refresh (POST /auth/refresh) and one retry. Tokens never go in URLs.

import { t } from "./i18n.js";
import { accessToken, forget, keep, refreshToken } from "./tokens.js";

const data = document.body.dataset;

/** Where each plugin's routes are mounted (plugins.<name>.prefix), rendered into the page. */
export const base = {
  web: data.base || "",
  auth: data.apiAuth || "",
  chat: data.apiChat || "",
  evaluator: data.apiEvaluator || "",
  scripter: data.apiScripter || "",
};

/** The enabled plugins, as the server reported them when rendering the page. */
export const plugins = new Set((data.plugins || "").split(/\s+/).filter(Boolean));

/** A refused call: `status` (0 when the server was not reached) and the problem+json body. */
export class ApiError extends Error {
  constructor(status, problem) {
    const body = problem && typeof problem === "object" ? problem : {};
    super(body.detail || body.title || (status ? t("api.status", { status }) : t("api.unreachable")));
    this.status = status;
    this.problem = body;
  }

  get code() {
    return this.problem.code || "";
  }

  get fieldErrors() {
    return Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }
}

let signedOutHandler = () => {};
/** Called when the sign-in is gone for good (refresh refused): the app shows the sign-in page. */
export function onSignedOut(handler) {
  signedOutHandler = handler;
}

function withQuery(url, query) {
  if (!query) return url;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${url}?${text}` : url;
}

async function send(method, url, body = null, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  if (body !== null) headers["Content-Type"] = "application/json";
  const payload = options.text !== undefined ? options.text : body === null ? undefined : JSON.stringify(body);
  const token = accessToken();
  if (token && !options.anonymous) headers.Authorization = `Bearer ${token}`;
  try {
    return await fetch(withQuery(url, options.query), {
      method,
      headers,
      body: payload,
      credentials: "omit", // no cookies: the bearer token is the only credential
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, { detail: t("api.unreachable") });
  }
}

async function readProblem(response) {
  try {
    return await response.json();
  } catch {
    return { title: response.statusText };
  }
}

let refreshing = null;

/**
 * Trade the refresh token for a new pair. Single-flight: concurrent callers share one request,
 * because the server treats a refresh token presented twice as stolen and ends the sign-in.
 */
export function refresh() {
  if (!refreshing) {
    refreshing = refreshNow().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/**
 * A kept ("Keep me signed in") refresh token is shared by this site's tabs: two tabs refreshing
 * at once would present the same token twice, which the server takes for theft. A Web Lock
 * makes them take turns, and each reads the token only inside the lock, so it gets the newest.
 */
function refreshNow() {
  if (navigator.locks?.request) return navigator.locks.request("roleplay.refresh", refreshLocked);
  return refreshLocked();
}

async function refreshLocked() {
  const token = refreshToken();
  if (!token) return false;
  let response;
  try {
    response = await send("POST", `${base.auth}/auth/refresh`, { refresh_token: token }, { anonymous: true });
  } catch {
    return false; // offline: keep the token for a later try
  }
  if (!response.ok) {
    forget();
    return false;
  }
  keep(await response.json());
  return true;
}

/**
 * One API call. Resolves to the parsed JSON body (null for 204), or with `withStatus` to
 * {status, headers, body}, or with `raw` to the Response; rejects with an ApiError.
 */
export async function call(method, url, body = null, options = {}) {
  let response = await send(method, url, body, options);
  if (response.status === 401 && !options.anonymous) {
    if (await refresh()) {
      response = await send(method, url, body, options);
    }
    if (response.status === 401) {
      forget();
      signedOutHandler();
    }
  }
  if (!response.ok) throw new ApiError(response.status, await readProblem(response));
  if (options.raw) return response;
  const payload = response.status === 204 ? null : await response.json();
  return options.withStatus ? { status: response.status, headers: response.headers, body: payload } : payload;
}

const enc = encodeURIComponent;

/**
 * The rows of a list response: every list answers {items, next_cursor} (docs/api.md). `key` names
 * the array of the few results that are not lists of resources (an import's or a validation's `scripts`).
 */
export function listOf(body, key = "items") {
  return Array.isArray(body?.[key]) ? body[key] : [];
}

/** ws:// or wss:// for a path on this origin (the token goes in the first frame, not here). */
function socketUrl(path) {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${path}`;
}

export const auth = {
  providers: () => call("GET", `${base.auth}/auth/providers`, null, { anonymous: true }),
  register: (body) => call("POST", `${base.auth}/auth/register`, body, { anonymous: true }),
  login: (body) => call("POST", `${base.auth}/auth/login`, body, { anonymous: true }),
  logout: (token) => call("POST", `${base.auth}/auth/logout`, { refresh_token: token }, { anonymous: true }),
  me: () => call("GET", `${base.auth}/auth/me`),
};

/** What the server can do that the page must know first: {voice: {available, provider, setting, reason}}. */
export const server = {
  capabilities: () => call("GET", `${base.web}/capabilities`, null, { anonymous: true }),
};

export const users = {
  updateMe: (body) => call("PATCH", `${base.auth}/users/me`, body),
};

export const chat = {
  scenarios: (language) => call("GET", `${base.chat}/chat/scenarios`, null, { query: { language } }),
  scenario: (id) => call("GET", `${base.chat}/chat/scenarios/${enc(id)}`),
  start: (body) => call("POST", `${base.chat}/chat/sessions`, body),
  sessions: (cursor) => call("GET", `${base.chat}/chat/sessions`, null, { query: { cursor } }),
  session: (id, afterSeq) => call("GET", `${base.chat}/chat/sessions/${enc(id)}`, null, { query: { after_seq: afterSeq } }),
  send: (id, text) => call("POST", `${base.chat}/chat/sessions/${enc(id)}/messages`, { text }),
  retry: (id) => call("POST", `${base.chat}/chat/sessions/${enc(id)}/retry`),
  end: (id) => call("POST", `${base.chat}/chat/sessions/${enc(id)}/end`),
  socketUrl: (id) => socketUrl(`${base.chat}/chat/sessions/${enc(id)}/ws`),
  voiceUrl: (id) => socketUrl(`${base.chat}/chat/sessions/${enc(id)}/voice`),
};

export const evaluations = {
  request: (sessionId, key) => call("POST", `${base.evaluator}/evaluations`, { session_id: sessionId },
    { headers: { "Idempotency-Key": key }, withStatus: true }),
  get: (id) => call("GET", `${base.evaluator}/evaluations/${enc(id)}`, null, { withStatus: true }),
  list: (query) => call("GET", `${base.evaluator}/evaluations`, null, { query }),
  progress: () => call("GET", `${base.evaluator}/evaluations/progress`),
  markdown: (id) => call("GET", `${base.evaluator}/evaluations/${enc(id)}/export`, null,
    { query: { format: "markdown" }, raw: true }),
};

/** A script body as typed: YAML or JSON text, sent with its media type (the server reads both). */
function scriptText(method, url, text, format, options = {}) {
  const type = format === "json" ? "application/json" : "application/yaml";
  return call(method, url, null, { ...options, text, headers: { ...(options.headers || {}), "Content-Type": type } });
}

/** The scripter's API (docs/api/scripter.md); every route needs the scripter role (admins have it). */
export const scripts = {
  list: (query) => call("GET", `${base.scripter}/scripts`, null, { query }),
  get: (id) => call("GET", `${base.scripter}/scripts/${enc(id)}`),
  create: (text, format) => scriptText("POST", `${base.scripter}/scripts`, text, format),
  save: (id, text, format, etag) => scriptText("PUT", `${base.scripter}/scripts/${enc(id)}`, text, format,
    { headers: { "If-Match": etag } }),
  validate: (text, format) => scriptText("POST", `${base.scripter}/scripts/validate`, text, format),
  publish: (id, etag) => call("POST", `${base.scripter}/scripts/${enc(id)}/publish`, null, { headers: { "If-Match": etag } }),
  archive: (id, etag) => call("DELETE", `${base.scripter}/scripts/${enc(id)}`, null, { headers: { "If-Match": etag } }),
  versions: (id) => call("GET", `${base.scripter}/scripts/${enc(id)}/versions`),
  diff: (id, from, to) => call("GET", `${base.scripter}/scripts/${enc(id)}/diff`, null, { query: { from, to } }),
  preview: (id, messages, engine) => call("POST", `${base.scripter}/scripts/${enc(id)}/preview`, { messages, engine }),
  translations: (id) => call("GET", `${base.scripter}/scripts/${enc(id)}/translations`),
  importBundle: (text, format, query) => scriptText("POST", `${base.scripter}/scripts/import`, text, format, { query }),
  importCard: (id, card, etag) => call("POST", `${base.scripter}/scripts/${enc(id)}/characters`, card,
    { headers: { "If-Match": etag } }),
  exportOne: (id, format) => call("GET", `${base.scripter}/scripts/${enc(id)}/export`, null, { query: { format }, raw: true }),
  backup: (format) => call("GET", `${base.scripter}/scripts/export`, null, { query: { format, history: "true" }, raw: true }),
};

/** Admin user management and the audit log (docs/api/auth.md, "Admin"); the server checks the role. */
export const admin = {
  users: (query) => call("GET", `${base.auth}/users`, null, { query }),
  user: (id) => call("GET", `${base.auth}/users/${enc(id)}`),
  update: (id, body) => call("PATCH", `${base.auth}/users/${enc(id)}`, body),
  remove: (id) => call("DELETE", `${base.auth}/users/${enc(id)}`),
  audit: (query) => call("GET", `${base.auth}/users/audit`, null, { query }),
  sessions: (userId) => call("GET", `${base.chat}/chat/sessions`, null, { query: { user_id: userId, limit: 100 } }),
  session: (id) => call("GET", `${base.chat}/chat/sessions/${enc(id)}`),
  evaluations: (userId) => call("GET", `${base.evaluator}/evaluations`, null, { query: { user_id: userId, limit: 100 } }),
};
