// Stage 6, activities: map source events to UnifiedActivity. The customer is found through the
// foreign key and the key ring; events whose customer cannot be found are counted and reported.
import { compileActivityMapping } from '../domain/activity-mapping.js';
import type { ActivityRecord } from '../domain/profile.js';
import { isoTimestamp } from '../domain/values.js';
import type { KeyRing } from './merge.js';
import { ACTIVITY_ID_LENGTH, type ActivityIdsAhead } from './activity-ids.js';
import { throwIfCancelled, yieldToEventLoop, type StageEnv, type TypedEntityRows } from './context.js';

export async function activities(
  env: StageEnv,
  typed: Map<string, TypedEntityRows>,
  keyRing: KeyRing,
  idsAhead?: ActivityIdsAhead,
): Promise<ActivityRecord[]> {
  const out: ActivityRecord[] = [];
  let unresolved = 0;
  for (const def of env.instance.activities) {
    throwIfCancelled(env.signal);
    const data = typed.get(def.entity)!;
    const { entity } = data;
    const customer = env.instance.entities.get(def.customer.entity)!;
    const mapping = compileActivityMapping(env.instance.id, def, entity);
    const ring = keyRing.get(customer.ref);
    const { keyIndex: pk, timeIndex: ts, foreignKeyIndex: fk } = mapping;
    // Row i's id, if worked out during unification (activity-ids.ts); else built from its key below.
    const ids = idsAhead ? await idsAhead.of(def.entity) : null;
    // Visible in the run record: 0 means the worker's ids were not usable and the stage hashed the keys itself.
    if (idsAhead?.asked(def.entity)) env.report.counts[`${def.entity}: ActivityIds from the worker`] = ids === null ? 0 : data.rows.length;
    // Keys are unique per entity already; a separate activity key column may repeat.
    const seen = def.primaryKey === entity.primaryKey ? null : new Set<string>();
    let made = 0;
    for (let i = 0; i < data.rows.length; i++) {
      const row = data.rows[i];
      const key = String(row[pk] ?? '').trim();
      if (!key) {
        env.report.issues.add(`${def.entity}: activities without a ${def.primaryKey} were set aside`, data.origin.at(i));
        unresolved++;
        continue;
      }
      if (seen) {
        if (seen.has(key)) {
          env.report.issues.add(`${def.entity}: activities with a repeated ${def.primaryKey} were set aside`, `${data.origin.at(i)}: '${key}'`);
          unresolved++;
          continue;
        }
        seen.add(key);
      }
      const fkValue = row[fk];
      const customerId = fkValue === null ? undefined : ring?.get(String(fkValue).trim());
      if (customerId === undefined) {
        env.report.issues.add(
          `${def.entity}: activities whose customer could not be found were set aside`,
          `${data.origin.at(i)}: ${def.customer.foreignKey} '${fkValue ?? ''}' is not a key of ${def.customer.entity}`,
        );
        unresolved++;
        continue;
      }
      const time = row[ts] === null ? null : isoTimestamp(String(row[ts]));
      if (time === null) {
        env.report.issues.add(`${def.entity}: activities without a valid ${def.timestamp} were set aside`, data.origin.at(i));
        unresolved++;
        continue;
      }
      const id = ids === null ? undefined : ids.substring(i * ACTIVITY_ID_LENGTH, (i + 1) * ACTIVITY_ID_LENGTH);
      out.push(mapping.build(row, key, customerId, time, id));
      made++;
      if (i % 50_000 === 49_999) {
        env.progress('activities', i, data.rows.length);
        await yieldToEventLoop();
        throwIfCancelled(env.signal);
      }
    }
    env.report.counts[`${def.entity}: activities`] = made;
  }
  env.report.counts.activities = out.length;
  env.report.counts.setAside = unresolved;
  return out;
}
