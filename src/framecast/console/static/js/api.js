// The HTTP API as the console uses it: every call sends the signed-in key, every error becomes an ApiError
// that carries the message in words and the request field it concerns.

const KEY_NAME = "framecast.apiKey";
// the server names the field an error is about in this header, whatever the dialect's envelope
const PARAM_HEADER = "x-error-param";

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0 when the server could not be reached)
   * @param {string} code the dialect's error code, e.g. Vidu's "FieldInvalid"
   * @param {string} message the server's message, for a person
   * @param {string} param the request field at fault, "" when none
   */
  constructor(status, code, message, param) {
    super(message);
    this.status = status;
    this.code = code;
    this.param = param;
  }
}

export function savedKey() {
  return sessionStorage.getItem(KEY_NAME) || "";
}

export function saveKey(key) {
  sessionStorage.setItem(KEY_NAME, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_NAME);
}

export function authHeaders(key = savedKey()) {
  // Vidu's own scheme; the server takes "Bearer" too
  return { Authorization: `Token ${key}` };
}

/** The message, code and field of an error response, from any of the envelopes the server answers in. */
export async function errorOf(resp) {
  let body = {};
  try {
    body = await resp.json();
  } catch {
    body = {};
  }
  const inner = body && typeof body.error === "object" && body.error !== null ? body.error : body;
  const message = inner.message || resp.statusText || `HTTP ${resp.status}`;
  const code = String(body.reason || inner.code || resp.status);
  const param = resp.headers.get(PARAM_HEADER) || inner.param || "";
  return new ApiError(resp.status, code, message, param);
}

/**
 * Call the API and return the decoded JSON body.
 * @param {string} path e.g. "/ent/v2/tasks"
 * @param {{method?: string, body?: unknown, key?: string, signal?: AbortSignal}} options
 */
export async function call(path, { method = "GET", body, key, signal } = {}) {
  const headers = { ...authHeaders(key), Accept: "application/json" };
  const init = { method, headers, signal };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "Unreachable", "the server could not be reached; check the connection", "");
  }
  if (!resp.ok) throw await errorOf(resp);
  const text = await resp.text();
  return text ? JSON.parse(text) : {};
}
