// Segments: groups of customers defined by rules. A rule's conditions (on profile fields, customer
// measures, or activities: "has a Purchase in the last 30 days") are joined by AND or OR; the
// rules combine in order by union, intersect or except. Pure; the refresh stage feeds the data.
import { resolveInstance, type ResolvedInstance } from '../config/resolve.js';
import type { ColumnType, InstanceDefinition, SegmentCombination, SegmentDef, WindowDef } from '../config/schema.js';
import { checkCondition, compileFilter, compileValuePredicate, isComparison, type ValuePredicate } from './conditions.js';
import { ACTIVITY_ATTRIBUTE_TYPES, checkFilter, customerAttributeTypes, planMeasures, type MeasurePlan, type Problem } from './measures.js';
import type { ActivityRecord, FieldValue } from './profile.js';

export type ConditionPlan =
  | { kind: 'field'; field: string; test: ValuePredicate }
  | { kind: 'measure'; measure: string; test: ValuePredicate }
  | {
      kind: 'activity';
      type: string;
      window: WindowDef | null;
      filter: ((a: ActivityRecord) => boolean) | null;
      /** Key of the activity count this condition needs (same type, window and filter = same count). */
      countKey: string;
      test: ValuePredicate;
    };

export interface RulePlan {
  join: 'and' | 'or';
  combine: SegmentCombination;
  conditions: ConditionPlan[];
}

export interface SegmentPlan {
  def: SegmentDef;
  name: string;
  active: boolean;
  rules: RulePlan[];
}

export function planSegments(instance: ResolvedInstance, measures: MeasurePlan[]): { plans: SegmentPlan[]; problems: Problem[] } {
  const defs = instance.definition.segments ?? [];
  const problems: Problem[] = [];
  const plans: SegmentPlan[] = [];
  const seen = new Set<string>();
  const fields = customerAttributeTypes(instance);
  const definedMeasures = new Map((instance.definition.measures ?? []).map((m) => [m.name, m]));
  const measureTypes = new Map(measures.map((m) => [m.name, m]));
  const activityTypes = new Set(instance.activities.map((a) => a.type));
  const activityType = (f: string): ColumnType | undefined => ACTIVITY_ATTRIBUTE_TYPES[f];

  defs.forEach((def, i) => {
    const at = `/segments/${i}`;
    const before = problems.length;
    const add = (path: string, message: string) => problems.push({ path: `${at}${path}`, message });
    if (seen.has(def.name)) add('/name', `segment '${def.name}' is defined twice`);
    seen.add(def.name);
    const rules: RulePlan[] = def.rules.map((rule, j) => {
      const rAt = `/rules/${j}`;
      if (j === 0 && rule.combine && rule.combine !== 'union')
        add(`${rAt}/combine`, `the first rule has nothing before it to ${rule.combine === 'intersect' ? 'intersect with' : 'take away from'}`);
      const conditions: ConditionPlan[] = [];
      rule.conditions.forEach((c, k) => {
        const cAt = `${rAt}/conditions/${k}`;
        const given = (['field', 'measure', 'activity'] as const).filter((x) => c[x] !== undefined);
        if (given.length !== 1) {
          add(cAt, given.length ? `give only one of ${given.join(', ')}` : 'needs one of field, measure or activity');
          return;
        }
        if (c.activity === undefined) {
          if (c.window) add(`${cAt}/window`, 'a window is only for activity conditions');
          if (c.filter) add(`${cAt}/filter`, 'a filter is only for activity conditions');
          if (!c.operator) {
            add(`${cAt}/operator`, 'needs an operator (eq, ne, gt, ge, lt, le, in, notIn, contains, startsWith, isNull, isNotNull)');
            return;
          }
        }
        if (c.field !== undefined) {
          const t = fields.get(c.field);
          if (!t) {
            add(`${cAt}/field`, `'${c.field}' is not a Customer field (fields: ${[...fields.keys()].join(', ')})`);
            return;
          }
          for (const p of checkCondition(c.operator!, c.value, t)) add(`${cAt}/${p.path}`, p.message);
          conditions.push({ kind: 'field', field: c.field, test: compileValuePredicate(c.operator!, c.value, t) });
        } else if (c.measure !== undefined) {
          const m = definedMeasures.get(c.measure);
          if (!m) {
            add(`${cAt}/measure`, `unknown measure '${c.measure}' (measures: ${[...definedMeasures.keys()].join(', ') || 'none'})`);
            return;
          }
          if ((m.kind ?? 'customer') !== 'customer') {
            add(`${cAt}/measure`, `'${c.measure}' is a business measure (one value, not one per customer)`);
            return;
          }
          const plan = measureTypes.get(c.measure);
          if (!plan) {
            add(`${cAt}/measure`, `measure '${c.measure}' has problems of its own`);
            return;
          }
          for (const p of checkCondition(c.operator!, c.value, plan.type)) add(`${cAt}/${p.path}`, p.message);
          conditions.push({ kind: 'measure', measure: c.measure, test: compileValuePredicate(c.operator!, c.value, plan.type) });
        } else {
          const type = c.activity!;
          if (!activityTypes.has(type)) add(`${cAt}/activity`, `no activity has type '${type}' (types: ${[...activityTypes].join(', ') || 'none'})`);
          const operator = c.operator ?? 'ge';
          const value = c.value ?? (c.operator ? undefined : 1);
          if (!isComparison(operator)) add(`${cAt}/operator`, `an activity condition compares the number of activities: use eq, ne, gt, ge, lt or le`);
          else if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
            add(`${cAt}/value`, 'an activity condition compares the number of activities with a whole number (default: at least 1)');
          checkFilter(c.filter, activityType, () => Object.keys(ACTIVITY_ATTRIBUTE_TYPES).join(', '), (p, m) => add(`${cAt}/filter${p}`, m));
          const countKey = JSON.stringify([type, c.window ?? null, c.filter ?? null]);
          conditions.push({
            kind: 'activity',
            type,
            window: c.window ?? null,
            filter: compileFilter<ActivityRecord>(c.filter, (f) => (a) => (a as unknown as Record<string, FieldValue>)[f], (f) => activityType(f) ?? 'string'),
            countKey,
            test: isComparison(operator) && typeof value === 'number' ? compileValuePredicate(operator, value, 'integer') : () => false,
          });
        }
      });
      return { join: rule.join ?? 'and', combine: rule.combine ?? 'union', conditions };
    });
    if (problems.length === before) plans.push({ def, name: def.name, active: def.active ?? true, rules });
  });
  return { plans, problems };
}

/** Problems of the measures and segments of a definition whose other parts are valid. */
export function analyticsProblems(definition: InstanceDefinition): Problem[] {
  if (!definition.measures?.length && !definition.segments?.length) return [];
  const instance = resolveInstance(definition, '.');
  const m = planMeasures(instance);
  const s = planSegments(instance, m.plans);
  return [...m.problems, ...s.problems];
}

// ---------------------------------------------------------------------------------------------
// Evaluation, column by column over every customer at once.

export interface SegmentData {
  /** Number of customers; membership arrays are indexed like the customers. */
  customers: number;
  /** Value of a Customer field for customer i. */
  field(name: string): (i: number) => FieldValue | undefined;
  /** Values of a customer measure, one per customer. */
  measure(name: string): FieldValue[];
  /** Number of matching activities per customer for an activity condition. */
  activityCount(condition: Extract<ConditionPlan, { kind: 'activity' }>): Float64Array;
}

/** Members of one segment: 1 at each member customer's index. */
export function evaluateSegment(plan: SegmentPlan, data: SegmentData): Uint8Array {
  const n = data.customers;
  let result: Uint8Array | null = null;
  for (const rule of plan.rules) {
    const r = evaluateRule(rule, data, n);
    if (!result) {
      result = r;
      continue;
    }
    for (let i = 0; i < n; i++) {
      if (rule.combine === 'union') result[i] |= r[i];
      else if (rule.combine === 'intersect') result[i] &= r[i];
      else result[i] &= r[i] ^ 1;
    }
  }
  return result ?? new Uint8Array(n);
}

function evaluateRule(rule: RulePlan, data: SegmentData, n: number): Uint8Array {
  const out = new Uint8Array(n);
  if (rule.join === 'and') out.fill(1);
  for (const c of rule.conditions) {
    const hit = evaluateCondition(c, data, n);
    if (rule.join === 'and') for (let i = 0; i < n; i++) out[i] &= hit[i];
    else for (let i = 0; i < n; i++) out[i] |= hit[i];
  }
  return out;
}

function evaluateCondition(c: ConditionPlan, data: SegmentData, n: number): Uint8Array {
  const hit = new Uint8Array(n);
  if (c.kind === 'field') {
    const get = data.field(c.field);
    for (let i = 0; i < n; i++) if (c.test(get(i))) hit[i] = 1;
  } else if (c.kind === 'measure') {
    const values = data.measure(c.measure);
    for (let i = 0; i < n; i++) if (c.test(values[i])) hit[i] = 1;
  } else {
    const counts = data.activityCount(c);
    for (let i = 0; i < n; i++) if (c.test(counts[i])) hit[i] = 1;
  }
  return hit;
}

/** Counts activities of one type per customer, within a window (ISO bounds) and filter. */
export function countActivities(
  activities: ArrayLike<ActivityRecord>,
  group: Int32Array,
  customers: number,
  type: string,
  bounds: { start: string; end: string } | null,
  filter: ((a: ActivityRecord) => boolean) | null,
): Float64Array {
  const counts = new Float64Array(customers);
  for (let i = 0; i < activities.length; i++) {
    const g = group[i];
    if (g < 0) continue;
    const a = activities[i];
    if (a.ActivityType !== type) continue;
    if (bounds && (a.ActivityTime <= bounds.start || a.ActivityTime > bounds.end)) continue;
    if (filter && !filter(a)) continue;
    counts[g]++;
  }
  return counts;
}
