// PostgreSQL adapter of the access sub-port (tables of migration 3 plus api_keys of migration 1).
// Unlike SQLite, several processes write at once: every read-then-write is one statement
// (ON CONFLICT, UPDATE ... RETURNING) or runs under a lock, so concurrent callers get the results
// they would get one after the other, never a unique-index violation.
import type pg from 'pg';
import type { AccessKey, AccessStore, AuditEntry, AuditQuery, KeySlot, Principal, RoleAssignment } from '../access.js';
import { accessKeyFromRow, assignmentFromRow, auditFromRow, jsonParsed, principalFromRow } from '../rows.js';
import type { Role } from '../store.js';
import { DURABLE } from './durability.js';
import { announce } from './coordination.js';
import { one, rows, run, transaction, type Row } from './statements.js';

const toKey = accessKeyFromRow;
const toPrincipal = principalFromRow;
const toAssignment = assignmentFromRow;
const toAudit = (r: Row) => auditFromRow(r, jsonParsed);

/**
 * `column` is in the scope bound as $n (null: server-wide). The driver plans each statement with
 * its values, so the NULL test folds away and the index on the column is used.
 */
const inScope = (column: string, n: number) => `(${column} = $${n} OR (${column} IS NULL AND $${n}::text IS NULL))`;

const ASSIGNMENT =
  'SELECT a.principal_id, a.instance_id, a.role, a.assigned_at, p.kind, p.display_name FROM role_assignments a JOIN principals p ON p.id = a.principal_id';

/** A key's slot: one lock per principal, scope and slot serializes the processes that fill it. */
const slotLock = `SELECT pg_advisory_xact_lock(hashtext('kindred-key-slot:' || $1::text || '/' || COALESCE($2::text, '') || '/' || $3::text))`;

export class PostgresAccessStore implements AccessStore {
  /** events: the schema's cluster event channel; every node drops its cached keys when a change is announced there. */
  constructor(
    private readonly pool: pg.Pool,
    private readonly events: string,
  ) {}

  /**
   * A write the caller acknowledges (a key issued or revoked, a role changed): durable at COMMIT,
   * and announced to every node in the same transaction, so their key caches drop it at once.
   */
  private durable<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return transaction(this.pool, async (client) => {
      await client.query(DURABLE);
      const result = await fn(client);
      await announce(client, this.events, { kind: 'access' });
      return result;
    });
  }

  async ensurePrincipal(p: Omit<Principal, 'createdAt'>, at: string): Promise<Principal> {
    await run(this.pool, 'INSERT INTO principals (id, kind, display_name, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING', [
      p.id,
      p.kind,
      p.displayName,
      at,
    ]);
    return toPrincipal((await one(this.pool, 'SELECT * FROM principals WHERE id = $1', [p.id]))!);
  }

  async getPrincipal(id: string): Promise<Principal | undefined> {
    const r = await one(this.pool, 'SELECT * FROM principals WHERE id = $1', [id]);
    return r && toPrincipal(r);
  }

  async getAssignment(principalId: string, instanceId: string | null): Promise<RoleAssignment | undefined> {
    const r = await one(this.pool, `${ASSIGNMENT} WHERE a.principal_id = $1 AND ${inScope('a.instance_id', 2)}`, [principalId, instanceId]);
    return r && toAssignment(r);
  }

  async listAssignments(instanceId: string | null): Promise<RoleAssignment[]> {
    return (await rows(this.pool, `${ASSIGNMENT} WHERE ${inScope('a.instance_id', 1)} ORDER BY a.principal_id`, [instanceId])).map(toAssignment);
  }

  async assignRole(principalId: string, instanceId: string | null, role: Role, at: string): Promise<'created' | 'updated'> {
    return this.durable(async (client) => {
      // The upsert holds the assignment row until COMMIT: a concurrent change of the same
      // assignment waits, then updates the keys after this one.
      const r = await one(
        client,
        `INSERT INTO role_assignments (principal_id, instance_id, role, assigned_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (principal_id, COALESCE(instance_id, '')) DO UPDATE SET role = excluded.role, assigned_at = excluded.assigned_at
         RETURNING (xmax = 0) AS created`,
        [principalId, instanceId, role, at],
      );
      await run(client, `UPDATE api_keys SET role = $1 WHERE principal_id = $2 AND ${inScope('instance_id', 3)} AND revoked_at IS NULL`, [
        role,
        principalId,
        instanceId,
      ]);
      return r?.created ? 'created' : 'updated';
    });
  }

  async removeAssignment(principalId: string, instanceId: string | null, at: string): Promise<AccessKey[] | undefined> {
    return this.durable(async (client) => {
      const removed = await run(client, `DELETE FROM role_assignments WHERE principal_id = $1 AND ${inScope('instance_id', 2)}`, [principalId, instanceId]);
      if (!removed) return undefined;
      const revoked = await rows(
        client,
        `WITH revoked AS (
           UPDATE api_keys SET revoked_at = $3 WHERE principal_id = $1 AND ${inScope('instance_id', 2)} AND revoked_at IS NULL RETURNING *)
         SELECT * FROM revoked ORDER BY created_at, id`,
        [principalId, instanceId, at],
      );
      return revoked.map(toKey);
    });
  }

  async putKey(k: Omit<AccessKey, 'lastUsedAt' | 'revokedAt'> & { slot: KeySlot }, at: string): Promise<AccessKey | undefined> {
    return this.durable(async (client) => {
      // Without the lock, two processes filling an empty slot would both insert (one failing on
      // api_keys_slot); with it, the second sees the first's key and replaces it.
      await client.query(slotLock, [k.principalId, k.instanceId, k.slot]);
      const old = await one(
        client,
        `UPDATE api_keys SET revoked_at = $4 WHERE principal_id = $1 AND ${inScope('instance_id', 2)} AND slot = $3 AND revoked_at IS NULL RETURNING *`,
        [k.principalId, k.instanceId, k.slot, at],
      );
      await run(
        client,
        `INSERT INTO api_keys (id, instance_id, principal_id, name, role, prefix, hash, slot, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [k.id, k.instanceId, k.principalId, k.name, k.role, k.prefix, k.hash, k.slot, k.createdAt, k.expiresAt],
      );
      return old && toKey(old);
    });
  }

  async findKeyByHash(hash: string): Promise<AccessKey | undefined> {
    const r = await one(this.pool, 'SELECT * FROM api_keys WHERE hash = $1', [hash]);
    return r && toKey(r);
  }

  async getKey(instanceId: string | null, id: string): Promise<AccessKey | undefined> {
    const r = await one(this.pool, `SELECT * FROM api_keys WHERE id = $1 AND ${inScope('instance_id', 2)}`, [id, instanceId]);
    return r && toKey(r);
  }

  async listKeys(instanceId: string | null, options: { principalId?: string; includeRevoked?: boolean } = {}): Promise<AccessKey[]> {
    const list = await rows(
      this.pool,
      `SELECT * FROM api_keys WHERE ${inScope('instance_id', 1)}
         AND ($2::text IS NULL OR principal_id = $2) AND ($3 OR revoked_at IS NULL)
       ORDER BY created_at, id`,
      [instanceId, options.principalId ?? null, options.includeRevoked ?? false],
    );
    return list.map(toKey);
  }

  async revokeKey(instanceId: string | null, id: string, at: string): Promise<AccessKey | undefined> {
    const r = await this.durable((client) =>
      one(client, `UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND ${inScope('instance_id', 2)} AND revoked_at IS NULL RETURNING *`, [id, instanceId, at]),
    );
    return r && toKey(r);
  }

  async touchKey(id: string, at: string): Promise<void> {
    await run(this.pool, 'UPDATE api_keys SET last_used_at = $1 WHERE id = $2', [at, id]);
  }

  async appendAudit(e: Omit<AuditEntry, 'id'>): Promise<number> {
    const r = await one(
      this.pool,
      'INSERT INTO audit_log (at, instance_id, principal_id, action, target, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7::json) RETURNING id',
      [e.at, e.instanceId, e.principalId, e.action, e.target, e.outcome, e.detail ? JSON.stringify(e.detail) : null],
    );
    return Number(r!.id);
  }

  async queryAudit(q: AuditQuery): Promise<AuditEntry[]> {
    const list = await rows(
      this.pool,
      `SELECT * FROM audit_log
       WHERE ($1 OR ${inScope('instance_id', 2)})
         AND ($3::text IS NULL OR action = $3) AND ($4::text IS NULL OR starts_with(action, $4)) AND ($5::text IS NULL OR principal_id = $5)
         AND ($6::text IS NULL OR at >= $6) AND ($7::text IS NULL OR at < $7) AND ($8::bigint IS NULL OR id < $8)
       ORDER BY id DESC LIMIT $9`,
      [
        q.instanceId === undefined,
        q.instanceId ?? null,
        q.action ?? null,
        q.actionPrefix ?? null,
        q.principalId ?? null,
        q.since ?? null,
        q.until ?? null,
        q.beforeId ?? null,
        q.limit,
      ],
    );
    return list.map(toAudit);
  }
}
