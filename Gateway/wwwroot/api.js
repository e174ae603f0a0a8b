// Calls to the gateway's HTTP API. The API key lives in this tab's sessionStorage only and travels as
// `Authorization: Bearer`, never in a URL.

const keyName = 'orleans-search.api-key';

export function apiKey() {
  return sessionStorage.getItem(keyName);
}

export function setApiKey(key) {
  if (key) {
    sessionStorage.setItem(keyName, key);
  } else {
    sessionStorage.removeItem(keyName);
  }
}

/** An answer that was not 2xx: its status, its RFC 9457 problem (if it sent one) and its Retry-After in seconds. */
export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super(describe(status, problem, retryAfter));
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
}

function describe(status, problem, retryAfter) {
  let text = problem && (problem.detail || problem.title) ? [problem.title, problem.detail].filter(Boolean).join(': ') : `The service answered ${status}.`;
  if (problem && problem.errors && typeof problem.errors === 'object') {
    const fields = Object.entries(problem.errors).map(([field, messages]) => `${field}: ${[].concat(messages).join(' ')}`);
    if (fields.length > 0 && !fields.every((f) => text.includes(f.slice(f.indexOf(': ') + 2)))) {
      text += ` (${fields.join('; ')})`;
    }
  }
  if (retryAfter !== null && retryAfter !== undefined) {
    text += ` Retry in ${retryAfter} s.`;
  }
  return text;
}

/** Headers every call carries: the key (when signed in) and what we accept. */
export function apiHeaders(extra) {
  const headers = new Headers(extra);
  headers.set('Accept', 'application/json, application/problem+json');
  const key = apiKey();
  if (key) {
    headers.set('Authorization', `Bearer ${key}`);
  }
  return headers;
}

export function retryAfterSeconds(response) {
  const value = response.headers.get('Retry-After');
  if (value === null) {
    return null;
  }
  const seconds = Number.parseInt(value, 10);
  if (Number.isFinite(seconds)) {
    return Math.max(0, seconds);
  }
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, Math.ceil((date - Date.now()) / 1000)) : null;
}

/** Fails with an ApiError when the answer is not 2xx. */
export async function ensureOk(response) {
  if (response.ok) {
    return response;
  }
  let problem = null;
  try {
    const type = response.headers.get('Content-Type') || '';
    if (type.includes('json')) {
      problem = await response.json();
    }
  } catch {
    problem = null;
  }
  throw new ApiError(response.status, problem, retryAfterSeconds(response));
}

/** One JSON call: `body` is sent as JSON; 204 gives null. */
export async function api(path, { method = 'GET', body, headers, signal } = {}) {
  const all = apiHeaders(headers);
  if (body !== undefined) {
    all.set('Content-Type', 'application/json');
  }
  const response = await fetch(path, {
    method,
    headers: all,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    cache: 'no-store',
    credentials: 'same-origin',
    redirect: 'error',
  });
  await ensureOk(response);
  if (response.status === 204) {
    return null;
  }
  const text = await response.text();
  return text.length === 0 ? null : JSON.parse(text);
}

export const jobPath = (jobId) => `/api/search-jobs/${encodeURIComponent(jobId)}`;

/** A fresh Idempotency-Key, so a create retried after a dropped answer returns the same job. */
export function idempotencyKey() {
  if (globalThis.crypto && typeof crypto.randomUUID === 'function') {
    return crypto.randomUUID();
  }
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
