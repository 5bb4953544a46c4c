// A mapped payload becomes a real-time write through the same validation as the data routes
// (src/realtime/ingest.ts); what fails says which step: the mapping, the customer look-up, or the
// validation of the produced record.
import type { CatalogEntry } from '../api/catalog.js';
import type { ColumnType } from '../config/schema.js';
import type { RealtimeWrite } from '../domain/realtime.js';
import { prepareProfileUpdate, prepareSourceActivity, prepareUnifiedActivity, type WriteContext } from '../realtime/ingest.js';
import type { Store } from '../storage/store.js';
import { deterministicActivityId, type MappedRecord, type Scalar } from './mapping.js';

export type ConnectOutcome =
  | { ok: true; write: RealtimeWrite }
  | { ok: false; status: 400 | 404; step: string; message: string; target?: string };

const ACTIVITY_TYPES: Record<string, ColumnType> = { ShowInTimeline: 'boolean', ActivityTime: 'datetime' };

/** Numbers and booleans become text where the target attribute is text (a shop's numeric order id). */
function coerce(values: Record<string, Scalar>, typeOf: (name: string) => ColumnType | undefined): Record<string, Scalar> {
  const out: Record<string, Scalar> = {};
  for (const [name, v] of Object.entries(values)) {
    const type = typeOf(name);
    if (type === 'string' && (typeof v === 'number' || typeof v === 'boolean')) out[name] = String(v);
    else if ((type === 'decimal' || type === 'integer') && typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) out[name] = Number(v);
    else out[name] = v;
  }
  return out;
}

/**
 * The write for a mapped record. `idParts` make the ActivityId of a unified activity whose mapping
 * gives none (the same payload or message gives the same id, so a redelivery is a replay).
 */
export async function mappedWrite(entry: CatalogEntry, store: Store, ctx: WriteContext, record: MappedRecord, idParts: string[]): Promise<ConnectOutcome> {
  const { schema } = entry;
  const validation = `validation of the ${record.entity} record`;
  let customerId: string | undefined;
  if (record.customerKey) {
    const { dataSource, entity, key } = record.customerKey;
    customerId = await store.findCustomerIdByKey(ctx.instanceId, dataSource, entity, key);
    if (!customerId)
      return { ok: false, status: 404, step: 'customer (key ring look-up)', message: `no customer has ${dataSource}.${entity} key '${key}'`, target: 'customer.key' };
  }
  const failed = (o: { status: 400 | 404; problems: { target: string; message: string }[] }): ConnectOutcome => ({
    ok: false,
    status: o.status,
    step: validation,
    message: o.problems.map((p) => p.message).join('; '),
    target: o.problems[0]?.target,
  });

  if (record.entity === 'Customer') {
    const attributes = new Map(schema.customer.attributes.map((a) => [a.name, a.type]));
    const { CustomerId, ...changes } = coerce(record.values, (n) => attributes.get(n));
    const id = customerId ?? (typeof CustomerId === 'string' ? CustomerId : undefined);
    if (!id) return { ok: false, status: 400, step: 'customer', message: 'the mapping gives no CustomerId and no customer key', target: 'CustomerId' };
    const o = prepareProfileUpdate(schema, ctx, id, changes);
    return o.ok ? { ok: true, write: o.value } : failed(o);
  }
  if (record.entity === 'UnifiedActivity') {
    const values = coerce(record.values, (n) => ACTIVITY_TYPES[n] ?? 'string');
    if (customerId) values.CustomerId = customerId;
    if (values.ActivityId === undefined || values.ActivityId === null || values.ActivityId === '') values.ActivityId = deterministicActivityId(...idParts);
    const o = prepareUnifiedActivity(ctx, values);
    return o.ok ? { ok: true, write: o.value } : failed(o);
  }
  if (!schema.sourceActivities.has(record.entity))
    return { ok: false, status: 400, step: 'entity', message: `'${record.entity}' is not an entity of this instance` };
  const o = await prepareSourceActivity(schema, ctx, record.entity, record.values, (ds, en, key) => store.findCustomerIdByKey(ctx.instanceId, ds, en, key));
  return o.ok ? { ok: true, write: o.value } : failed(o);
}
