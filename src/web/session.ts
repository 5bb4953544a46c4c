// Browser sessions of the web UI. Signing in exchanges an API key for a random session id sent as an
// HttpOnly, SameSite=Strict cookie: EventSource cannot send headers, and the key should not sit in
// the page's storage. Sessions live in this process's memory (a restart signs everyone out) and map
// to the key's SHA-256 hash, never the key; every request still checks that key (revoked, expired,
// role) through the API's authorize(), so revoking the key ends its sessions too.
import { sessionCookie } from '../api/cookies.js';
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../api/errors.js';

export const SESSION_COOKIE = 'kindred_session';
/** Requests authenticated by the cookie that change state must carry this header (CSRF guard). */
export const UI_HEADER = 'x-kindred-ui';

export interface SessionOptions {
  /** A session unused for this long ends (ms); default 60 minutes. */
  idleMs?: number;
  /** A session ends this long after sign-in whatever its use (ms); default 12 hours. */
  maxAgeMs?: number;
  /** Most sessions kept; the least recently used go first beyond it. Default 10,000. */
  maxSessions?: number;
  now?: () => number;
}

interface Session {
  keyHash: string;
  createdAt: number;
  lastSeenAt: number;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Session ids are kept as their SHA-256 so the map holds nothing a cookie could be rebuilt from. */
const idHash = (id: string) => createHash('sha256').update(id).digest('base64url');

export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  readonly idleMs: number;
  readonly maxAgeMs: number;
  private readonly maxSessions: number;
  private readonly now: () => number;

  constructor(options: SessionOptions = {}) {
    this.idleMs = options.idleMs ?? 60 * 60_000;
    this.maxAgeMs = options.maxAgeMs ?? 12 * 60 * 60_000;
    this.maxSessions = options.maxSessions ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Starts a session for a key (by hash); returns the session id for the cookie. */
  create(keyHash: string): string {
    const id = randomBytes(32).toString('base64url');
    const t = this.now();
    this.sweep(t);
    while (this.sessions.size >= this.maxSessions) {
      // Map order is insertion order and resolve() re-inserts: the first entry is the least recently used.
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
    }
    this.sessions.set(idHash(id), { keyHash, createdAt: t, lastSeenAt: t });
    return id;
  }

  /** The key hash of a live session (and marks it used), or undefined. */
  resolve(id: string | undefined): string | undefined {
    if (!id) return undefined;
    const h = idHash(id);
    const s = this.sessions.get(h);
    if (!s) return undefined;
    const t = this.now();
    if (t - s.lastSeenAt > this.idleMs || t - s.createdAt > this.maxAgeMs) {
      this.sessions.delete(h);
      return undefined;
    }
    s.lastSeenAt = t;
    this.sessions.delete(h);
    this.sessions.set(h, s);
    return s.keyHash;
  }

  delete(id: string | undefined): void {
    if (id) this.sessions.delete(idHash(id));
  }

  /** Drops sessions that have ended (called on sign-in, so the map cannot grow without bound). */
  private sweep(t: number): void {
    for (const [h, s] of this.sessions) {
      if (t - s.lastSeenAt > this.idleMs || t - s.createdAt > this.maxAgeMs) this.sessions.delete(h);
    }
  }

  /**
   * The key hash the request's session cookie stands for (undefined without a live session). A
   * cookie-authenticated request that changes state must carry `X-Kindred-UI`: browsers send
   * cookies on cross-site form posts, but a custom header needs a CORS preflight this server never grants.
   */
  credentialOf(request: FastifyRequest): string | undefined {
    const keyHash = this.resolve(sessionIdOf(request));
    if (keyHash && !SAFE_METHODS.has(request.method) && !request.headers[UI_HEADER])
      throw new ApiError('Forbidden', `a request signed in by the session cookie that changes data must send the header 'X-Kindred-UI: 1'`, 'X-Kindred-UI');
    return keyHash;
  }
}

/** The value of one cookie from the Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

export function sessionIdOf(request: FastifyRequest): string | undefined {
  return readCookie(request.headers.cookie, SESSION_COOKIE);
}

/** Whether the browser reached us over TLS (directly or through a proxy that says so). */
function overTls(request: FastifyRequest): boolean {
  if ((request.raw.socket as { encrypted?: boolean }).encrypted) return true;
  const forwarded = request.headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim().toLowerCase();
  return first === 'https';
}

export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, id: string, maxAgeMs: number): void {
  reply.header('set-cookie', sessionCookie(SESSION_COOKIE, id, { secure: overTls(request), maxAgeSeconds: maxAgeMs / 1000 }));
}

export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.header('set-cookie', sessionCookie(SESSION_COOKIE, '', { secure: overTls(request), maxAgeSeconds: 0 }));
}
