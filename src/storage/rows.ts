// Turning rows of the core and sub-port tables into records, for every adapter: the column names
// are the same; only how a JSON column arrives differs (text in SQLite, parsed jsonb in PostgreSQL).
import type { RunRecord } from '../domain/run.js';
import type { AccessKey, AuditEntry, KeySlot, Principal, RoleAssignment } from './access.js';
import type { ExportRunRecord } from './exports.js';
import type { DeliveryRecord } from './notifications.js';
import type { UiSessionRecord } from './sessions.js';
import type { ApiKeyRecord, InstanceRecord, Role } from './store.js';

export type Row = Record<string, unknown>;
/** How an adapter reads a JSON column's value. */
export type JsonColumn = (value: unknown) => unknown;

export const jsonText: JsonColumn = (value) => JSON.parse(value as string);
export const jsonParsed: JsonColumn = (value) => value;

export function instanceFromRow(r: Row, json: JsonColumn): InstanceRecord {
  return {
    id: r.id as string,
    name: r.name as string,
    definition: json(r.definition) as InstanceRecord['definition'],
    sourceFile: r.source_file as string,
    baseDir: r.base_dir as string,
    currentGeneration: (r.current_generation as number | null) ?? null,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
  };
}

export function runFromRow(r: Row, json: JsonColumn): RunRecord {
  return {
    jobId: r.job_id as string,
    instanceId: r.instance_id as string,
    status: r.status as RunRecord['status'],
    trigger: r.trigger as RunRecord['trigger'],
    submittedAt: r.submitted_at as string,
    startedAt: (r.started_at as string | null) ?? null,
    endedAt: (r.ended_at as string | null) ?? null,
    error: (r.error as string | null) ?? null,
    generation: (r.generation as number | null) ?? null,
    stages: json(r.stages) as RunRecord['stages'],
    summary: json(r.summary) as RunRecord['summary'],
  };
}

export function apiKeyFromRow(r: Row): ApiKeyRecord {
  return {
    id: r.id as string,
    instanceId: (r.instance_id as string | null) ?? null,
    principalId: r.principal_id as string,
    name: r.name as string,
    role: r.role as ApiKeyRecord['role'],
    prefix: r.prefix as string,
    hash: r.hash as string,
    createdAt: r.created_at as string,
    lastUsedAt: (r.last_used_at as string | null) ?? null,
    expiresAt: (r.expires_at as string | null) ?? null,
    revokedAt: (r.revoked_at as string | null) ?? null,
  };
}

export function accessKeyFromRow(r: Row): AccessKey {
  return { ...apiKeyFromRow(r), slot: (r.slot as KeySlot | null) ?? null };
}

export function principalFromRow(r: Row): Principal {
  return { id: r.id as string, kind: r.kind as Principal['kind'], displayName: r.display_name as string, createdAt: r.created_at as string };
}

/** A role_assignments row joined with its principal's kind and display_name. */
export function assignmentFromRow(r: Row): RoleAssignment {
  return {
    principalId: r.principal_id as string,
    principalKind: r.kind as Principal['kind'],
    displayName: r.display_name as string,
    instanceId: (r.instance_id as string | null) ?? null,
    role: r.role as Role,
    assignedAt: r.assigned_at as string,
  };
}

export function auditFromRow(r: Row, json: JsonColumn): AuditEntry {
  return {
    // PostgreSQL returns BIGINT as a string.
    id: Number(r.id),
    at: r.at as string,
    instanceId: (r.instance_id as string | null) ?? null,
    principalId: (r.principal_id as string | null) ?? null,
    action: r.action as string,
    target: (r.target as string | null) ?? null,
    outcome: r.outcome as string,
    detail: r.detail === null || r.detail === undefined ? null : (json(r.detail) as Record<string, unknown>),
  };
}

export function exportRunFromRow(r: Row): ExportRunRecord {
  return {
    runId: r.run_id as string,
    instanceId: r.instance_id as string,
    exportName: r.export_name as string,
    trigger: r.trigger as ExportRunRecord['trigger'],
    jobId: (r.job_id as string | null) ?? null,
    generation: (r.generation as number | null) ?? null,
    status: r.status as ExportRunRecord['status'],
    target: r.target as string,
    startedAt: r.started_at as string,
    endedAt: (r.ended_at as string | null) ?? null,
    rows: r.rows as number,
    batches: r.batches as number,
    durationMs: (r.duration_ms as number | null) ?? null,
    error: (r.error as string | null) ?? null,
  };
}

export function uiSessionFromRow(r: Row): UiSessionRecord {
  return { idHash: r.id_hash as string, keyHash: r.key_hash as string, createdAt: r.created_at as string, lastSeenAt: r.last_seen_at as string };
}

export function deliveryFromRow(r: Row, json: JsonColumn): DeliveryRecord {
  return {
    deliveryId: r.delivery_id as string,
    instanceId: r.instance_id as string,
    notification: r.notification as string,
    event: r.event as DeliveryRecord['event'],
    payload: json(r.payload) as DeliveryRecord['payload'],
    status: r.status as DeliveryRecord['status'],
    attempts: r.attempts as number,
    responseStatus: (r.response_status as number | null) ?? null,
    lastError: (r.last_error as string | null) ?? null,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
  };
}
