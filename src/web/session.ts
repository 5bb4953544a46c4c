// Browser sessions of the web UI. Signing in exchanges an API key for a random session id sent as an
// HttpOnly, SameSite=Strict cookie: EventSource cannot send headers, and the key should not sit in
// the page's storage. Sessions live in the store (storage/sessions.ts), so every node behind a load
// balancer knows every session, a restart signs nobody out, and signing out on one node ends the
// session on all of them at once. A stored session maps the SHA-256 of its id to the SHA-256 of
// the key, never the id or the key; every request still checks that key (revoked, expired, role)
// through the API's authorize(), so revoking the key ends its sessions too.
import { sessionCookie } from '../api/cookies.js';
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../api/errors.js';
import type { UiSessionStore } from '../storage/sessions.js';

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
  /**
   * Least time between two writes of a session's last use (ms); default a sixtieth of the idle
   * timeout (1 minute of 60). A session may so end up to this much later than idleMs.
   */
  touchEveryMs?: number;
  now?: () => number;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Session ids are kept as their SHA-256 so the store holds nothing a cookie could be rebuilt from. */
const idHash = (id: string) => createHash('sha256').update(id).digest('base64url');
const iso = (ms: number) => new Date(ms).toISOString();

export class SessionStore {
  readonly idleMs: number;
  readonly maxAgeMs: number;
  private readonly maxSessions: number;
  private readonly touchEveryMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: UiSessionStore,
    options: SessionOptions = {},
  ) {
    this.idleMs = options.idleMs ?? 60 * 60_000;
    this.maxAgeMs = options.maxAgeMs ?? 12 * 60 * 60_000;
    this.maxSessions = options.maxSessions ?? 10_000;
    this.touchEveryMs = options.touchEveryMs ?? Math.floor(this.idleMs / 60);
    this.now = options.now ?? Date.now;
  }

  /** Starts a session for a key (by hash); returns the session id for the cookie. */
  async create(keyHash: string): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    const t = this.now();
    // Ended sessions go at each sign-in, and the least recently used beyond the limit, so the table cannot grow without bound.
    await this.store.deleteEndedSessions(iso(t - this.idleMs), iso(t - this.maxAgeMs));
    await this.store.trimSessions(this.maxSessions - 1);
    await this.store.createSession({ idHash: idHash(id), keyHash, createdAt: iso(t), lastSeenAt: iso(t) });
    return id;
  }

  /** The key hash of a live session (and marks it used), or undefined. */
  async resolve(id: string | undefined): Promise<string | undefined> {
    if (!id) return undefined;
    const h = idHash(id);
    const s = await this.store.getSession(h);
    if (!s) return undefined;
    const t = this.now();
    const lastSeen = Date.parse(s.lastSeenAt);
    if (t - lastSeen > this.idleMs || t - Date.parse(s.createdAt) > this.maxAgeMs) {
      await this.store.deleteSession(h);
      return undefined;
    }
    if (t - lastSeen >= this.touchEveryMs) await this.store.touchSession(h, iso(t));
    return s.keyHash;
  }

  async delete(id: string | undefined): Promise<void> {
    if (id) await this.store.deleteSession(idHash(id));
  }

  /**
   * The key hash the request's session cookie stands for (undefined without a live session). A
   * cookie-authenticated request that changes state must carry `X-Kindred-UI`: browsers send
   * cookies on cross-site form posts, but a custom header needs a CORS preflight this server never grants.
   */
  async credentialOf(request: FastifyRequest): Promise<string | undefined> {
    const keyHash = await this.resolve(sessionIdOf(request));
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
