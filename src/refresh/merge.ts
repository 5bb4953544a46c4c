// Stage 5, merge: turn each group of records into one Customer with a stable CustomerId, merged
// fields by policy, and one key column per source entity; list every record in AlternateKey.
import type { ResolvedMergeField } from '../config/resolve.js';
import type { WinnerPolicy } from '../config/schema.js';
import { assignCustomerIds, type ClusterIdentity } from '../domain/customer-ids.js';
import type { AlternateKeyRecord, CustomerRecord, FieldValue } from '../domain/profile.js';
import { recordKey } from '../domain/profile.js';
import { encodeSourceIndex } from '../domain/field-sources.js';
import { throwIfCancelled, yieldToEventLoop, type StageEnv, type TypedEntityRows } from './context.js';
import type { Unification } from './unification.js';

/** Entity ref ("DataSource.Entity") → source key → CustomerId. Nested so no key string is copied. */
export type KeyRing = Map<string, Map<string, string>>;

export interface MergeInput {
  unification: Unification;
  /** Key ring of the current generation. */
  previousKeys: KeyRing;
  previousHistory: Map<string, string>;
}

export interface MergeOutput {
  customers: CustomerRecord[];
  /** Newest last-modified time of each customer's source records (ISO), or null. */
  sourceModified: (string | null)[];
  /** Per customer: which source column each merged field came from (domain/field-sources.ts). */
  fieldSources: string[];
  /** Retired CustomerId → the id that absorbed it. */
  remap: [string, string][];
  alternateKeys: AlternateKeyRecord[];
  /**
   * alternateKeyModified[i]: last-modified time of alternateKeys[i]'s source record, in ms since
   * epoch (NaN when unknown). A plain number array: one 8-byte value per record, not a string.
   */
  alternateKeyModified: number[];
  /** Every customer record in a profile (activities resolve through it). */
  keyRing: KeyRing;
}

/** Orders records of one entity so that the preferred (winning) record comes first. */
function winnerComparator(policy: WinnerPolicy, data: TypedEntityRows, filled: Int32Array): (a: number, b: number) => number {
  const m = data.modified;
  const time = (i: number, missing: number) => (Number.isNaN(m[i]) ? missing : m[i]);
  const byFilled = (a: number, b: number) => filled[b] - filled[a];
  switch (policy) {
    case 'mostRecent':
      return (a, b) => time(b, -Infinity) - time(a, -Infinity) || byFilled(a, b) || a - b;
    case 'leastRecent':
      return (a, b) => time(a, Infinity) - time(b, Infinity) || byFilled(a, b) || a - b;
    case 'mostFilled':
      return (a, b) => byFilled(a, b) || time(b, -Infinity) - time(a, -Infinity) || a - b;
  }
}

export async function merge(env: StageEnv, input: MergeInput): Promise<MergeOutput> {
  const u = input.unification;
  const { instance } = env;
  const entityCount = u.entities.length;
  const position = new Map(u.entities.map((e, i) => [e.entity.ref, i]));

  // Group records by profile, in record order so the result is deterministic.
  const groupIndex = new Map<number, number>();
  const groups: number[][] = [];
  for (let g = 0; g < u.total; g++) {
    if (u.excluded[g]) continue;
    const root = u.uf.find(g);
    let gi = groupIndex.get(root);
    if (gi === undefined) {
      gi = groups.length;
      groupIndex.set(root, gi);
      groups.push([]);
    }
    groups[gi].push(g);
  }
  groupIndex.clear();
  throwIfCancelled(env.signal);

  const comparators = u.entities.map((data) => {
    const filled = new Int32Array(data.rows.length);
    for (let i = 0; i < data.rows.length; i++) {
      let n = 0;
      for (const v of data.rows[i]) if (v !== null) n++;
      filled[i] = n;
    }
    return winnerComparator(instance.dedupe.get(data.entity.ref)?.winner ?? 'mostFilled', data, filled);
  });
  // Records are ordered by (entity, key) to pick each profile's anchor; strings are built only for the winner.
  const refOrder = u.entities.map((data) => recordKey(data.entity.dataSource, data.entity.name, ''));
  const previous = u.entities.map((data) => input.previousKeys.get(data.entity.ref));
  const entityOf = (g: number) => {
    let i = entityCount - 1;
    while (u.offsets[i] > g) i--;
    return i;
  };

  // Per group: members split by entity, each list in winner order.
  const members: number[][][] = new Array(groups.length);
  const identities: ClusterIdentity[] = new Array(groups.length);
  for (let gi = 0; gi < groups.length; gi++) {
    const perEntity: number[][] = Array.from({ length: entityCount }, () => []);
    const oldIds = new Map<string, number>();
    let anchorEntity = -1;
    let anchorKey = '';
    for (const g of groups[gi]) {
      const e = entityOf(g);
      const local = g - u.offsets[e];
      perEntity[e].push(local);
      const key = u.entities[e].keys[local];
      if (anchorEntity < 0 || refOrder[e] < refOrder[anchorEntity] || (refOrder[e] === refOrder[anchorEntity] && key < anchorKey)) {
        anchorEntity = e;
        anchorKey = key;
      }
      const old = previous[e]?.get(key);
      if (old !== undefined) oldIds.set(old, (oldIds.get(old) ?? 0) + 1);
    }
    const anchor = refOrder[anchorEntity] + anchorKey;
    for (let e = 0; e < entityCount; e++) if (perEntity[e].length > 1) perEntity[e].sort(comparators[e]);
    members[gi] = perEntity;
    identities[gi] = { anchor, oldIds };
    if (gi % 50_000 === 49_999) {
      env.progress('merge', gi, groups.length * 2);
      await yieldToEventLoop();
      throwIfCancelled(env.signal);
    }
  }
  groups.length = 0;

  const assignment = assignCustomerIds(instance.id, identities, input.previousHistory);
  env.report.counts.profiles = identities.length;
  env.report.counts.idsKept = assignment.kept;
  env.report.counts.idsCreated = assignment.created;
  env.report.counts.idsRetired = assignment.retired;

  const fields = instance.mergeFields.map((f) => ({ ...f, from: f.from.map((s) => ({ ...s, pos: position.get(s.entity)! })) }));
  const customers: CustomerRecord[] = new Array(identities.length);
  const sourceModified: (string | null)[] = new Array(identities.length);
  const fieldSources: string[] = new Array(identities.length);
  const pick = { source: -1 };
  const alternateKeys: AlternateKeyRecord[] = [];
  const alternateKeyModified: number[] = [];
  const keyRing: KeyRing = new Map(u.entities.map((data) => [data.entity.ref, new Map<string, string>()]));
  const rings = u.entities.map((data) => keyRing.get(data.entity.ref)!);
  // Attributes in the order they were always assigned: CustomerId, merged fields, key columns, PreviousCustomerId.
  const shape = customerShape(['CustomerId', ...fields.map((f) => f.name), ...u.entities.map((data) => data.entity.keyColumn), 'PreviousCustomerId']);
  const values: (FieldValue | undefined)[] = new Array(shape.slots.length);
  const keySlot = fields.length + 1;
  for (let gi = 0; gi < identities.length; gi++) {
    const id = assignment.ids[gi];
    const perEntity = members[gi];
    values[shape.slots[0]] = id;
    let sources = '';
    for (let k = 0; k < fields.length; k++) {
      values[shape.slots[k + 1]] = pickValue(fields[k], u.entities, perEntity, pick);
      sources += encodeSourceIndex(pick.source);
    }
    fieldSources[gi] = sources;
    let newest = -Infinity;
    for (let e = 0; e < entityCount; e++) {
      const data = u.entities[e];
      const list = perEntity[e];
      values[shape.slots[keySlot + e]] = list.length ? data.keys[list[0]] : null;
      for (const local of list) {
        if (data.modified[local] > newest) newest = data.modified[local];
        alternateKeys.push({ DataSourceName: data.entity.dataSource, EntityName: data.entity.name, AlternateValue: data.keys[local], CustomerId: id });
        alternateKeyModified.push(data.modified[local]);
        rings[e].set(data.keys[local], id);
      }
    }
    values[shape.slots[keySlot + entityCount]] = assignment.previous[gi];
    customers[gi] = shape.make(values);
    sourceModified[gi] = newest === -Infinity ? null : new Date(newest).toISOString();
    if (gi % 50_000 === 49_999) {
      env.progress('merge', identities.length + gi, identities.length * 2);
      await yieldToEventLoop();
      throwIfCancelled(env.signal);
    }
  }
  env.report.counts.alternateKeys = alternateKeys.length;
  return { customers, sourceModified, fieldSources, remap: assignment.remap, alternateKeys, alternateKeyModified, keyRing };
}

/**
 * Builds customer records of one shape. An object literal with fixed keys keeps V8's fast
 * properties (about 230 bytes a record); assigning 20 attributes by computed name turned every
 * record into a dictionary (about 1.6 KB). `slots[i]`: where the i-th assignment goes (a name
 * assigned twice keeps its first position and its last value, as assignment would).
 */
export function customerShape(assignments: string[]): { slots: number[]; make: (values: (FieldValue | undefined)[]) => CustomerRecord } {
  const position = new Map<string, number>();
  const slots = assignments.map((name) => {
    if (!position.has(name)) position.set(name, position.size);
    return position.get(name)!;
  });
  const names = [...position.keys()];
  // '__proto__' in a literal would set the prototype: such a name (a key column can have any name) is assigned.
  if (names.includes('__proto__')) {
    return {
      slots,
      make: (values) => {
        const c = {} as CustomerRecord;
        names.forEach((name, i) => Object.defineProperty(c, name, { value: values[i], enumerable: true, writable: true, configurable: true }));
        return c;
      },
    };
  }
  const literal = `return { ${names.map((name, i) => `${JSON.stringify(name)}: values[${i}]`).join(', ')} };`;
  return { slots, make: new Function('values', literal) as (values: (FieldValue | undefined)[]) => CustomerRecord };
}

type FieldWithPositions = ResolvedMergeField & { from: (ResolvedMergeField['from'][number] & { pos: number })[] };

/** The merged value of one field: first non-empty value by importance, or by time for mostRecent / leastRecent. */
function pickValue(f: FieldWithPositions, entities: TypedEntityRows[], perEntity: number[][], pick: { source: number }): FieldValue {
  pick.source = -1;
  if (f.policy === 'importance') {
    for (let si = 0; si < f.from.length; si++) {
      const s = f.from[si];
      const data = entities[s.pos];
      for (const local of perEntity[s.pos]) {
        const v = data.rows[local][s.index];
        if (v !== null) {
          pick.source = si;
          return v;
        }
      }
    }
    return null;
  }
  const newest = f.policy === 'mostRecent';
  let best: FieldValue = null;
  let bestTime = newest ? -Infinity : Infinity;
  let found = false;
  for (let si = 0; si < f.from.length; si++) {
    const s = f.from[si];
    const data = entities[s.pos];
    for (const local of perEntity[s.pos]) {
      const v = data.rows[local][s.index];
      if (v === null) continue;
      const t = data.modified[local];
      // Records without a time lose to records with one; among equals, importance order wins.
      const better = !found || (!Number.isNaN(t) && (newest ? t > bestTime : t < bestTime));
      if (better) {
        best = v;
        pick.source = si;
        bestTime = Number.isNaN(t) ? bestTime : t;
        found = true;
      }
    }
  }
  return best;
}
