// One signed JSON POST with retries: exponential backoff on network errors, timeouts, 5xx and 429
// (whose Retry-After is honoured up to a limit). Other 4xx answers are final: retrying a request
// the receiver refuses changes nothing.
import { sign, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './signing.js';

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 1000 };
const MAX_RETRY_AFTER_MS = 60_000;

export interface SignedPostOptions {
  url: string;
  body: string;
  secret: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  signal?: AbortSignal;
  /** Called after each attempt (for recording progress). */
  onAttempt?: (attempt: PostAttempt) => void | Promise<void>;
}

export interface PostAttempt {
  attempt: number;
  status: number | null;
  error: string | null;
}

export interface PostResult {
  ok: boolean;
  attempts: number;
  status: number | null;
  error: string | null;
}

const retryable = (status: number) => status >= 500 || status === 429 || status === 408;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new Error('cancelled'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new Error('cancelled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export async function postSigned(o: SignedPostOptions): Promise<PostResult> {
  const policy = { ...DEFAULT_RETRY, ...o.retry };
  let last: PostAttempt = { attempt: 0, status: null, error: null };
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    const timestamp = String(Math.floor(Date.now() / 1000));
    let retryAfterMs: number | null = null;
    try {
      const res = await fetch(o.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'kindred',
          ...o.headers,
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: sign(o.secret, timestamp, o.body),
        },
        body: o.body,
        signal: o.signal ? AbortSignal.any([o.signal, AbortSignal.timeout(o.timeoutMs ?? 10_000)]) : AbortSignal.timeout(o.timeoutMs ?? 10_000),
      });
      // Read the body so the connection is released; its text helps when the receiver explains.
      const text = await res.text().catch(() => '');
      const ok = res.status >= 200 && res.status < 300;
      last = { attempt, status: res.status, error: ok ? null : `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}` };
      await o.onAttempt?.(last);
      if (ok) return { ok: true, attempts: attempt, status: res.status, error: null };
      if (!retryable(res.status)) return { ok: false, attempts: attempt, status: res.status, error: last.error };
      const after = Number(res.headers.get('retry-after'));
      if (res.status === 429 && Number.isFinite(after) && after >= 0) retryAfterMs = Math.min(after * 1000, MAX_RETRY_AFTER_MS);
    } catch (err) {
      if (o.signal?.aborted) return { ok: false, attempts: attempt, status: null, error: 'cancelled' };
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const reason = e.name === 'TimeoutError' ? `no answer within ${o.timeoutMs ?? 10_000} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
      last = { attempt, status: null, error: `request failed: ${reason}` };
      await o.onAttempt?.(last);
    }
    if (attempt < policy.attempts) {
      try {
        await sleep(retryAfterMs ?? policy.baseDelayMs * 2 ** (attempt - 1), o.signal);
      } catch {
        return { ok: false, attempts: attempt, status: last.status, error: 'cancelled' };
      }
    }
  }
  return { ok: false, attempts: policy.attempts, status: last.status, error: last.error };
}

/** A secret from the definition, or from the environment variable it names (read when sending). */
export function resolveSecret(o: { secret?: string; secretEnv?: string }, env: NodeJS.ProcessEnv = process.env): string {
  if (o.secret) return o.secret;
  const value = o.secretEnv ? env[o.secretEnv] : undefined;
  if (!value) throw new Error(`the environment variable ${o.secretEnv} (the signing secret) is not set`);
  return value;
}
