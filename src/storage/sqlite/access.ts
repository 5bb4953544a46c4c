// SQLite adapter of the access sub-port (tables of migration 3 plus api_keys of migration 1).
import type Database from 'better-sqlite3';
import type { AccessKey, AccessStore, AuditEntry, AuditQuery, KeySlot, Principal, RoleAssignment } from '../access.js';
import { accessKeyFromRow, assignmentFromRow, auditFromRow, jsonText, principalFromRow, type Row } from '../rows.js';
import type { Role } from '../store.js';

const toKey = accessKeyFromRow;
const toPrincipal = principalFromRow;
const toAssignment = assignmentFromRow;
const toAudit = (r: Row) => auditFromRow(r, jsonText);

const ASSIGNMENT = 'SELECT a.principal_id, a.instance_id, a.role, a.assigned_at, p.kind, p.display_name FROM role_assignments a JOIN principals p ON p.id = a.principal_id';

export class SqliteAccessStore implements AccessStore {
  private readonly stmts = new Map<string, Database.Statement>();
  private readonly putKeyTx;
  private readonly assignTx;
  private readonly unassignTx;

  constructor(private readonly db: Database.Database) {
    this.putKeyTx = db.transaction((k: Omit<AccessKey, 'lastUsedAt' | 'revokedAt'> & { slot: KeySlot }, at: string) => {
      const old = this.stmt('SELECT * FROM api_keys WHERE principal_id = ? AND instance_id IS ? AND slot = ? AND revoked_at IS NULL').get(k.principalId, k.instanceId, k.slot) as
        | Row
        | undefined;
      if (old) this.stmt('UPDATE api_keys SET revoked_at = ? WHERE id = ?').run(at, old.id);
      this.stmt(
        `INSERT INTO api_keys (id, instance_id, principal_id, name, role, prefix, hash, slot, created_at, expires_at)
         VALUES (@id, @instanceId, @principalId, @name, @role, @prefix, @hash, @slot, @createdAt, @expiresAt)`,
      ).run(k);
      return old ? { ...toKey(old), revokedAt: at } : undefined;
    });
    this.assignTx = db.transaction((principalId: string, instanceId: string | null, role: Role, at: string): 'created' | 'updated' => {
      const updated = this.stmt('UPDATE role_assignments SET role = ?, assigned_at = ? WHERE principal_id = ? AND instance_id IS ?').run(role, at, principalId, instanceId);
      if (!updated.changes) this.stmt('INSERT INTO role_assignments (principal_id, instance_id, role, assigned_at) VALUES (?, ?, ?, ?)').run(principalId, instanceId, role, at);
      this.stmt('UPDATE api_keys SET role = ? WHERE principal_id = ? AND instance_id IS ? AND revoked_at IS NULL').run(role, principalId, instanceId);
      return updated.changes ? 'updated' : 'created';
    });
    this.unassignTx = db.transaction((principalId: string, instanceId: string | null, at: string): AccessKey[] | undefined => {
      const removed = this.stmt('DELETE FROM role_assignments WHERE principal_id = ? AND instance_id IS ?').run(principalId, instanceId);
      if (!removed.changes) return undefined;
      const live = (this.stmt('SELECT * FROM api_keys WHERE principal_id = ? AND instance_id IS ? AND revoked_at IS NULL').all(principalId, instanceId) as Row[]).map(toKey);
      this.stmt('UPDATE api_keys SET revoked_at = ? WHERE principal_id = ? AND instance_id IS ? AND revoked_at IS NULL').run(at, principalId, instanceId);
      return live.map((k) => ({ ...k, revokedAt: at }));
    });
  }

  private stmt(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  async ensurePrincipal(p: Omit<Principal, 'createdAt'>, at: string): Promise<Principal> {
    this.stmt('INSERT INTO principals (id, kind, display_name, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING').run(p.id, p.kind, p.displayName, at);
    return toPrincipal(this.stmt('SELECT * FROM principals WHERE id = ?').get(p.id) as Row);
  }

  async getPrincipal(id: string): Promise<Principal | undefined> {
    const r = this.stmt('SELECT * FROM principals WHERE id = ?').get(id) as Row | undefined;
    return r && toPrincipal(r);
  }

  async getAssignment(principalId: string, instanceId: string | null): Promise<RoleAssignment | undefined> {
    const r = this.stmt(`${ASSIGNMENT} WHERE a.principal_id = ? AND a.instance_id IS ?`).get(principalId, instanceId) as Row | undefined;
    return r && toAssignment(r);
  }

  async listAssignments(instanceId: string | null): Promise<RoleAssignment[]> {
    return (this.stmt(`${ASSIGNMENT} WHERE a.instance_id IS ? ORDER BY a.principal_id`).all(instanceId) as Row[]).map(toAssignment);
  }

  async assignRole(principalId: string, instanceId: string | null, role: Role, at: string): Promise<'created' | 'updated'> {
    return this.assignTx(principalId, instanceId, role, at);
  }

  async removeAssignment(principalId: string, instanceId: string | null, at: string): Promise<AccessKey[] | undefined> {
    return this.unassignTx(principalId, instanceId, at);
  }

  async putKey(key: Omit<AccessKey, 'lastUsedAt' | 'revokedAt'> & { slot: KeySlot }, at: string): Promise<AccessKey | undefined> {
    return this.putKeyTx(key, at);
  }

  async findKeyByHash(hash: string): Promise<AccessKey | undefined> {
    const r = this.stmt('SELECT * FROM api_keys WHERE hash = ?').get(hash) as Row | undefined;
    return r && toKey(r);
  }

  async getKey(instanceId: string | null, id: string): Promise<AccessKey | undefined> {
    const r = this.stmt('SELECT * FROM api_keys WHERE id = ? AND instance_id IS ?').get(id, instanceId) as Row | undefined;
    return r && toKey(r);
  }

  async listKeys(instanceId: string | null, options: { principalId?: string; includeRevoked?: boolean } = {}): Promise<AccessKey[]> {
    const rows = this.stmt(
      `SELECT * FROM api_keys WHERE instance_id IS @instanceId
         AND (@principalId IS NULL OR principal_id = @principalId) AND (@all = 1 OR revoked_at IS NULL)
       ORDER BY created_at, id`,
    ).all({ instanceId, principalId: options.principalId ?? null, all: options.includeRevoked ? 1 : 0 }) as Row[];
    return rows.map(toKey);
  }

  async revokeKey(instanceId: string | null, id: string, at: string): Promise<AccessKey | undefined> {
    const r = this.stmt('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND instance_id IS ? AND revoked_at IS NULL RETURNING *').get(at, id, instanceId) as Row | undefined;
    return r && toKey(r);
  }

  async touchKey(id: string, at: string): Promise<void> {
    this.stmt('UPDATE api_keys SET last_used_at = ? WHERE id = ?').run(at, id);
  }

  async appendAudit(e: Omit<AuditEntry, 'id'>): Promise<number> {
    const r = this.stmt('INSERT INTO audit_log (at, instance_id, principal_id, action, target, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      e.at,
      e.instanceId,
      e.principalId,
      e.action,
      e.target,
      e.outcome,
      e.detail ? JSON.stringify(e.detail) : null,
    );
    return Number(r.lastInsertRowid);
  }

  async queryAudit(q: AuditQuery): Promise<AuditEntry[]> {
    const rows = this.stmt(
      `SELECT * FROM audit_log
       WHERE (@anyScope = 1 OR instance_id IS @instanceId)
         AND (@action IS NULL OR action = @action) AND (@prefix IS NULL OR substr(action, 1, length(@prefix)) = @prefix) AND (@principalId IS NULL OR principal_id = @principalId)
         AND (@since IS NULL OR at >= @since) AND (@until IS NULL OR at < @until) AND (@beforeId IS NULL OR id < @beforeId)
       ORDER BY id DESC LIMIT @limit`,
    ).all({
      anyScope: q.instanceId === undefined ? 1 : 0,
      instanceId: q.instanceId ?? null,
      action: q.action ?? null,
      prefix: q.actionPrefix ?? null,
      principalId: q.principalId ?? null,
      since: q.since ?? null,
      until: q.until ?? null,
      beforeId: q.beforeId ?? null,
      limit: q.limit,
    }) as Row[];
    return rows.map(toAudit);
  }
}
