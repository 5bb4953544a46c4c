// Unified data as readers see it. Pure types and small rules; no I/O.
import { hash } from 'node:crypto';

export type FieldValue = string | number | boolean | null;

/** A unified Customer: CustomerId, PreviousCustomerId, merged fields and one key column per source entity. */
export interface CustomerRecord {
  CustomerId: string;
  PreviousCustomerId?: string | null;
  [field: string]: FieldValue | undefined;
}

/** One row of the key ring: which profile a source record belongs to. */
export interface AlternateKeyRecord {
  DataSourceName: string;
  EntityName: string;
  AlternateValue: string;
  CustomerId: string;
}

export interface ActivityRecord {
  ActivityId: string;
  CustomerId: string;
  /** ISO 8601 */
  ActivityTime: string;
  ActivityType: string;
  ActivityTypeDisplay: string;
  SourceEntityName: string;
  SourceActivityId: string;
  DataSourceName: string;
  Title: string | null;
  Description: string | null;
  Url: string | null;
  Icon: string | null;
  ShowInTimeline: boolean;
  Origin: 'batch' | 'realtime';
  ValidUntil?: string | null;
}

/** Formats 16 bytes of a hash as a UUID (version nibble 5, RFC 4122 variant) so IDs look like the reference's GUIDs. */
function hashToUuid(digest: Buffer): string {
  const b = digest.subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x50;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function deterministicId(...parts: string[]): string {
  // The bytes hashed are each part followed by NUL; one-shot hash(): this runs for every profile
  // and activity of a refresh, and a Hash object per call costs more than the hashing.
  return hashToUuid(hash('sha256', `${parts.join('\u0000')}\u0000`, 'buffer'));
}

/** The same source record always gets the same ActivityId. */
export function activityIdFor(instanceId: string, dataSource: string, entity: string, primaryKey: string): string {
  return deterministicId('activity', instanceId, dataSource, entity, primaryKey);
}

/** Identity of a source record inside an instance. */
export function recordKey(dataSource: string, entity: string, key: string): string {
  return `${dataSource}\u0001${entity}\u0001${key}`;
}

/**
 * The record with the attributes `order` names first, in that order, then any others as they
 * come. Stores differ in key order (PostgreSQL's jsonb keeps none); callers see one shape.
 */
export function inAttributeOrder<T extends object>(record: T, order: Iterable<string>): T {
  const from = record as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const name of order) if (name in from) out[name] = from[name];
  for (const name in from) if (!(name in out)) out[name] = from[name];
  return out as T;
}
