// Measures: what each one aggregates and how (pure rules; the refresh stage feeds it the data).
// A customer measure has one value per customer (the Customer_Measure entity); a business measure
// has one value per run. Sources: unified activities of given types, rows of a source entity
// related to the customer (key ring or foreign key), and for business measures the values of a
// customer measure or the profiles themselves.
import type { ResolvedInstance } from '../config/resolve.js';
import type { Aggregation, ColumnType, FieldConditionDef, MeasureDef } from '../config/schema.js';
import { checkCondition, compareValues, windowStart } from './conditions.js';
import type { FieldValue } from './profile.js';

export interface Problem {
  path: string;
  message: string;
}

/** UnifiedActivity attributes a measure or segment may use, with their types (batch activities only). */
export const ACTIVITY_ATTRIBUTE_TYPES: Readonly<Record<string, ColumnType>> = Object.freeze({
  ActivityId: 'string',
  CustomerId: 'string',
  ActivityTime: 'datetime',
  ActivityType: 'string',
  ActivityTypeDisplay: 'string',
  SourceEntityName: 'string',
  SourceActivityId: 'string',
  DataSourceName: 'string',
  Title: 'string',
  Description: 'string',
  Url: 'string',
  Icon: 'string',
  ShowInTimeline: 'boolean',
});

/** Attributes of the unified Customer and their types. */
export function customerAttributeTypes(instance: ResolvedInstance): Map<string, ColumnType> {
  const types = new Map<string, ColumnType>([['CustomerId', 'string']]);
  for (const f of instance.mergeFields) types.set(f.name, f.type);
  for (const e of instance.customerEntities) types.set(e.keyColumn, 'string');
  types.set('PreviousCustomerId', 'string');
  return types;
}

export type MeasureSourcePlan =
  | { kind: 'activity'; types: string[] }
  | {
      kind: 'entity';
      /** "DataSource.Entity" */
      entity: string;
      /** Customer entity whose key ring finds the customer. */
      customerEntity: string;
      /** Column of `entity` holding the customer entity's key (its primary key for customer entities). */
      keyColumn: string;
      /** true: the row's own primary key is the key (a customer entity). */
      ownKey: boolean;
      timestamp: string | null;
      columnTypes: Map<string, ColumnType>;
    }
  | { kind: 'measure'; measure: string }
  | { kind: 'profiles' };

export interface MeasurePlan {
  def: MeasureDef;
  name: string;
  kind: 'customer' | 'business';
  aggregation: Aggregation;
  source: MeasureSourcePlan;
  /** Type of the measure's values. */
  type: ColumnType;
  /** Type of `field` (null for a plain count). */
  fieldType: ColumnType | null;
}

const NUMERIC: ColumnType[] = ['integer', 'decimal'];
const RESERVED = new Set(['CustomerId']);

export function resultType(aggregation: Aggregation, fieldType: ColumnType | null): ColumnType {
  switch (aggregation) {
    case 'count':
    case 'countDistinct':
      return 'integer';
    case 'sum':
      return fieldType === 'integer' ? 'integer' : 'decimal';
    case 'average':
      return 'decimal';
    default:
      return fieldType ?? 'string';
  }
}

/**
 * Checks every measure against the instance and returns the plans of the valid ones. Paths are
 * JSON pointers into the definition (/measures/i/...).
 */
export function planMeasures(instance: ResolvedInstance): { plans: MeasurePlan[]; problems: Problem[] } {
  const defs = instance.definition.measures ?? [];
  const problems: Problem[] = [];
  const plans: MeasurePlan[] = [];
  const seen = new Set<string>();
  const customerTypes = customerAttributeTypes(instance);
  const activityTypes = new Set(instance.activities.map((a) => a.type));
  const byName = new Map(defs.map((d) => [d.name, d]));

  defs.forEach((def, i) => {
    const at = `/measures/${i}`;
    const before = problems.length;
    const add = (path: string, message: string) => problems.push({ path: `${at}${path}`, message });
    if (seen.has(def.name)) add('/name', `measure '${def.name}' is defined twice`);
    seen.add(def.name);
    if (RESERVED.has(def.name)) add('/name', `'${def.name}' is reserved (the key of Customer_Measure)`);
    const kind = def.kind ?? 'customer';
    const src = def.source;
    const given = (['activity', 'entity', 'measure', 'profiles'] as const).filter((k) => src[k] !== undefined);
    if (given.length !== 1) {
      add('/source', given.length ? `give only one of ${given.join(', ')}` : 'needs one of activity, entity, measure or profiles');
      return;
    }
    if (src.customer && !src.entity) add('/source/customer', 'customer is only for an entity source');
    if (src.timestamp && !src.entity) add('/source/timestamp', 'timestamp is only for an entity source');

    let source: MeasureSourcePlan | undefined;
    let types = new Map<string, ColumnType>();
    let hasTime = false;
    if (src.activity !== undefined) {
      const list = Array.isArray(src.activity) ? src.activity : [src.activity];
      list.forEach((t, k) => {
        if (!activityTypes.has(t))
          add(Array.isArray(src.activity) ? `/source/activity/${k}` : '/source/activity', `no activity has type '${t}' (types: ${[...activityTypes].join(', ') || 'none'})`);
      });
      source = { kind: 'activity', types: list };
      types = new Map(Object.entries(ACTIVITY_ATTRIBUTE_TYPES));
      hasTime = true;
    } else if (src.entity !== undefined) {
      const entity = instance.entities.get(src.entity);
      if (!entity) {
        add('/source/entity', `unknown entity '${src.entity}' (known: ${[...instance.entities.keys()].join(', ')})`);
        return;
      }
      const columnTypes = new Map(entity.columns.map((c) => [c.name, c.type]));
      const activity = instance.activities.find((a) => a.entity === src.entity);
      let customerEntity: string;
      let keyColumn: string;
      let ownKey = false;
      if (entity.role === 'customer') {
        if (src.customer) add('/source/customer', `'${src.entity}' is a customer entity: its rows belong to customers through the key ring`);
        customerEntity = entity.ref;
        keyColumn = entity.primaryKey;
        ownKey = true;
      } else if (src.customer) {
        customerEntity = src.customer.entity;
        keyColumn = src.customer.foreignKey;
        const ce = instance.entities.get(customerEntity);
        if (!ce || ce.role !== 'customer') add('/source/customer/entity', `'${customerEntity}' is not a customer entity (one in unification.matching)`);
        if (!columnTypes.has(keyColumn)) add('/source/customer/foreignKey', `'${keyColumn}' is not a column of ${src.entity}`);
      } else if (activity) {
        customerEntity = activity.customer.entity;
        keyColumn = activity.customer.foreignKey;
      } else {
        add('/source', `'${src.entity}' is not related to the customer: add customer: { entity, foreignKey }`);
        return;
      }
      const timestamp = src.timestamp ?? activity?.timestamp ?? entity.lastModified ?? null;
      if (src.timestamp) {
        const t = columnTypes.get(src.timestamp);
        if (!t) add('/source/timestamp', `'${src.timestamp}' is not a column of ${src.entity}`);
        else if (t !== 'datetime' && t !== 'date') add('/source/timestamp', `'${src.timestamp}' must have type datetime or date`);
      }
      hasTime = timestamp !== null;
      source = { kind: 'entity', entity: entity.ref, customerEntity, keyColumn, ownKey, timestamp, columnTypes };
      types = columnTypes;
    } else if (src.measure !== undefined) {
      if (kind !== 'business') add('/source/measure', 'a measure source is for business measures (kind: business)');
      const other = byName.get(src.measure);
      if (!other) add('/source/measure', `unknown measure '${src.measure}'`);
      else if ((other.kind ?? 'customer') !== 'customer') add('/source/measure', `'${src.measure}' is not a customer measure`);
      if (def.field !== undefined) add('/field', 'a measure source aggregates the measure values: leave field out');
      if (def.filter?.length) add('/filter', 'filters do not apply to a measure source');
      source = { kind: 'measure', measure: src.measure };
    } else {
      if (kind !== 'business') add('/source/profiles', 'a profiles source is for business measures (kind: business)');
      source = { kind: 'profiles' };
      types = customerTypes;
    }

    const typeOf = (f: string): ColumnType | undefined => types.get(f);
    const fieldsOf = () => [...types.keys()].join(', ');
    let fieldType: ColumnType | null = null;
    if (source.kind === 'measure') {
      const other = byName.get(source.measure);
      if (other && other !== def) fieldType = measureTypeOf(other, instance);
    } else if (def.field !== undefined) {
      const t = typeOf(def.field);
      if (!t) add('/field', `'${def.field}' is not an attribute of the source (attributes: ${fieldsOf()})`);
      fieldType = t ?? null;
    } else if (def.aggregation !== 'count') {
      add('/field', `aggregation '${def.aggregation}' needs a field`);
    }
    if ((def.aggregation === 'sum' || def.aggregation === 'average') && fieldType && !NUMERIC.includes(fieldType))
      add(source.kind === 'measure' ? '/source/measure' : '/field', `${def.aggregation} needs a number; '${def.field ?? src.measure}' is ${fieldType}`);
    if (def.aggregation === 'argMax' || def.aggregation === 'argMin') {
      if (def.by === undefined) add('/by', `aggregation '${def.aggregation}' needs by: the attribute whose ${def.aggregation === 'argMax' ? 'largest' : 'smallest'} value picks the row`);
      else if (source.kind === 'measure') add('/by', 'by does not apply to a measure source');
      else if (!typeOf(def.by)) add('/by', `'${def.by}' is not an attribute of the source (attributes: ${fieldsOf()})`);
    } else if (def.by !== undefined) add('/by', `by is only for argMax and argMin`);
    if ((def.aggregation === 'first' || def.aggregation === 'last') && !hasTime)
      add('/aggregation', `'${def.aggregation}' orders rows by time, and ${src.entity ?? 'this source'} has none: set source.timestamp`);
    if (def.window) {
      if (source.kind === 'measure' || source.kind === 'profiles') add('/window', 'a window applies to activities and entity rows only');
      else if (!hasTime) add('/window', `a window needs the rows' time: set source.timestamp (a datetime or date column of ${src.entity})`);
    }
    checkFilter(def.filter, typeOf, fieldsOf, (p, m) => add(`/filter${p}`, m));
    if (problems.length === before) {
      plans.push({ def, name: def.name, kind, aggregation: def.aggregation, source, type: resultType(def.aggregation, fieldType), fieldType });
    }
  });
  return { plans, problems };
}

/** The value type of a measure, leniently (string when it cannot be told): for schemas and listings. */
export function measureTypeOf(def: MeasureDef, instance: ResolvedInstance): ColumnType {
  const src = def.source;
  let fieldType: ColumnType | null = null;
  if (def.field !== undefined) {
    if (src.activity !== undefined) fieldType = ACTIVITY_ATTRIBUTE_TYPES[def.field] ?? null;
    else if (src.entity !== undefined) fieldType = instance.entities.get(src.entity)?.columns.find((c) => c.name === def.field)?.type ?? null;
    else if (src.profiles) fieldType = customerAttributeTypes(instance).get(def.field) ?? null;
  } else if (src.measure !== undefined) {
    const other = instance.definition.measures?.find((m) => m.name === src.measure);
    if (other && other !== def && other.source.measure === undefined) fieldType = measureTypeOf(other, instance);
  }
  return resultType(def.aggregation, fieldType);
}

export function checkFilter(
  filter: FieldConditionDef[] | undefined,
  typeOf: (f: string) => ColumnType | undefined,
  fieldsOf: () => string,
  add: (path: string, message: string) => void,
): void {
  filter?.forEach((c, k) => {
    const t = typeOf(c.field);
    if (!t) {
      add(`/${k}/field`, `'${c.field}' is not an attribute of the source (attributes: ${fieldsOf()})`);
      return;
    }
    for (const p of checkCondition(c.operator, c.value, t)) add(`/${k}/${p.path}`, p.message);
  });
}

// ---------------------------------------------------------------------------------------------
// Aggregation

/** Rows of one source, prepared once and shared by every measure over it. */
export interface RowSet<R> {
  rows: ArrayLike<R>;
  /** Customer index of each row; -1 when the row belongs to no customer. */
  group: Int32Array;
  /** Time of each row as an ISO 8601 UTC string (sortable), or null. */
  time: (i: number) => string | null;
  get: (field: string) => (row: R) => FieldValue | undefined;
}

export interface AggregateOptions<R> {
  aggregation: Aggregation;
  /** Number of groups (customers; 1 for a business measure). */
  groups: number;
  /** Attribute aggregated; none for a plain count. */
  field?: (row: R) => FieldValue | undefined;
  by?: (row: R) => FieldValue | undefined;
  filter?: ((row: R) => boolean) | null;
  /** Only rows with start < time <= end (ISO strings). */
  window?: { start: string; end: string } | null;
  /** Every row goes to group 0 (a business measure), whether or not it has a customer. */
  single?: boolean;
}

/** Rounds away binary noise (0.1 + 0.2) while keeping 15 significant digits. */
const tidy = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(15)) : null);

/** Aggregates rows by group in one pass; returns one value per group (null where no row counted, 0 for counts). */
export function aggregate<R>(set: RowSet<R>, o: AggregateOptions<R>): FieldValue[] {
  const n = o.groups;
  const { rows } = set;
  const field = o.field;
  const window = o.window ?? null;
  const filter = o.filter ?? null;
  const single = o.single ?? false;
  const needTime = window !== null || o.aggregation === 'first' || o.aggregation === 'last';
  const counts = new Float64Array(n);
  const sums = o.aggregation === 'sum' || o.aggregation === 'average' ? new Float64Array(n) : null;
  const best: (FieldValue | undefined)[] | null = sums || o.aggregation === 'count' || o.aggregation === 'countDistinct' ? null : new Array(n);
  const keys: (FieldValue | string | undefined)[] | null =
    o.aggregation === 'first' || o.aggregation === 'last' || o.aggregation === 'argMax' || o.aggregation === 'argMin' ? new Array(n) : null;
  const distinct: (Set<FieldValue> | undefined)[] | null = o.aggregation === 'countDistinct' ? new Array(n) : null;

  for (let i = 0; i < rows.length; i++) {
    // A business measure counts every row, also those whose customer could not be found.
    const g = single ? 0 : set.group[i];
    if (g < 0) continue;
    const row = rows[i];
    let time: string | null = null;
    if (needTime) {
      time = set.time(i);
      if (window && (time === null || time <= window.start || time > window.end)) continue;
    }
    if (filter && !filter(row)) continue;
    const v = field ? field(row) : undefined;
    switch (o.aggregation) {
      case 'count':
        if (!field || v != null) counts[g]++;
        break;
      case 'countDistinct':
        if (v != null) (distinct![g] ??= new Set()).add(v);
        break;
      case 'sum':
      case 'average':
        if (typeof v === 'number') {
          sums![g] += v;
          counts[g]++;
        }
        break;
      case 'min':
        if (v != null && (best![g] == null || compareValues(v, best![g]!) < 0)) best![g] = v;
        break;
      case 'max':
        if (v != null && (best![g] == null || compareValues(v, best![g]!) > 0)) best![g] = v;
        break;
      case 'first':
      case 'last': {
        if (time === null) break;
        const k = keys![g] as string | undefined;
        // Ties keep the earlier row for first and take the later row for last.
        if (k === undefined || (o.aggregation === 'first' ? time < k : time >= k)) {
          keys![g] = time;
          best![g] = v ?? null;
        }
        break;
      }
      case 'argMax':
      case 'argMin': {
        const b = o.by!(row);
        if (b == null) break;
        const k = keys![g];
        if (k === undefined || (o.aggregation === 'argMax' ? compareValues(b, k as FieldValue) > 0 : compareValues(b, k as FieldValue) < 0)) {
          keys![g] = b;
          best![g] = v ?? null;
        }
        break;
      }
    }
  }

  const out: FieldValue[] = new Array(n);
  for (let g = 0; g < n; g++) {
    switch (o.aggregation) {
      case 'count':
        out[g] = counts[g];
        break;
      case 'countDistinct':
        out[g] = distinct![g]?.size ?? 0;
        break;
      case 'sum':
        out[g] = counts[g] ? tidy(sums![g]) : null;
        break;
      case 'average':
        out[g] = counts[g] ? tidy(sums![g] / counts[g]) : null;
        break;
      default:
        out[g] = best![g] ?? null;
    }
  }
  return out;
}

/** The window of a measure or condition as ISO bounds, relative to the refresh time. */
export function windowBounds(window: MeasureDef['window'], refreshTime: number): { start: string; end: string } | null {
  if (!window) return null;
  return { start: new Date(windowStart(window, refreshTime)).toISOString(), end: new Date(refreshTime).toISOString() };
}

/** A stored time value as a sortable ISO string: a date (YYYY-MM-DD) is midnight UTC. */
export function timeKey(v: FieldValue | undefined): string | null {
  if (typeof v !== 'string') return null;
  return v.length === 10 ? `${v}T00:00:00.000Z` : v;
}
