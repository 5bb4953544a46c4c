// Calls to the Kindred API with the session cookie. Every request carries X-Kindred-UI (the server
// refuses cookie-authenticated writes without it) and errors come back as ApiFailure with the
// OData error's code and message.
export class ApiFailure extends Error {
  constructor(status, code, message, target) {
    super(message);
    this.status = status;
    this.code = code;
    this.target = target;
  }
}

let onUnauthorized = () => {};
/** What to do when the session has ended (a 401 from any call). */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

export async function api(path, { method = 'GET', body, signal, quiet401 = false } = {}) {
  const headers = { 'X-Kindred-UI': '1', Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', signal });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiFailure(0, 'NetworkError', 'the server did not answer; check that Kindred is running');
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const e = json && json.error;
    const failure = new ApiFailure(res.status, e?.code ?? 'Error', e?.message ?? `${res.status} ${res.statusText}`, e?.target);
    if (res.status === 401 && !quiet401) onUnauthorized(failure);
    throw failure;
  }
  return json;
}

export const enc = encodeURIComponent;
export const instancePath = (id, rest = '') => `/api/instances/${enc(id)}${rest}`;
