// Turns a real-time request body into a write, or says exactly what is wrong with it. Each
// function returns a typed outcome: ok with the write, or rejected with a status and problems.
import { randomUUID } from 'node:crypto';
import type { ColumnType } from '../config/schema.js';
import type { ActivityRecord, FieldValue } from '../domain/profile.js';
import {
  DEFAULT_ACTIVITY_VALIDITY_MS,
  DEFAULT_PROFILE_VALIDITY_MS,
  resolveValidUntil,
  type RealtimeWrite,
} from '../domain/realtime.js';
import type { AttributeInfo, EntityInfo, UnifiedSchema } from '../domain/unified-schema.js';
import { isoTimestamp, parseValue } from '../domain/values.js';

export interface Problem {
  target: string;
  message: string;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; status: 400 | 404; problems: Problem[] };

export interface WriteContext {
  instanceId: string;
  /** validUntil query parameter as given (undefined: the default applies). */
  validUntil?: string;
  caller?: string;
  now: number;
}

const reject = (status: 400 | 404, problems: Problem[]): { ok: false; status: 400 | 404; problems: Problem[] } => ({ ok: false, status, problems });

const MAX_TEXT = 4000;

/** Checks one JSON value against a column type; returns the value to store (dates normalised). */
export function checkValue(value: unknown, type: ColumnType): { ok: true; value: FieldValue } | { ok: false; reason: string } {
  if (value === null) return { ok: true, value: null };
  switch (type) {
    case 'string':
      if (typeof value !== 'string') return { ok: false, reason: `must be a string, not ${describe(value)}` };
      if (value.length > MAX_TEXT) return { ok: false, reason: `is longer than ${MAX_TEXT} characters` };
      return { ok: true, value };
    case 'integer':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) return { ok: false, reason: `must be an integer, not ${describe(value)}` };
      return { ok: true, value };
    case 'decimal':
      if (typeof value !== 'number' || !Number.isFinite(value)) return { ok: false, reason: `must be a number, not ${describe(value)}` };
      return { ok: true, value };
    case 'boolean':
      if (typeof value !== 'boolean') return { ok: false, reason: `must be true or false, not ${describe(value)}` };
      return { ok: true, value };
    case 'date':
    case 'datetime': {
      if (typeof value !== 'string') return { ok: false, reason: `must be a ${type} string, not ${describe(value)}` };
      const parsed = parseValue(value, type);
      return parsed.ok ? parsed : { ok: false, reason: parsed.reason };
    }
  }
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `${typeof v} ${String(v)}`;
}

// Built once per entity schema (schemas are rebuilt when a definition changes, so a WeakMap is enough).
const byNameCache = new WeakMap<EntityInfo, Map<string, AttributeInfo>>();
function attributesByName(entity: EntityInfo): Map<string, AttributeInfo> {
  let map = byNameCache.get(entity);
  if (!map) byNameCache.set(entity, (map = new Map(entity.attributes.map((a) => [a.name, a]))));
  return map;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * What a request's context gives every write made under it (expiries, caller, creation time),
 * worked out once per context: a $batch of 10,000 items shares one. Only the last context is
 * kept: a batch prepares its items one after the other, and a single write needs no cache.
 */
interface ResolvedContext {
  ctx: WriteContext;
  now: number;
  validUntil: string | undefined;
  caller: string | undefined;
  until: Map<number, Outcome<string>>;
  who?: Outcome<string | null>;
  at?: string;
}
/** Where a context keeps what was worked out from it (no module-level state; dies with the context). */
const RESOLVED = Symbol('resolved');

function resolved(ctx: WriteContext): ResolvedContext {
  const holder = ctx as WriteContext & { [RESOLVED]?: ResolvedContext };
  const r = holder[RESOLVED];
  // A caller reusing the object with other values: worked out anew.
  if (r && r.now === ctx.now && r.validUntil === ctx.validUntil && r.caller === ctx.caller) return r;
  return (holder[RESOLVED] = { ctx, now: ctx.now, validUntil: ctx.validUntil, caller: ctx.caller, until: new Map() });
}

function validity(ctx: WriteContext, defaultMs: number): Outcome<string> {
  const r = resolved(ctx);
  let until = r.until.get(defaultMs);
  if (!until) {
    const v = resolveValidUntil(ctx.validUntil, defaultMs, ctx.now);
    until = v.ok ? { ok: true, value: v.validUntil } : reject(400, [{ target: 'validUntil', message: v.message }]);
    r.until.set(defaultMs, until);
  }
  return until;
}

function caller(ctx: WriteContext): Outcome<string | null> {
  const r = resolved(ctx);
  if (!r.who) {
    if (ctx.caller === undefined || ctx.caller === '') r.who = { ok: true, value: null };
    else if (ctx.caller.length > 200) r.who = reject(400, [{ target: 'caller', message: 'caller is longer than 200 characters' }]);
    else r.who = { ok: true, value: ctx.caller };
  }
  return r.who;
}

function createdAt(ctx: WriteContext): string {
  const r = resolved(ctx);
  return (r.at ??= new Date(ctx.now).toISOString());
}

/** PATCH Customer/{id}: the body holds attributes of the unified Customer to change. */
export function prepareProfileUpdate(schema: UnifiedSchema, ctx: WriteContext, customerId: string, body: unknown): Outcome<RealtimeWrite> {
  if (!isPlainObject(body)) return reject(400, [{ target: 'body', message: `the body must be a JSON object of Customer attributes, not ${describe(body)}` }]);
  const entries = Object.entries(body);
  if (!entries.length) return reject(400, [{ target: 'body', message: 'the body has no attributes to change' }]);
  const attributes = attributesByName(schema.customer);
  const problems: Problem[] = [];
  const changes: Record<string, FieldValue> = {};
  for (const [name, value] of entries) {
    const a = attributes.get(name);
    if (!a) {
      problems.push({ target: name, message: `'${name}' is not an attribute of Customer` });
    } else if (!a.writable) {
      problems.push({
        target: name,
        message: schema.keyColumns.has(name)
          ? `'${name}' is a source key column; it changes only through a refresh`
          : `'${name}' cannot be changed`,
      });
    } else {
      const checked = checkValue(value, a.type);
      if (checked.ok) changes[name] = checked.value;
      else problems.push({ target: name, message: `'${name}' ${checked.reason}` });
    }
  }
  const until = validity(ctx, DEFAULT_PROFILE_VALIDITY_MS);
  if (!until.ok) problems.push(...until.problems);
  const who = caller(ctx);
  if (!who.ok) problems.push(...who.problems);
  if (problems.length || !until.ok || !who.ok) return reject(400, problems);
  return {
    ok: true,
    value: {
      kind: 'profile',
      instanceId: ctx.instanceId,
      customerId,
      changes,
      caller: who.value,
      setAt: createdAt(ctx),
      validUntil: until.value,
    },
  };
}

const ACTIVITY_FIELDS: Record<string, { type: ColumnType; required?: boolean }> = {
  ActivityId: { type: 'string' },
  CustomerId: { type: 'string', required: true },
  ActivityTime: { type: 'datetime', required: true },
  ActivityType: { type: 'string', required: true },
  ActivityTypeDisplay: { type: 'string' },
  SourceEntityName: { type: 'string' },
  SourceActivityId: { type: 'string' },
  DataSourceName: { type: 'string' },
  Title: { type: 'string' },
  Description: { type: 'string' },
  Url: { type: 'string' },
  Icon: { type: 'string' },
  ShowInTimeline: { type: 'boolean' },
};

const REQUIRED_ACTIVITY_FIELDS = Object.keys(ACTIVITY_FIELDS).filter((name) => ACTIVITY_FIELDS[name].required);

function activityWrite(ctx: WriteContext, activity: ActivityRecord, who: string | null, sourceCustomer?: { dataSource: string; entity: string; key: string }): RealtimeWrite {
  return {
    kind: 'activity',
    instanceId: ctx.instanceId,
    activity,
    json: JSON.stringify(activity),
    caller: who,
    createdAt: createdAt(ctx),
    sourceCustomer,
  };
}

/** POST UnifiedActivity: the body is an activity in the unified format. */
export function prepareUnifiedActivity(ctx: WriteContext, body: unknown): Outcome<RealtimeWrite> {
  if (!isPlainObject(body)) return reject(400, [{ target: 'body', message: `the body must be a JSON object (a UnifiedActivity), not ${describe(body)}` }]);
  const problems: Problem[] = [];
  const values: Record<string, FieldValue> = {};
  for (const name of Object.keys(body)) {
    const value = body[name];
    // Own properties only: a field named 'constructor' or 'toString' is not an attribute.
    const field = Object.hasOwn(ACTIVITY_FIELDS, name) ? ACTIVITY_FIELDS[name] : undefined;
    if (!field) {
      problems.push({
        target: name,
        message:
          name === 'Origin' || name === 'ValidUntil'
            ? `'${name}' is set by the server (use the validUntil query parameter for the expiry)`
            : `'${name}' is not an attribute of UnifiedActivity`,
      });
      continue;
    }
    const checked = checkValue(value, field.type);
    if (!checked.ok) problems.push({ target: name, message: `'${name}' ${checked.reason}` });
    else values[name] = checked.value;
  }
  for (const name of REQUIRED_ACTIVITY_FIELDS) {
    if ((values[name] === undefined || values[name] === null || values[name] === '') && !problems.some((p) => p.target === name))
      problems.push({ target: name, message: `'${name}' is required` });
  }
  if (typeof values.ActivityId === 'string' && (values.ActivityId.length === 0 || values.ActivityId.length > 128))
    problems.push({ target: 'ActivityId', message: "'ActivityId' must have 1 to 128 characters" });
  const until = validity(ctx, DEFAULT_ACTIVITY_VALIDITY_MS);
  if (!until.ok) problems.push(...until.problems);
  const who = caller(ctx);
  if (!who.ok) problems.push(...who.problems);
  if (problems.length || !until.ok || !who.ok) return reject(400, problems);
  const activity: ActivityRecord = {
    ActivityId: (values.ActivityId as string | undefined) ?? randomUUID(),
    CustomerId: values.CustomerId as string,
    ActivityTime: values.ActivityTime as string,
    ActivityType: values.ActivityType as string,
    ActivityTypeDisplay: (values.ActivityTypeDisplay as string | undefined) ?? (values.ActivityType as string),
    SourceEntityName: (values.SourceEntityName as string | undefined) ?? 'UnifiedActivity',
    SourceActivityId: (values.SourceActivityId as string | undefined) ?? ((values.ActivityId as string | undefined) ?? ''),
    DataSourceName: (values.DataSourceName as string | undefined) ?? 'realtime',
    Title: (values.Title as string | null | undefined) ?? null,
    Description: (values.Description as string | null | undefined) ?? null,
    Url: (values.Url as string | null | undefined) ?? null,
    Icon: (values.Icon as string | null | undefined) ?? null,
    ShowInTimeline: (values.ShowInTimeline as boolean | null | undefined) ?? true,
    Origin: 'realtime',
    ValidUntil: until.value,
  };
  if (!activity.SourceActivityId) activity.SourceActivityId = activity.ActivityId;
  return { ok: true, value: activityWrite(ctx, activity, who.value) };
}

/**
 * POST {DataSource}_{Entity}: the body is a record in the source entity's format; it is mapped
 * through the activity definition and its customer found through the foreign key and key ring.
 */
export async function prepareSourceActivity(
  schema: UnifiedSchema,
  ctx: WriteContext,
  qualifiedName: string,
  body: unknown,
  findCustomer: (dataSource: string, entity: string, key: string) => Promise<string | undefined>,
): Promise<Outcome<RealtimeWrite>> {
  const source = schema.sourceActivities.get(qualifiedName)!;
  const { def, entity, customerEntity, mapping } = source;
  if (!isPlainObject(body)) return reject(400, [{ target: 'body', message: `the body must be a JSON object (a ${qualifiedName} record), not ${describe(body)}` }]);
  const problems: Problem[] = [];
  const row: FieldValue[] = entity.columns.map(() => null);
  for (const [name, value] of Object.entries(body)) {
    const index = entity.columnIndex.get(name);
    if (index === undefined) {
      problems.push({ target: name, message: `'${name}' is not a column of ${qualifiedName}` });
      continue;
    }
    const column = entity.columns[index];
    // Source systems send numbers and booleans as JSON or as text; both are accepted.
    const text = value === null ? null : typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
    if (text === undefined) {
      problems.push({ target: name, message: `'${name}' must be a ${column.type} value, not ${describe(value)}` });
      continue;
    }
    if (text === null || text === '') continue;
    const parsed = parseValue(text, column.type);
    if (parsed.ok) row[index] = parsed.value;
    else problems.push({ target: name, message: `'${name}' ${JSON.stringify(text)} ${parsed.reason}` });
  }
  for (const [column, index] of [
    [def.primaryKey, mapping.keyIndex],
    [def.timestamp, mapping.timeIndex],
    [def.customer.foreignKey, mapping.foreignKeyIndex],
  ] as const) {
    if (row[index] === null && !problems.some((p) => p.target === column)) problems.push({ target: column, message: `'${column}' is required` });
  }
  const until = validity(ctx, DEFAULT_ACTIVITY_VALIDITY_MS);
  if (!until.ok) problems.push(...until.problems);
  const who = caller(ctx);
  if (!who.ok) problems.push(...who.problems);
  if (problems.length || !until.ok || !who.ok) return reject(400, problems);
  const time = isoTimestamp(String(row[mapping.timeIndex]));
  if (time === null) return reject(400, [{ target: def.timestamp, message: `'${def.timestamp}' is not a date-time` }]);
  const key = String(row[mapping.keyIndex]).trim();
  const foreignKey = String(row[mapping.foreignKeyIndex]).trim();
  const customerId = await findCustomer(customerEntity.dataSource, customerEntity.name, foreignKey);
  if (!customerId) {
    return reject(404, [
      {
        target: def.customer.foreignKey,
        message: `no customer has ${customerEntity.dataSource}.${customerEntity.name} key '${foreignKey}' (${def.customer.foreignKey})`,
      },
    ]);
  }
  const activity = mapping.build(row, key, customerId, time);
  activity.Origin = 'realtime';
  activity.ValidUntil = until.value;
  return { ok: true, value: activityWrite(ctx, activity, who.value, { dataSource: customerEntity.dataSource, entity: customerEntity.name, key: foreignKey }) };
}
