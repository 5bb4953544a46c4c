// Stage measures: aggregates the batch's unified activities and source rows per customer (and
// over everything for business measures) while they are in memory, one pass per measure.
// Real-time data never reaches this stage: only what the refresh pulled counts.
import type { FieldValue, ActivityRecord, CustomerRecord } from '../domain/profile.js';
import { compileFilter } from '../domain/conditions.js';
import { ACTIVITY_ATTRIBUTE_TYPES, aggregate, customerAttributeTypes, planMeasures, timeKey, windowBounds, type MeasurePlan, type RowSet } from '../domain/measures.js';
import type { AnalyticsRunSummary, CustomerMeasureRow } from '../storage/analytics.js';
import type { GenerationWrite } from './write.js';
import { orderByString } from '../domain/string-order.js';
import { throwIfCancelled, yieldToEventLoop, type StageEnv, type TypedEntityRows } from './context.js';
import type { KeyRing } from './merge.js';

export interface MeasuresInput {
  customers: CustomerRecord[];
  activities: ActivityRecord[];
  /** Typed source rows (entity measures). */
  typed: Map<string, TypedEntityRows>;
  keyRing: KeyRing;
  /** Windows end here (ms): the refresh's start. */
  refreshTime: number;
}

export interface MeasuresOutput {
  plans: MeasurePlan[];
  /** CustomerId → index in `customers`. */
  customerIndex: Map<string, number>;
  /** Customer index of each activity, shared with the segments stage. */
  activityGroups: Int32Array;
  customer: { plan: MeasurePlan; values: FieldValue[] }[];
  business: { plan: MeasurePlan; value: FieldValue }[];
  /** Customer indexes in CustomerId order (rows are written in key order); sorted once, on first use. */
  sortedOrder(): number[];
}

function sortedOrderOf(customers: CustomerRecord[]): () => number[] {
  let order: number[] | undefined;
  return () => (order ??= orderByString(customers.length, (i) => customers[i].CustomerId));
}

/** Everything the measures and segments stages share, built once. */
export function customerIndexes(customers: CustomerRecord[], activities: ActivityRecord[]): { customerIndex: Map<string, number>; activityGroups: Int32Array } {
  const customerIndex = new Map<string, number>();
  for (let i = 0; i < customers.length; i++) customerIndex.set(customers[i].CustomerId, i);
  const activityGroups = new Int32Array(activities.length);
  for (let i = 0; i < activities.length; i++) activityGroups[i] = customerIndex.get(activities[i].CustomerId) ?? -1;
  return { customerIndex, activityGroups };
}

export async function measures(env: StageEnv, input: MeasuresInput): Promise<MeasuresOutput> {
  const { plans, problems } = planMeasures(env.instance);
  if (problems.length) throw new Error(`measures: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  const { customers, activities } = input;
  const n = customers.length;
  const { customerIndex, activityGroups } = customerIndexes(customers, activities);
  const out: MeasuresOutput = { plans, customerIndex, activityGroups, customer: [], business: [], sortedOrder: sortedOrderOf(customers) };
  env.report.counts.measures = plans.length;
  env.report.counts.customers = n;
  if (!plans.length) return out;

  const identity = new Int32Array(n);
  for (let i = 0; i < n; i++) identity[i] = i;
  const activitySet: RowSet<ActivityRecord> = {
    rows: activities,
    group: activityGroups,
    time: (i) => activities[i].ActivityTime,
    get: (f) => (a) => (a as unknown as Record<string, FieldValue>)[f],
  };
  const profileSet: RowSet<CustomerRecord> = { rows: customers, group: identity, time: () => null, get: (f) => (c) => c[f] };
  const profileTypes = customerAttributeTypes(env.instance);
  const entitySets = new Map<string, RowSet<unknown[]>>();
  const entitySet = (source: Extract<MeasurePlan['source'], { kind: 'entity' }>): RowSet<unknown[]> => {
    const cacheKey = JSON.stringify([source.entity, source.customerEntity, source.keyColumn, source.timestamp]);
    let set = entitySets.get(cacheKey);
    if (set) return set;
    const data = input.typed.get(source.entity)!;
    const ring = input.keyRing.get(source.customerEntity);
    const keyIndex = data.entity.columnIndex.get(source.keyColumn)!;
    const group = new Int32Array(data.rows.length);
    let unresolved = 0;
    for (let i = 0; i < data.rows.length; i++) {
      const raw = source.ownKey ? data.keys[i] : data.rows[i][keyIndex];
      const id = raw === null || raw === undefined ? undefined : ring?.get(String(raw).trim());
      const g = id === undefined ? -1 : (customerIndex.get(id) ?? -1);
      group[i] = g;
      if (g < 0) {
        unresolved++;
        env.report.issues.add(`${source.entity}: rows whose customer could not be found count only in business measures`, data.origin.at(i));
      }
    }
    if (unresolved) env.report.counts[`${source.entity}: rows without a customer`] = unresolved;
    const timeIndex = source.timestamp === null ? -1 : data.entity.columnIndex.get(source.timestamp)!;
    set = {
      rows: data.rows,
      group,
      time: (i) => (timeIndex < 0 ? null : timeKey(data.rows[i][timeIndex])),
      get: (f) => {
        const idx = data.entity.columnIndex.get(f)!;
        return (row) => row[idx] as FieldValue;
      },
    };
    entitySets.set(cacheKey, set);
    return set;
  };

  const customerValues = new Map<string, FieldValue[]>();
  // Customer measures first: business measures may aggregate them.
  const ordered = [...plans.filter((p) => p.kind === 'customer'), ...plans.filter((p) => p.kind === 'business')];
  let done = 0;
  for (const plan of ordered) {
    throwIfCancelled(env.signal);
    const def = plan.def;
    const single = plan.kind === 'business';
    const groups = single ? 1 : n;
    const window = windowBounds(def.window, input.refreshTime);
    let values: FieldValue[];
    const src = plan.source;
    if (src.kind === 'activity') {
      const types = new Set(src.types);
      const only = src.types.length === 1 ? src.types[0] : null;
      const conditions = compileFilter<ActivityRecord>(def.filter, activitySet.get, (f) => ACTIVITY_ATTRIBUTE_TYPES[f] ?? 'string');
      const filter = (a: ActivityRecord) => (only !== null ? a.ActivityType === only : types.has(a.ActivityType)) && (!conditions || conditions(a));
      values = aggregate(activitySet, {
        aggregation: plan.aggregation,
        groups,
        single,
        field: def.field ? activitySet.get(def.field) : undefined,
        by: def.by ? activitySet.get(def.by) : undefined,
        filter,
        window,
      });
    } else if (src.kind === 'entity') {
      const set = entitySet(src);
      values = aggregate(set, {
        aggregation: plan.aggregation,
        groups,
        single,
        field: def.field ? set.get(def.field) : undefined,
        by: def.by ? set.get(def.by) : undefined,
        filter: compileFilter(def.filter, set.get, (f) => src.columnTypes.get(f) ?? 'string'),
        window,
      });
    } else if (src.kind === 'profiles') {
      values = aggregate(profileSet, {
        aggregation: plan.aggregation,
        groups,
        single,
        field: def.field ? profileSet.get(def.field) : undefined,
        by: def.by ? profileSet.get(def.by) : undefined,
        filter: compileFilter(def.filter, profileSet.get, (f) => profileTypes.get(f) ?? 'string'),
      });
    } else {
      const measureValues = customerValues.get(src.measure)!;
      const set: RowSet<FieldValue> = { rows: measureValues, group: identity, time: () => null, get: () => (v) => v };
      values = aggregate(set, { aggregation: plan.aggregation, groups, single, field: (v) => v });
    }
    if (single) {
      out.business.push({ plan, value: values[0] });
    } else {
      customerValues.set(plan.name, values);
      out.customer.push({ plan, values });
      let withValue = 0;
      for (const v of values) if (v !== null) withValue++;
      env.report.counts[`${plan.name}: customers with a value`] = withValue;
    }
    env.progress('measures', ++done, ordered.length);
    await yieldToEventLoop();
  }
  env.report.counts.customerMeasures = out.customer.length;
  env.report.counts.businessMeasures = out.business.length;
  return out;
}

/** Customer_Measure rows, in CustomerId order, into the generation being built. */
export async function writeMeasures(w: GenerationWrite, customers: CustomerRecord[], result: MeasuresOutput): Promise<void> {
  if (!result.customer.length) return;
  w.restartClock();
  w.expect(customers.length);
  const order = result.sortedOrder();
  await w.inBatches(order, async (indexes) => {
    const batch: CustomerMeasureRow[] = [];
    for (const i of indexes) {
      const row: CustomerMeasureRow = { CustomerId: customers[i].CustomerId };
      for (const m of result.customer) row[m.plan.name] = m.values[i];
      batch.push(row);
    }
    await w.writer.writeCustomerMeasures(batch);
  });
  await w.writer.complete('measures');
  w.lap('measures');
  w.env.report.counts.customerMeasureRows = customers.length;
}

/** The run's measure values (business measures) and how many customers have each customer measure. */
export function measuresSummary(result: MeasuresOutput): AnalyticsRunSummary['measures'] {
  return [
    ...result.customer.map((m) => ({
      name: m.plan.name,
      kind: 'customer' as const,
      value: null,
      customersWithValue: m.values.reduce<number>((k, v) => k + (v === null ? 0 : 1), 0),
    })),
    ...result.business.map((m) => ({ name: m.plan.name, kind: 'business' as const, value: m.value, customersWithValue: null })),
  ];
}
