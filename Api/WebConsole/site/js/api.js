// The console's only way to the server: the public /v1 REST API with the signed-in API key as a
// Bearer token, so the key's scopes and tenant apply exactly as they do for curl or the SDK.
// The key lives in sessionStorage: it is gone when the tab closes, and is never written to
// localStorage or a cookie (a cookie would also be sent by requests the console did not make).

const KEY = "orleans-compute.api-key";

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set(key) { sessionStorage.setItem(KEY, key); },
  clear() { sessionStorage.removeItem(KEY); },
};

/** A problem answer (RFC 9457) or a network failure, with the server's words. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? problem?.title ?? `HTTP ${status}`);
    this.status = status;
    this.type = problem?.type;
    this.title = problem?.title ?? `HTTP ${status}`;
    this.detail = problem?.detail ?? "";
    this.errors = problem?.errors;
  }
}

/** Listeners told when the server refuses the key (401): the console signs out. */
const unauthorizedListeners = [];
export function onUnauthorized(listener) { unauthorizedListeners.push(listener); }

/** Path segments escaped one by one: keys and names may hold "/", "%" or anything else. */
export function path(strings, ...values) {
  return strings.reduce((out, s, i) => out + s + (i < values.length ? encodeURIComponent(values[i]) : ""), "");
}

/** A query string from an object, leaving out empty values. */
export function query(parameters) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) {
    if (value !== undefined && value !== null && value !== "") q.set(name, String(value));
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

async function send(method, url, { body, key = session.key, headers = {}, signal, quiet = false } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, signal, credentials: "omit", cache: "no-store" };
  if (key) init.headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { title: "The Api did not answer", detail: String(error.message ?? error) });
  }
  if (response.status === 401) {
    const problem = await readProblem(response);
    if (!quiet) unauthorizedListeners.forEach(l => l(problem));
    throw new ApiError(401, problem);
  }
  if (!response.ok) throw new ApiError(response.status, await readProblem(response));
  return response;
}

async function readProblem(response) {
  try { return await response.json(); } catch { return { title: `HTTP ${response.status}`, detail: response.statusText }; }
}

async function json(response) {
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export const api = {
  get: async (url, options) => json(await send("GET", url, options)),
  post: async (url, body, options) => json(await send("POST", url, { ...options, body })),
  put: async (url, body, options) => json(await send("PUT", url, { ...options, body })),
  delete: async (url, options) => json(await send("DELETE", url, options)),
  /** GET that also returns the response's headers (a key's ETag is its version). */
  getWithHeaders: async (url, options) => {
    const response = await send("GET", url, options);
    return { body: await json(response), headers: response.headers };
  },
};

/**
 * Checks a key before keeping it: a 401 is a wrong or revoked key; any other answer (even 403,
 * a key without the data:read scope) shows the key is valid.
 */
export async function verifyKey(key) {
  try {
    await send("GET", "/v1/tables?limit=1", { key, quiet: true });
  } catch (error) {
    if (error.status === 401 || error.status === 0) throw error;
  }
}

/**
 * Server-Sent Events over fetch: EventSource cannot send an Authorization header, and the key must
 * not travel in a URL or a cookie. Calls onEvent(type, data) for each event until the stream ends
 * or signal aborts.
 */
export async function follow(url, onEvent, signal) {
  const response = await send("GET", url, { headers: { Accept: "text/event-stream" }, signal });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) type = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent(type, JSON.parse(data.join("\n")));
    }
  }
}
