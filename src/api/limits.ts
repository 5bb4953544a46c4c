// Limits against abuse: per-caller rate limits (token bucket), request body size, and the HTTP
// server's timeouts against slow clients. The CLI reads flags and environment and passes them in.

export interface RateLimitOptions {
  /** Sustained requests per minute per caller (API key or token subject). */
  perMinute: number;
  /** Requests a caller may make at once after being idle (bucket size); default: perMinute / 6 (10 s worth), at least 1. */
  burst?: number;
}

export interface ServerTimeouts {
  /** All request headers must arrive within this time (slowloris); default 10 s. */
  headersTimeoutMs: number;
  /** The whole request (headers and body) must arrive within this time; default 120 s. */
  requestTimeoutMs: number;
  /** A socket with no traffic either way for this long is closed; default 120 s. */
  connectionTimeoutMs: number;
  /** An idle keep-alive connection is closed after this time; default 72 s (longer than common load balancers' idle time). */
  keepAliveTimeoutMs: number;
}

export const DEFAULT_TIMEOUTS: Readonly<ServerTimeouts> = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 120_000,
  connectionTimeoutMs: 120_000,
  keepAliveTimeoutMs: 72_000,
});

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** Fastify options for the timeouts (Node's http server options included). */
export function timeoutOptions(t: Partial<ServerTimeouts> = {}) {
  const o = { ...DEFAULT_TIMEOUTS, ...t };
  // Node checks header and request timeouts on an interval (30 s by default); check often enough
  // that the timeouts mean what they say.
  const interval = Math.max(50, Math.min(1000, Math.floor(Math.min(o.headersTimeoutMs, o.requestTimeoutMs) / 4)));
  return {
    connectionTimeout: o.connectionTimeoutMs,
    keepAliveTimeout: o.keepAliveTimeoutMs,
    requestTimeout: o.requestTimeoutMs,
    http: { headersTimeout: Math.min(o.headersTimeoutMs, o.requestTimeoutMs), requestTimeout: o.requestTimeoutMs, connectionsCheckingInterval: interval },
  };
}

/** "1048576", "512k", "1MiB", "64mb" → bytes. */
export function parseByteSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$/i.exec(text);
  if (!m) throw new Error(`'${text}' is not a size (e.g. 1048576, 512KiB, 4MiB)`);
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  const factor = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  const n = Math.floor(Number(m[1]) * factor);
  if (n < 1) throw new Error(`'${text}' is not a positive size`);
  return n;
}

/** Bytes as people read them: 1048576 → "1 MiB", 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (n >= size) return `${Number((n / size).toFixed(2))} ${unit}`;
  }
  return `${n} bytes`;
}

interface Bucket {
  tokens: number;
  /** ms timestamp of the last refill. */
  at: number;
}

/**
 * A token bucket per caller, in memory: O(1) per request, one small object per caller and no
 * allocation per request. `take` answers by filling `result` (reused by the caller).
 */
export class RateLimiter {
  readonly limit: number;
  private readonly perMs: number;
  private readonly buckets = new Map<string, Bucket>();
  /** Buckets are forgotten once full again; past this many callers the full ones are swept. */
  private readonly sweepAbove: number;

  constructor(
    options: RateLimitOptions,
    private readonly now: () => number = Date.now,
  ) {
    if (!(options.perMinute > 0)) throw new Error('rate limit: perMinute must be positive');
    this.limit = Math.max(1, Math.floor(options.burst ?? options.perMinute / 6));
    this.perMs = options.perMinute / 60_000;
    this.sweepAbove = 10_000;
  }

  /**
   * Takes one request from the caller's bucket. Fills `out`: allowed, remaining requests, seconds
   * until the bucket is full again (RateLimit-Reset) and, when refused, seconds to wait (Retry-After).
   */
  take(caller: string, out: RateLimitResult): RateLimitResult {
    const now = this.now();
    let b = this.buckets.get(caller);
    if (!b) {
      if (this.buckets.size >= this.sweepAbove) this.sweep(now);
      b = { tokens: this.limit, at: now };
      this.buckets.set(caller, b);
    } else {
      b.tokens = Math.min(this.limit, b.tokens + (now - b.at) * this.perMs);
      b.at = now;
    }
    out.limit = this.limit;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      out.allowed = true;
      out.retryAfter = 0;
    } else {
      out.allowed = false;
      out.retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / this.perMs / 1000));
    }
    out.remaining = Math.floor(b.tokens);
    out.reset = Math.ceil((this.limit - b.tokens) / this.perMs / 1000);
    return out;
  }

  private sweep(now: number): void {
    for (const [caller, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.perMs >= this.limit) this.buckets.delete(caller);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}

export interface RateLimitResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  reset: number;
  retryAfter: number;
}

export const newRateLimitResult = (): RateLimitResult => ({ allowed: true, limit: 0, remaining: 0, reset: 0, retryAfter: 0 });

/** Deepest accepted nesting of arrays and objects in a JSON body (deeper ones would exhaust the stack of recursive code). */
export const MAX_JSON_DEPTH = 64;

/**
 * Where a JSON text nests arrays/objects deeper than `max` (the offset of the bracket), or -1. One
 * pass, no allocation. `lines`: NDJSON, every line counted on its own (a broken line cannot carry
 * its open brackets into the next; JSON strings hold no raw newline).
 */
export function jsonDepthExceeded(text: string, max: number, lines = false): number {
  if (!lines) return depthExceededSkippingStrings(text, max);
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
      else if (c === 10 && lines) (inString = false), (depth = 0);
      continue;
    }
    if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) return i;
    } else if (c === 125 || c === 93) depth--;
    else if (c === 10 && lines) depth = 0;
  }
  return -1;
}

/** jsonDepthExceeded for one JSON text: strings (most of a body) are jumped over with indexOf. */
function depthExceededSkippingStrings(text: string, max: number): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // The closing quote is the next one not escaped: preceded by an even number of backslashes.
      let close = text.indexOf('"', i + 1);
      while (close >= 0) {
        let b = close - 1;
        while (b > i && text.charCodeAt(b) === 92) b--;
        if ((close - 1 - b) % 2 === 0) break;
        close = text.indexOf('"', close + 1);
      }
      if (close < 0) return -1;
      i = close;
    } else if (c === 123 || c === 91) {
      if (++depth > max) return i;
    } else if (c === 125 || c === 93) depth--;
  }
  return -1;
}

const isHigh = (n: number) => n >= 0xd800 && n <= 0xdbff;
const isLow = (n: number) => n >= 0xdc00 && n <= 0xdfff;

/**
 * Where a JSON text has a `\u0000` escape (the offset of its backslash), or -1. NUL is the one
 * character PostgreSQL cannot hold in text or jsonb, so no store takes it (raw NUL is not valid
 * JSON at all; only the escape can bring it in).
 */
export function nulEscape(text: string): number {
  for (let i = text.indexOf('\\'); i >= 0 && i < text.length; i = text.indexOf('\\', i)) {
    if (text[i + 1] === 'u' && text.startsWith('0000', i + 2)) return i;
    i += text[i + 1] === 'u' ? 6 : 2;
  }
  return -1;
}

/**
 * Where a JSON text has a `\uD800`-style escape of a lone UTF-16 surrogate (the offset of its
 * backslash), or -1. Such a string is not Unicode text: SQLite would store U+FFFD instead and keys
 * made of it would no longer match. Bodies decoded from UTF-8 hold no raw lone surrogates, so only
 * escapes are looked at; a body without a backslash costs one indexOf.
 */
export function loneSurrogateEscape(text: string): number {
  let i = text.indexOf('\\');
  if (i < 0) return -1;
  const hex = (at: number) => (/^[0-9a-fA-F]{4}$/.test(text.slice(at, at + 4)) ? parseInt(text.slice(at, at + 4), 16) : -1);
  for (; i >= 0 && i < text.length; i = text.indexOf('\\', i)) {
    if (text[i + 1] !== 'u') {
      i += 2; // an escaped character, e.g. \\ or \"
      continue;
    }
    const n = hex(i + 2);
    if (isHigh(n)) {
      if (!(text[i + 6] === '\\' && text[i + 7] === 'u' && isLow(hex(i + 8)))) return i;
      i += 12;
    } else if (isLow(n)) return i;
    else i += 6;
  }
  return -1;
}
