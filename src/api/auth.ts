// API keys: accepted in Ocp-Apim-Subscription-Key or Authorization: Bearer; stored only as a
// SHA-256 hash with a short visible prefix. Each route declares the least role it needs.
//
// The Authenticator checks keys on every request from an in-memory cache (by hash, bounded): a
// cached key costs no database query. Changes made through this process (revoke, regenerate, role
// change) drop the cache entry at once; on PostgreSQL every key change is also announced to every
// node in its transaction, and each node drops its whole cache when it hears it (services.ts), so
// another node (or the CLI) revoking a key applies at once. Every cached key is re-read from the
// database at most every `recheckMs` (2 s) anyway: that bounds the staleness on SQLite beside the
// CLI, and on PostgreSQL when an announcement is lost. The last-used time is written at most once a
// minute per key.
import { hash, randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { AccessKey, KeySlot, PrincipalKind, RoleAssignment } from '../storage/access.js';
import type { ApiKeyRecord, Role, Store } from '../storage/store.js';
import { ApiError } from './errors.js';
import type { AccessRoute, RouteAudit, RouteAuth } from './route-auth.js';

export const ROLES: readonly Role[] = ['Viewer', 'Contributor', 'Administrator'];
export const RANK: Record<Role, number> = { Viewer: 1, Contributor: 2, Administrator: 3 };

export function hashKey(key: string): string {
  // One-shot: every request hashes its key, and a Hash object per call costs more than the digest.
  return hash('sha256', key);
}

export function generateKey(): string {
  return `kdr_${randomBytes(24).toString('base64url')}`;
}

/** How many characters of a key are kept in clear, so people can tell keys apart. */
export const PREFIX_LENGTH = 8;

export function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['ocp-apim-subscription-key'];
  if (typeof header === 'string' && header) return header;
  const auth = request.headers.authorization;
  // The auth scheme is case-insensitive (RFC 7235 section 2.1): Bearer, bearer, BEARER.
  if (auth && auth.length > 7 && auth.slice(0, 7).toLowerCase() === 'bearer ') return auth.slice(7).trim() || undefined;
  return undefined;
}

const INVALID = 'the API key is not valid (unknown, revoked or expired)';

interface CachedKey {
  key: AccessKey | null;
  expiresMs: number;
  checkedAt: number;
  touchedAt: number;
}

export interface AuthenticatorOptions {
  /** How long a cached key is trusted before the database is asked again (ms, default 2000). */
  recheckMs?: number;
  /** Least time between two last-used writes of one key (ms, default 60 000). */
  touchEveryMs?: number;
  /** Most keys kept in the cache (default 10 000); unknown keys have their own, smaller cache. */
  maxEntries?: number;
  now?: () => number;
}

/** Checks API keys for routes; one per process (built in services.ts). */
export class Authenticator {
  private readonly known = new Map<string, CachedKey>();
  private readonly unknown = new Map<string, number>();
  private readonly recheckMs: number;
  private readonly touchEveryMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    options: AuthenticatorOptions = {},
  ) {
    this.recheckMs = options.recheckMs ?? 2000;
    this.touchEveryMs = options.touchEveryMs ?? 60_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** The live key (not revoked, not expired) with this hash, or undefined. */
  async lookup(hash: string): Promise<AccessKey | undefined> {
    const now = this.now();
    let cached = this.known.get(hash);
    if (!cached || now - cached.checkedAt >= this.recheckMs) {
      const missAt = this.unknown.get(hash);
      if (!cached && missAt !== undefined && now - missAt < this.recheckMs) return undefined;
      const key = (await this.store.access.findKeyByHash(hash)) ?? null;
      if (!key) {
        this.known.delete(hash);
        this.remember(this.unknown, hash, now, this.maxEntries / 10);
        return undefined;
      }
      this.unknown.delete(hash);
      cached = { key, expiresMs: key.expiresAt ? Date.parse(key.expiresAt) : Infinity, checkedAt: now, touchedAt: cached?.touchedAt ?? 0 };
      this.known.delete(hash);
      this.remember(this.known, hash, cached, this.maxEntries);
    }
    const key = cached.key;
    if (!key || key.revokedAt || cached.expiresMs <= now) return undefined;
    if (now - cached.touchedAt >= this.touchEveryMs) {
      cached.touchedAt = now;
      // Not awaited: the request does not wait for the bookkeeping write.
      this.store.access.touchKey(key.id, new Date(now).toISOString()).catch(() => undefined);
    }
    return key;
  }

  private remember<T>(map: Map<string, T>, hash: string, value: T, max: number): void {
    if (map.size >= max) map.delete(map.keys().next().value!);
    map.set(hash, value);
  }

  /**
   * Checks the caller's key for an instance (null: a server-wide route) and the least role; throws 401/403.
   * `sessionKeyHash`: the hash of the key a web UI session stands for, used when no key is presented.
   */
  async authorize(request: FastifyRequest, instanceId: string | null, least: Role, sessionKeyHash?: string): Promise<ApiKeyRecord> {
    const presented = presentedKey(request);
    const hash = presented ? hashKey(presented) : sessionKeyHash;
    if (!hash) throw new ApiError('Unauthorized', 'an API key is required in the Ocp-Apim-Subscription-Key header or as Authorization: Bearer');
    const key = await this.lookup(hash);
    if (!key) throw new ApiError('Unauthorized', INVALID);
    // A key of another instance learns nothing about this one: the same answer as an unknown key.
    if (key.instanceId !== null && instanceId !== null && key.instanceId !== instanceId) throw new ApiError('Unauthorized', INVALID);
    // Known from here on: a refused attempt is attributed to it (audit log).
    request.apiKey = key;
    if (key.instanceId !== null && instanceId === null && least !== 'Viewer') throw new ApiError('Forbidden', 'this operation needs a server-wide Administrator key');
    if (RANK[key.role] < RANK[least]) throw new ApiError('Forbidden', `this operation needs the ${least} role; the key has ${key.role}`);
    return key;
  }

  /** Drops a key from the cache (revoked or replaced through this process). */
  forget(hash: string): void {
    this.known.delete(hash);
    this.unknown.delete(hash);
  }

  /** Drops every cached key, known and unknown (keys or roles changed elsewhere). */
  forgetAll(): void {
    this.known.clear();
    this.unknown.clear();
  }

  /** Drops every cached key of a principal (its role changed). */
  forgetPrincipal(principalId: string): void {
    for (const [hash, c] of this.known) if (c.key?.principalId === principalId) this.known.delete(hash);
  }
}

/** A key just made: the key itself (shown once) and its stored record. */
export interface IssuedKey {
  key: string;
  record: AccessKey;
  /** The key that held the slot before, now revoked. */
  replaced?: AccessKey;
}

export interface KeyRequest {
  instanceId: string | null;
  role: Role;
  /** The key's name; also the principal's display name when the principal is new. */
  name: string;
  /** Default: `app:{name}`. */
  principalId?: string;
  principalKind?: PrincipalKind;
  expiresAt?: string | null;
  /** Default: the first free slot (primary, then secondary). */
  slot?: KeySlot;
  /** Use this key instead of a generated one (KINDRED_ADMIN_KEY, tests). */
  key?: string;
}

const PRINCIPAL_ID = /^[^\s\u0000-\u001f\u007f]{1,256}$/;

export function principalKindOf(principalId: string, fallback: PrincipalKind = 'app'): PrincipalKind {
  const prefix = principalId.split(':', 1)[0];
  return prefix === 'user' || prefix === 'app' || prefix === 'group' ? prefix : fallback;
}

/** Checks an expiry given by a person: an RFC 3339 date-time in the future. Returns it normalised (ISO). */
export function parseExpiry(value: string | null | undefined, target = 'expiresAt', now = Date.now()): string | null {
  if (value === undefined || value === null || value === '') return null;
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw new ApiError('InvalidParameter', `${target} must be an RFC 3339 date-time with a time zone, e.g. 2027-01-31T00:00:00Z; got '${value}'`, target);
  if (ms <= now) throw new ApiError('InvalidParameter', `${target} must be in the future; got ${value}`, target);
  return new Date(ms).toISOString();
}

/**
 * Principals, role assignments and keys, with the rules both the API and the CLI follow. Every
 * change drops what the authenticator cached, so it applies to the next request.
 */
export class AccessManager {
  constructor(
    private readonly store: Store,
    private readonly auth?: Authenticator,
  ) {}

  private checkPrincipalId(principalId: string): void {
    if (!PRINCIPAL_ID.test(principalId))
      throw new ApiError('InvalidParameter', 'principalId must be 1 to 256 characters without spaces or control characters, e.g. app:crm-sync or user:ana@example.com', 'principalId');
  }

  /** An instance keeps at least one Administrator assignment: the last one is neither removed nor demoted. */
  private async keepAnAdministrator(instanceId: string | null, principalId: string, newRole?: Role): Promise<void> {
    if (instanceId === null || newRole === 'Administrator') return;
    const current = await this.store.access.getAssignment(principalId, instanceId);
    if (current?.role !== 'Administrator') return;
    const admins = (await this.store.access.listAssignments(instanceId)).filter((a) => a.role === 'Administrator');
    if (admins.length <= 1)
      throw new ApiError(
        'Conflict',
        `'${principalId}' is the last Administrator of instance '${instanceId}'; give another principal the Administrator role first`,
        'principalId',
      );
  }

  /** Gives a principal (created when new) its one role in a scope; its keys of that scope get the role at once. */
  async assign(options: { instanceId: string | null; principalId: string; principalKind?: PrincipalKind; displayName?: string; role: Role }): Promise<{ assignment: RoleAssignment; result: 'created' | 'updated' }> {
    this.checkPrincipalId(options.principalId);
    await this.keepAnAdministrator(options.instanceId, options.principalId, options.role);
    const at = new Date().toISOString();
    const kind = options.principalKind ?? principalKindOf(options.principalId);
    const principal = await this.store.access.ensurePrincipal({ id: options.principalId, kind, displayName: options.displayName ?? options.principalId }, at);
    if (options.principalKind && principal.kind !== options.principalKind)
      throw new ApiError('Conflict', `principal '${principal.id}' is a ${principal.kind}, not a ${options.principalKind}`, 'principalType');
    const result = await this.store.access.assignRole(principal.id, options.instanceId, options.role, at);
    this.auth?.forgetPrincipal(principal.id);
    return { assignment: (await this.store.access.getAssignment(principal.id, options.instanceId))!, result };
  }

  /** Removes a principal's role in a scope and revokes its keys there. */
  async unassign(instanceId: string | null, principalId: string): Promise<AccessKey[]> {
    await this.keepAnAdministrator(instanceId, principalId);
    const revoked = await this.store.access.removeAssignment(principalId, instanceId, new Date().toISOString());
    if (!revoked) throw new ApiError('NotFound', `principal '${principalId}' has no role assignment ${instanceId ? `in instance '${instanceId}'` : 'on the server'}`, 'principalId');
    this.auth?.forgetPrincipal(principalId);
    for (const k of revoked) this.auth?.forget(k.hash);
    return revoked;
  }

  /**
   * A new key for a principal in the first free slot (or the one asked for, when free). A new
   * principal gets the role; an existing one must already have it (change roles through RBAC).
   */
  async createKey(options: KeyRequest): Promise<IssuedKey> {
    const principalId = options.principalId ?? `app:${options.name}`;
    this.checkPrincipalId(principalId);
    const existing = await this.store.access.getAssignment(principalId, options.instanceId);
    if (existing && existing.role !== options.role)
      throw new ApiError(
        'Conflict',
        `principal '${principalId}' has the ${existing.role} role ${options.instanceId ? 'in this instance' : 'on the server'}; its keys carry that role (change it through the RBAC assignment, or use another name)`,
        'role',
      );
    const live = await this.store.access.listKeys(options.instanceId, { principalId });
    const nowMs = Date.now();
    const usable = (slot: KeySlot) => live.find((k) => k.slot === slot && (!k.expiresAt || Date.parse(k.expiresAt) > nowMs));
    const slot = options.slot ?? (!usable('primary') ? 'primary' : !usable('secondary') ? 'secondary' : undefined);
    if (!slot || usable(slot))
      throw new ApiError(
        'Conflict',
        `principal '${principalId}' already has a ${slot ?? 'primary and a secondary'} key; regenerate one (POST .../keys/principals/{principalId}/regenerate) or revoke one first`,
        'principalId',
      );
    if (!existing) await this.assign({ instanceId: options.instanceId, principalId, principalKind: options.principalKind, displayName: options.name, role: options.role });
    return this.issue(principalId, options.instanceId, options.role, slot, options.name, options.expiresAt ?? null, options.key);
  }

  /** Replaces the key in a slot with a new one (the old one stops working at once). */
  async regenerateKey(options: { instanceId: string | null; principalId: string; slot: KeySlot; expiresAt?: string | null; key?: string }): Promise<IssuedKey> {
    const assignment = await this.store.access.getAssignment(options.principalId, options.instanceId);
    if (!assignment)
      throw new ApiError('NotFound', `principal '${options.principalId}' has no role ${options.instanceId ? 'in this instance' : 'on the server'}`, 'principalId');
    const old = (await this.store.access.listKeys(options.instanceId, { principalId: options.principalId })).find((k) => k.slot === options.slot);
    return this.issue(options.principalId, options.instanceId, assignment.role, options.slot, old?.name ?? assignment.displayName, options.expiresAt ?? null, options.key);
  }

  private async issue(principalId: string, instanceId: string | null, role: Role, slot: KeySlot, name: string, expiresAt: string | null, given?: string): Promise<IssuedKey> {
    const key = given ?? generateKey();
    const at = new Date().toISOString();
    const record: AccessKey & { slot: KeySlot } = {
      id: randomUUID(),
      instanceId,
      principalId,
      name,
      role,
      slot,
      prefix: key.slice(0, PREFIX_LENGTH),
      hash: hashKey(key),
      createdAt: at,
      expiresAt,
      lastUsedAt: null,
      revokedAt: null,
    };
    const replaced = await this.store.access.putKey(record, at);
    if (replaced) this.auth?.forget(replaced.hash);
    this.auth?.forget(record.hash);
    return { key, record, replaced };
  }

  /** Revokes a live key of a scope; it stops working at once. */
  async revokeKey(instanceId: string | null, keyId: string): Promise<AccessKey> {
    const revoked = await this.store.access.revokeKey(instanceId, keyId, new Date().toISOString());
    if (!revoked) throw new ApiError('NotFound', `no live key '${keyId}' ${instanceId ? 'in this instance' : 'on the server'}`, 'keyId');
    this.auth?.forget(revoked.hash);
    return revoked;
  }

  /** Records a management action in the audit log. */
  async audit(entry: { instanceId: string | null; principalId: string | null; action: string; target?: string | null; outcome: string; detail?: Record<string, unknown> | null }): Promise<void> {
    await this.store.access.appendAudit({
      at: new Date().toISOString(),
      instanceId: entry.instanceId,
      principalId: entry.principalId,
      action: entry.action,
      target: entry.target ?? null,
      outcome: entry.outcome,
      detail: entry.detail ?? null,
    });
  }
}

/**
 * Stores a key (hash only) for a principal (default `app:{name}`), giving the principal the role
 * in the key's scope; the caller shows the key once.
 */
export async function registerKey(
  store: Store,
  key: string,
  options: { instanceId: string | null; role: Role; name: string; principalId?: string; expiresAt?: string | null },
): Promise<AccessKey> {
  const manager = new AccessManager(store);
  const principalId = options.principalId ?? `app:${options.name}`;
  const current = await store.access.getAssignment(principalId, options.instanceId);
  if (current && current.role !== options.role) await manager.assign({ instanceId: options.instanceId, principalId, role: options.role });
  return (await manager.createKey({ ...options, principalId, key })).record;
}

/**
 * The access hooks of the app: collects every route with its declared role (app.accessRoutes, for
 * the security matrix and docs) and records audited routes in the audit log: successes, and
 * failures once the caller is known (a 403 included).
 */
export function installAccessHooks(app: FastifyInstance, services: Services): void {
  const routes: AccessRoute[] = [];
  app.decorate('accessRoutes', routes);

  // onSend: the entry is written before the response leaves, so a client that reads the log next sees it.
  const record = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const config = request.routeOptions.config as { auth?: RouteAuth; audit?: RouteAudit };
    const audit = config.audit!;
    if (!request.apiKey) return payload;
    const status = reply.statusCode;
    if (audit.refusalsOnly && status !== 403) return payload;
    let outcome = 'success';
    if (status >= 400) {
      outcome = `HTTP${status}`;
      if (typeof payload === 'string') {
        try {
          outcome = (JSON.parse(payload) as { error?: { code?: string } }).error?.code ?? outcome;
        } catch {
          // not an error body: keep the status
        }
      }
    }
    const params = request.params as Record<string, string>;
    const note = request.auditNote;
    try {
      await services.access.audit({
        instanceId: config.auth?.scope === 'instance' ? (params.instanceId ?? null) : null,
        principalId: request.apiKey.principalId,
        action: audit.action,
        target: note?.target ?? (audit.target ? params[audit.target] : undefined) ?? null,
        outcome,
        detail: note?.detail ?? null,
      });
    } catch (err) {
      request.log.error({ err }, 'audit log write failed');
    }
    return payload;
  };

  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/api')) return;
    const config = route.config as { auth?: RouteAuth; audit?: RouteAudit } | undefined;
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      routes.push({ method, url: route.url, auth: config?.auth ?? { role: 'public', scope: 'server' }, audit: config?.audit });
    }
    // The OpenAPI document says who may call each operation.
    const schema = route.schema as { description?: string; hide?: boolean } | undefined;
    const auth = config?.auth;
    if (schema && !schema.hide && auth && auth.role !== 'public') {
      const who =
        auth.scope === 'server'
          ? auth.role === 'Viewer'
            ? 'any valid key (it sees only what its scope allows)'
            : `a server-wide ${auth.role} key`
          : `the ${auth.role} role in the instance (a key of the instance, or a server-wide key)`;
      route.schema = { ...schema, description: `${schema.description ? `${schema.description}\n\n` : ''}Needs ${who}.` } as typeof route.schema;
    }
    // Only audited routes get the hook: the real-time path pays nothing for the audit log.
    if (config?.audit) route.onSend = [...[route.onSend ?? []].flat(), record] as typeof route.onSend;
  });
}
