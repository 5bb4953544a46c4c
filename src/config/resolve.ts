// Turns a validated definition into the model the pipeline works with: absolute paths,
// column positions, entity roles and the list of unified fields.
import path from 'node:path';
import type {
  ActivityDef,
  ColumnDef,
  ColumnType,
  ConditionDef,
  InstanceDefinition,
  MergePolicy,
  WinnerPolicy,
} from './schema.js';

export interface ResolvedColumn extends ColumnDef {
  type: ColumnType;
  index: number;
}

export interface ResolvedEntity {
  /** "DataSource.Entity" */
  ref: string;
  dataSource: string;
  name: string;
  format: 'csv' | 'jsonl';
  /** Absolute path or glob. */
  path: string;
  delimiter: string;
  encoding: string;
  header: boolean;
  primaryKey: string;
  primaryKeyIndex: number;
  lastModified?: string;
  lastModifiedIndex: number;
  columns: ResolvedColumn[];
  columnIndex: Map<string, number>;
  role: 'customer' | 'activity' | 'unused';
  /** Column on the unified Customer holding this entity's key: {DataSource}_{Entity}_{KeyColumn}. */
  keyColumn: string;
}

export interface ResolvedRule {
  name: string;
  /** Entity whose records are compared with `other` (same entity for deduplication). */
  entity: string;
  other: string;
  conditions: (ConditionDef & { otherField: string; phoneRegion?: string })[];
}

export interface ResolvedMergeField {
  name: string;
  type: ColumnType;
  policy: MergePolicy;
  /** Source columns in order of importance. */
  from: { entity: string; column: string; index: number }[];
}

export interface ResolvedInstance {
  id: string;
  name: string;
  definition: InstanceDefinition;
  baseDir: string;
  entities: Map<string, ResolvedEntity>;
  /** Customer entities in matching order; the first is primary. */
  customerEntities: ResolvedEntity[];
  includeAllRecords: Map<string, boolean>;
  dedupe: Map<string, { winner: WinnerPolicy; rules: ResolvedRule[] }>;
  matchRules: ResolvedRule[];
  mergeFields: ResolvedMergeField[];
  activities: (ActivityDef & { primaryKey: string })[];
}

export function resolveInstance(definition: InstanceDefinition, baseDir: string): ResolvedInstance {
  const entities = new Map<string, ResolvedEntity>();
  const customerRefs = definition.unification.matching.map((m) => m.entity);
  const activityRefs = new Set((definition.activities ?? []).map((a) => a.entity));
  for (const ds of definition.dataSources) {
    for (const en of ds.entities) {
      const ref = `${ds.name}.${en.name}`;
      const columns = en.columns.map((c, index) => ({ ...c, type: c.type ?? 'string', index }));
      const columnIndex = new Map(columns.map((c) => [c.name, c.index]));
      entities.set(ref, {
        ref,
        dataSource: ds.name,
        name: en.name,
        format: ds.type,
        path: path.resolve(baseDir, en.path),
        delimiter: en.delimiter ?? ds.delimiter ?? ',',
        encoding: en.encoding ?? ds.encoding ?? 'utf-8',
        header: en.header ?? ds.header ?? true,
        primaryKey: en.primaryKey,
        primaryKeyIndex: columnIndex.get(en.primaryKey)!,
        lastModified: en.lastModified,
        lastModifiedIndex: en.lastModified ? columnIndex.get(en.lastModified)! : -1,
        columns,
        columnIndex,
        role: customerRefs.includes(ref) ? 'customer' : activityRefs.has(ref) ? 'activity' : 'unused',
        keyColumn: `${ds.name}_${en.name}_${en.primaryKey}`,
      });
    }
  }
  const region = definition.defaultPhoneRegion;
  const toRule = (name: string, entity: string, other: string, conditions: ConditionDef[]): ResolvedRule => ({
    name,
    entity,
    other,
    conditions: conditions.map((c) => ({ ...c, otherField: c.otherField ?? c.field, phoneRegion: c.phoneRegion ?? region })),
  });

  const dedupe = new Map<string, { winner: WinnerPolicy; rules: ResolvedRule[] }>();
  for (const d of definition.unification.deduplication ?? []) {
    dedupe.set(d.entity, {
      winner: d.winner ?? 'mostFilled',
      rules: d.rules.map((r, i) => toRule(r.name ?? `${d.entity} dedupe rule ${i + 1}`, d.entity, d.entity, r.conditions)),
    });
  }
  const includeAllRecords = new Map<string, boolean>();
  const matchRules: ResolvedRule[] = [];
  for (const m of definition.unification.matching) {
    includeAllRecords.set(m.entity, m.includeAllRecords ?? true);
    (m.rules ?? []).forEach((r, i) =>
      matchRules.push(toRule(r.name ?? `${m.entity} → ${r.matchTo} rule ${i + 1}`, m.entity, r.matchTo, r.conditions)),
    );
  }
  const customerEntities = customerRefs.map((r) => entities.get(r)!);
  const mergeFields = resolveMergeFields(definition, customerEntities);
  const activities = (definition.activities ?? []).map((a) => ({
    ...a,
    primaryKey: a.primaryKey ?? entities.get(a.entity)!.primaryKey,
  }));
  return {
    id: definition.id,
    name: definition.name ?? definition.id,
    definition,
    baseDir,
    entities,
    customerEntities,
    includeAllRecords,
    dedupe,
    matchRules,
    mergeFields,
    activities,
  };
}

/**
 * Unified fields: explicit merge fields first, then every other customer column grouped by name
 * (same name in several entities = one field), minus exclusions. Key columns are carried separately.
 */
function resolveMergeFields(definition: InstanceDefinition, customers: ResolvedEntity[]): ResolvedMergeField[] {
  const merge = definition.unification.merge ?? {};
  const defaultPolicy = merge.defaultPolicy ?? 'importance';
  const order = merge.sourceOrder ?? [];
  const rank = (ref: string) => {
    const i = order.indexOf(ref);
    return i >= 0 ? i : order.length + customers.findIndex((c) => c.ref === ref);
  };
  const byRef = new Map(customers.map((c) => [c.ref, c]));
  const excluded = new Set(merge.exclude ?? []);
  const used = new Set<string>();
  const fields: ResolvedMergeField[] = [];
  const reserved = new Set(['CustomerId', 'PreviousCustomerId', ...customers.map((c) => c.keyColumn)]);

  for (const f of merge.fields ?? []) {
    if (excluded.has(f.name)) {
      // Its columns stay claimed by it: excluding the field must not turn them into fields of their own.
      for (const colRef of f.from) used.add(colRef);
      continue;
    }
    const from = f.from
      .map((colRef) => {
        const dot = colRef.lastIndexOf('.');
        const entity = colRef.slice(0, dot);
        const column = colRef.slice(dot + 1);
        used.add(colRef);
        return { entity, column, index: byRef.get(entity)!.columnIndex.get(column)! };
      })
      .filter((c) => !excluded.has(`${c.entity}.${c.column}`));
    const types = new Set(from.map((c) => byRef.get(c.entity)!.columns[c.index].type));
    fields.push({
      name: f.name,
      policy: f.policy ?? defaultPolicy,
      type: f.type ?? (types.size === 1 ? [...types][0] : 'string'),
      from,
    });
  }
  const explicitNames = new Set(fields.map((f) => f.name));
  const auto = new Map<string, ResolvedMergeField>();
  const sorted = [...customers].sort((a, b) => rank(a.ref) - rank(b.ref));
  for (const en of sorted) {
    for (const col of en.columns) {
      const colRef = `${en.ref}.${col.name}`;
      if (col.name === en.primaryKey || used.has(colRef) || excluded.has(colRef) || excluded.has(col.name)) continue;
      if (explicitNames.has(col.name) || reserved.has(col.name)) continue;
      let field = auto.get(col.name);
      if (!field) {
        field = { name: col.name, policy: defaultPolicy, type: col.type, from: [] };
        auto.set(col.name, field);
      } else if (field.type !== col.type) {
        field.type = 'string';
      }
      field.from.push({ entity: en.ref, column: col.name, index: col.index });
    }
  }
  // An explicit `from` list is already in the user's order of importance; sourceOrder overrides it.
  if (merge.sourceOrder) for (const f of fields) f.from.sort((a, b) => rank(a.entity) - rank(b.entity));
  return [...fields, ...auto.values()];
}

export function entityKeyColumns(instance: ResolvedInstance): string[] {
  return instance.customerEntities.map((e) => e.keyColumn);
}

