// Access sub-port of the Store: principals (users and apps), their role per instance, API keys in
// two slots per principal (rotation without downtime) and the audit log of management actions.
// SQL lives in the adapters (sqlite/access.ts, later postgres/access.ts).
import type { ApiKeyRecord, Role } from './store.js';

export type PrincipalKind = 'user' | 'app' | 'group';
export type KeySlot = 'primary' | 'secondary';

export interface Principal {
  /** e.g. `app:crm-sync` or `user:ana@example.com` */
  id: string;
  kind: PrincipalKind;
  displayName: string;
  createdAt: string;
}

/** A principal's one role in one instance; instanceId null: server-wide (every instance, and instance management). */
export interface RoleAssignment {
  principalId: string;
  principalKind: PrincipalKind;
  displayName: string;
  instanceId: string | null;
  role: Role;
  assignedAt: string;
}

/** An API key row; `slot` is null only for keys made before slots existed. */
export interface AccessKey extends ApiKeyRecord {
  slot: KeySlot | null;
}

export interface AuditEntry {
  id: number;
  at: string;
  /** null: a server-wide action (server keys, instance definitions applied by a server administrator). */
  instanceId: string | null;
  /** Who acted (null when unknown). */
  principalId: string | null;
  /** e.g. `key.create`, `rbac.assign`, `instance.apply`, `refresh.start` */
  action: string;
  target: string | null;
  /** `success`, or the error code of the failure (e.g. `Forbidden`). */
  outcome: string;
  detail: Record<string, unknown> | null;
}

export interface AuditQuery {
  /** undefined: every scope; null: server-wide entries only. */
  instanceId?: string | null;
  action?: string;
  /** Actions that start with this (e.g. `key.`). */
  actionPrefix?: string;
  principalId?: string;
  /** Inclusive lower bound of `at` (ISO). */
  since?: string;
  /** Exclusive upper bound of `at` (ISO). */
  until?: string;
  /** Entries with an id below this one (the paging cursor). */
  beforeId?: number;
  limit: number;
}

export interface AccessStore {
  /** Creates the principal if it does not exist; returns the stored one. */
  ensurePrincipal(p: Omit<Principal, 'createdAt'>, at: string): Promise<Principal>;
  getPrincipal(id: string): Promise<Principal | undefined>;

  getAssignment(principalId: string, instanceId: string | null): Promise<RoleAssignment | undefined>;
  /** Assignments of one scope (null: server-wide), by principal id. */
  listAssignments(instanceId: string | null): Promise<RoleAssignment[]>;
  /**
   * Sets a principal's role in a scope and gives its live keys of that scope the same role, in one
   * transaction. The principal must exist.
   */
  assignRole(principalId: string, instanceId: string | null, role: Role, at: string): Promise<'created' | 'updated'>;
  /** Removes the assignment and revokes the principal's live keys of that scope; returns the revoked keys, or undefined when there was no assignment. */
  removeAssignment(principalId: string, instanceId: string | null, at: string): Promise<AccessKey[] | undefined>;

  /**
   * Puts a key in its principal's slot, revoking the live key that held the slot (returned), in one
   * transaction.
   */
  putKey(key: Omit<AccessKey, 'lastUsedAt' | 'revokedAt'> & { slot: KeySlot }, at: string): Promise<AccessKey | undefined>;
  findKeyByHash(hash: string): Promise<AccessKey | undefined>;
  getKey(instanceId: string | null, id: string): Promise<AccessKey | undefined>;
  /** Keys of one scope (null: server-wide), oldest first; revoked ones only when asked. */
  listKeys(instanceId: string | null, options?: { principalId?: string; includeRevoked?: boolean }): Promise<AccessKey[]>;
  /** Revokes a live key; returns it as revoked, or undefined when there is no live key with that id in the scope. */
  revokeKey(instanceId: string | null, id: string, at: string): Promise<AccessKey | undefined>;
  touchKey(id: string, at: string): Promise<void>;

  appendAudit(entry: Omit<AuditEntry, 'id'>): Promise<number>;
  /** Newest first. */
  queryAudit(query: AuditQuery): Promise<AuditEntry[]>;
}
