// Real-time data is an overlay with an expiry: after validUntil, or once a refresh brings a newer
// source record, the batch value counts again. Pure rules; no I/O.
import { hash } from 'node:crypto';
import type { ActivityRecord, CustomerRecord, FieldValue } from './profile.js';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
export const DEFAULT_PROFILE_VALIDITY_MS = 4 * HOUR_MS;
export const DEFAULT_ACTIVITY_VALIDITY_MS = 30 * DAY_MS;
export const MAX_VALIDITY_MS = 30 * DAY_MS;

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export type ValidityResult = { ok: true; validUntil: string } | { ok: false; message: string };

/** Checks a caller's validUntil (RFC 3339, in the future, at most 30 days ahead) or applies the default. */
export function resolveValidUntil(text: string | undefined, defaultMs: number, now: number): ValidityResult {
  if (text === undefined || text === '') return { ok: true, validUntil: new Date(now + defaultMs).toISOString() };
  if (!RFC3339.test(text)) return { ok: false, message: `validUntil '${text}' is not an RFC 3339 date-time such as 2026-12-01T12:00:00Z` };
  const t = Date.parse(text.replace(' ', 'T'));
  // Date.parse rolls impossible dates over (11-31 becomes 12-01, 24:00 the next day); RFC 3339 does not.
  const [y, mo, d, h] = text.slice(0, 13).split(/[-Tt ]/).map(Number);
  if (Number.isNaN(t) || mo < 1 || mo > 12 || d < 1 || d > new Date(Date.UTC(y, mo, 0)).getUTCDate() || h > 23)
    return { ok: false, message: `validUntil '${text}' is not a valid date-time` };
  if (t <= now) return { ok: false, message: `validUntil '${text}' is in the past` };
  if (t - now > MAX_VALIDITY_MS) return { ok: false, message: `validUntil '${text}' is more than 30 days ahead` };
  return { ok: true, validUntil: new Date(t).toISOString() };
}

/** A real-time change to one attribute of a unified profile. */
export interface ProfileOverride {
  customerId: string;
  attribute: string;
  value: FieldValue;
  caller: string | null;
  setAt: string;
  validUntil: string;
}

/**
 * An override counts until it expires. When a refresh brings a source record newer than the
 * override, the store removes the override as that refresh commits (see carryOverlay), so a
 * write is always visible to the next read.
 */
export function overrideCounts(o: Pick<ProfileOverride, 'validUntil'>, nowIso: string): boolean {
  return o.validUntil > nowIso;
}

/** The profile as readers see it: batch values with the counting overrides on top. */
export function applyOverrides(
  customer: CustomerRecord,
  overrides: readonly ProfileOverride[],
  nowIso: string,
): { customer: CustomerRecord; applied: ProfileOverride[] } {
  const applied = overrides.filter((o) => overrideCounts(o, nowIso));
  if (!applied.length) return { customer, applied };
  const out: CustomerRecord = { ...customer };
  for (const o of applied) out[o.attribute] = o.value;
  return { customer: out, applied };
}

/**
 * Whether two activities with the same ActivityId have the same content. Worked out only when an
 * ActivityId comes again, which is rare: new activities cost no hash.
 */
export function sameActivityContent(a: ActivityRecord, b: ActivityRecord): boolean {
  return activityContentHash(a) === activityContentHash(b);
}

/** What makes two postings of the same ActivityId "the same": everything but expiry and caller. */
export function activityContentHash(a: ActivityRecord): string {
  const record = a as unknown as Record<string, unknown>;
  // One string, keys sorted, hashed once: the same content always gives the same hash. The string
  // is JSON.stringify([[key, value], ...]) written out by hand: this runs for every posted activity.
  const keys = Object.keys(record);
  if (hasRecordKeys(keys)) {
    // The usual shape (as ingest and the refresh build it): the sorted order is known.
    let canonical = '[';
    for (let i = 0; i < HASHED_KEYS.length; i++) canonical += `${HASHED_KEY_PREFIXES[i]}${JSON.stringify(record[HASHED_KEYS[i]] ?? null)}]`;
    return hash('sha256', `${canonical}]`);
  }
  keys.sort();
  let canonical = '';
  for (const k of keys) {
    if (k === 'ValidUntil' || k === 'Origin') continue;
    canonical += `${canonical ? ',' : ''}[${JSON.stringify(k)},${JSON.stringify(record[k] ?? null)}]`;
  }
  return hash('sha256', `[${canonical}]`);
}

/** The keys of an activity record in the order ingest.ts and the refresh create them. */
const RECORD_KEYS: readonly string[] = [
  'ActivityId',
  'CustomerId',
  'ActivityTime',
  'ActivityType',
  'ActivityTypeDisplay',
  'SourceEntityName',
  'SourceActivityId',
  'DataSourceName',
  'Title',
  'Description',
  'Url',
  'Icon',
  'ShowInTimeline',
  'Origin',
  'ValidUntil',
] satisfies (keyof ActivityRecord)[];
const HASHED_KEYS = RECORD_KEYS.filter((k) => k !== 'ValidUntil' && k !== 'Origin').sort();
const HASHED_KEY_PREFIXES = HASHED_KEYS.map((k, i) => `${i ? ',' : ''}[${JSON.stringify(k)},`);

function hasRecordKeys(keys: readonly string[]): boolean {
  if (keys.length !== RECORD_KEYS.length) return false;
  for (let i = 0; i < keys.length; i++) if (keys[i] !== RECORD_KEYS[i]) return false;
  return true;
}

export type RealtimeWrite =
  | {
      kind: 'profile';
      instanceId: string;
      customerId: string;
      changes: Record<string, FieldValue>;
      caller: string | null;
      setAt: string;
      validUntil: string;
    }
  | {
      kind: 'activity';
      instanceId: string;
      activity: ActivityRecord;
      /** JSON.stringify(activity), made once by ingest: stored as the row's data and sent back in the 201. */
      json?: string;
      caller: string | null;
      createdAt: string;
      /** Set for activities posted in a source entity's format. */
      sourceCustomer?: { dataSource: string; entity: string; key: string };
    };

export type RealtimeResult =
  | { status: 'updated'; customerId: string; validUntil: string }
  | { status: 'created'; activity: ActivityRecord }
  | { status: 'replayed'; activity: ActivityRecord }
  | { status: 'conflict'; activityId: string }
  | { status: 'customerNotFound'; customerId: string };
