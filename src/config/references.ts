// Checks what a schema cannot: that names refer to things that exist and rules make sense.
import { Cron } from 'croner';
import { isSupportedCountry } from 'libphonenumber-js';
import { checkOutputReferences } from './outputs-references.js';
import { compileMapping } from '../connect/mapping.js';
import type { ConditionDef, EntityDef, InstanceDefinition } from './schema.js';
import { analyticsProblems } from '../domain/segments.js';
import { unifiedSchema } from '../domain/unified-schema.js';
import { resolveInstance } from './resolve.js';

export interface ReferenceProblem {
  path: string;
  message: string;
}

const TEMPLATE_FIELD = /\{([^{}]+)\}/g;

export function templateFields(template: string): string[] {
  return [...template.matchAll(TEMPLATE_FIELD)].map((m) => m[1]);
}

export function checkReferences(def: InstanceDefinition): ReferenceProblem[] {
  const problems: ReferenceProblem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  const entities = new Map<string, EntityDef>();

  const sourceNames = new Set<string>();
  def.dataSources.forEach((ds, i) => {
    if (sourceNames.has(ds.name)) add(`/dataSources/${i}/name`, `data source '${ds.name}' is defined twice`);
    sourceNames.add(ds.name);
    ds.entities.forEach((en, j) => {
      const at = `/dataSources/${i}/entities/${j}`;
      const ref = `${ds.name}.${en.name}`;
      if (entities.has(ref)) add(`${at}/name`, `entity '${en.name}' is defined twice in data source '${ds.name}'`);
      entities.set(ref, en);
      const cols = new Set<string>();
      en.columns.forEach((c, k) => {
        if (cols.has(c.name)) add(`${at}/columns/${k}/name`, `column '${c.name}' is defined twice`);
        cols.add(c.name);
      });
      if (!cols.has(en.primaryKey)) add(`${at}/primaryKey`, `primary key '${en.primaryKey}' is not a column of ${ref}`);
      if (en.lastModified) {
        const col = en.columns.find((c) => c.name === en.lastModified);
        if (!col) add(`${at}/lastModified`, `last-modified column '${en.lastModified}' is not a column of ${ref}`);
        else if (col.type !== 'datetime' && col.type !== 'date')
          add(`${at}/lastModified`, `last-modified column '${en.lastModified}' must have type datetime or date`);
      }
      const encoding = en.encoding ?? ds.encoding;
      if (encoding) {
        try {
          new TextDecoder(encoding);
        } catch {
          add(`${en.encoding ? at : `/dataSources/${i}`}/encoding`, `unknown encoding '${encoding}'`);
        }
      }
    });
  });

  const hasColumn = (ref: string, column: string) => entities.get(ref)?.columns.some((c) => c.name === column) ?? false;
  const entityExists = (path: string, ref: string) => {
    if (entities.has(ref)) return true;
    add(path, `unknown entity '${ref}' (known: ${[...entities.keys()].join(', ')})`);
    return false;
  };

  const checkConditions = (at: string, ref: string, otherRef: string | undefined, conditions: ConditionDef[]) => {
    let exact = 0;
    conditions.forEach((c, k) => {
      const cAt = `${at}/conditions/${k}`;
      if (!hasColumn(ref, c.field)) add(`${cAt}/field`, `'${c.field}' is not a column of ${ref}`);
      if (otherRef) {
        const other = c.otherField ?? c.field;
        if (entities.has(otherRef) && !hasColumn(otherRef, other))
          add(`${cAt}/${c.otherField ? 'otherField' : 'field'}`, `'${other}' is not a column of ${otherRef}`);
      } else if (c.otherField) {
        add(`${cAt}/otherField`, 'otherField is only for match rules between two entities');
      }
      if ((c.precision ?? 'exact') === 'exact') exact++;
      const region = c.phoneRegion ?? def.defaultPhoneRegion;
      if (c.phoneRegion && !isSupportedCountry(c.phoneRegion)) add(`${cAt}/phoneRegion`, `unknown country '${c.phoneRegion}'`);
      if (c.normalize?.includes('phone') && !region)
        add(`${cAt}/normalize`, 'phone normalization needs phoneRegion here or defaultPhoneRegion on the instance');
    });
    if (exact === 0)
      add(`${at}/conditions`, 'a rule with fuzzy conditions needs at least one exact condition (it is used for blocking)');
  };

  if (def.defaultPhoneRegion && !isSupportedCountry(def.defaultPhoneRegion))
    add('/defaultPhoneRegion', `unknown country '${def.defaultPhoneRegion}'`);

  // Matching order: the first entity is primary; later ones match to earlier ones.
  const customerEntities: string[] = [];
  def.unification.matching.forEach((m, i) => {
    const at = `/unification/matching/${i}`;
    if (!entityExists(`${at}/entity`, m.entity)) return;
    if (customerEntities.includes(m.entity)) add(`${at}/entity`, `entity '${m.entity}' appears twice in the matching order`);
    if (i === 0 && m.rules?.length) add(`${at}/rules`, 'the first (primary) entity has nothing earlier to match to');
    m.rules?.forEach((r, j) => {
      const rAt = `${at}/rules/${j}`;
      if (!entities.has(r.matchTo)) add(`${rAt}/matchTo`, `unknown entity '${r.matchTo}'`);
      else if (!customerEntities.includes(r.matchTo))
        add(`${rAt}/matchTo`, `'${r.matchTo}' must come earlier in the matching order than '${m.entity}'`);
      checkConditions(rAt, m.entity, r.matchTo, r.conditions);
    });
    customerEntities.push(m.entity);
  });

  def.unification.deduplication?.forEach((d, i) => {
    const at = `/unification/deduplication/${i}`;
    if (!entityExists(`${at}/entity`, d.entity)) return;
    if (!customerEntities.includes(d.entity))
      add(`${at}/entity`, `'${d.entity}' is not in unification.matching; only customer entities are deduplicated`);
    if (def.unification.deduplication!.findIndex((o) => o.entity === d.entity) !== i)
      add(`${at}/entity`, `deduplication for '${d.entity}' is defined twice`);
    d.rules.forEach((r, j) => checkConditions(`${at}/rules/${j}`, d.entity, undefined, r.conditions));
    if ((d.winner === 'mostRecent' || d.winner === 'leastRecent') && !entities.get(d.entity)?.lastModified)
      add(`${at}/winner`, `'${d.winner}' needs a lastModified column on ${d.entity}`);
  });

  const merge = def.unification.merge;
  const customerColumn = (path: string, colRef: string) => {
    const dot = colRef.lastIndexOf('.');
    const ref = colRef.slice(0, dot);
    const col = colRef.slice(dot + 1);
    if (!customerEntities.includes(ref)) add(path, `'${ref}' is not a customer entity (one in unification.matching)`);
    else if (!hasColumn(ref, col)) add(path, `'${col}' is not a column of ${ref}`);
  };
  merge?.sourceOrder?.forEach((ref, i) => {
    if (!customerEntities.includes(ref)) add(`/unification/merge/sourceOrder/${i}`, `'${ref}' is not a customer entity`);
  });
  const fieldNames = new Set<string>();
  merge?.fields?.forEach((f, i) => {
    const at = `/unification/merge/fields/${i}`;
    if (fieldNames.has(f.name)) add(`${at}/name`, `merged field '${f.name}' is defined twice`);
    fieldNames.add(f.name);
    if (f.name === 'CustomerId' || f.name === 'PreviousCustomerId') add(`${at}/name`, `'${f.name}' is reserved`);
    f.from.forEach((c, j) => customerColumn(`${at}/from/${j}`, c));
    const needsTime = f.policy === 'mostRecent' || f.policy === 'leastRecent';
    if (needsTime) {
      f.from.forEach((c, j) => {
        const ref = c.slice(0, c.lastIndexOf('.'));
        if (entities.has(ref) && !entities.get(ref)!.lastModified)
          add(`${at}/from/${j}`, `policy '${f.policy}' needs a lastModified column on ${ref}`);
      });
    }
  });
  merge?.exclude?.forEach((x, i) => {
    if (x.split('.').length === 3) customerColumn(`/unification/merge/exclude/${i}`, x);
  });

  def.activities?.forEach((a, i) => {
    const at = `/activities/${i}`;
    if (!entityExists(`${at}/entity`, a.entity)) return;
    if (customerEntities.includes(a.entity))
      add(`${at}/entity`, `'${a.entity}' is a customer entity (in unification.matching) and cannot also be an activity`);
    if (def.activities!.findIndex((o) => o.entity === a.entity) !== i) add(`${at}/entity`, `activity for '${a.entity}' is defined twice`);
    const col = (p: string, name: string | undefined) => {
      if (name !== undefined && !hasColumn(a.entity, name)) add(`${at}/${p}`, `'${name}' is not a column of ${a.entity}`);
    };
    col('primaryKey', a.primaryKey);
    col('timestamp', a.timestamp);
    col('customer/foreignKey', a.customer.foreignKey);
    if (entities.has(a.customer.entity) && !customerEntities.includes(a.customer.entity))
      add(`${at}/customer/entity`, `'${a.customer.entity}' is not a customer entity (one in unification.matching)`);
    else entityExists(`${at}/customer/entity`, a.customer.entity);
    for (const key of ['title', 'description', 'url'] as const) {
      const template = a[key];
      if (!template) continue;
      for (const name of templateFields(template)) {
        if (!hasColumn(a.entity, name)) add(`${at}/${key}`, `placeholder {${name}} is not a column of ${a.entity}`);
      }
    }
  });

  // Connection mappings (hooks and stream consumers): what they produce must exist, and their
  // paths and formats must compile.
  const activityEntities = new Map((def.activities ?? []).map((a) => [a.entity.replace('.', '_'), a.entity]));
  const checkMapping = (at: string, m: { entity?: string; customer?: { entity: string; key: unknown }; fields?: Record<string, unknown>; each?: string }) => {
    const entity = m.entity ?? '';
    if (entity !== 'UnifiedActivity' && entity !== 'Customer' && !activityEntities.has(entity))
      add(`${at}/entity`, `'${entity}' is not UnifiedActivity, Customer or a source activity entity (${[...activityEntities.keys()].join(', ') || 'none declared'})`);
    if (m.customer) {
      if (!customerEntities.includes(m.customer.entity)) add(`${at}/customer/entity`, `'${m.customer.entity}' is not a customer entity (one in unification.matching)`);
      if (activityEntities.has(entity)) add(`${at}/customer`, `a ${entity} record finds its customer through its own foreign key; leave customer out`);
    } else if (entity === 'Customer' && !m.fields?.CustomerId) add(`${at}/customer`, 'a Customer update needs customer (a source key) or a CustomerId field');
    else if (entity === 'UnifiedActivity' && !m.fields?.CustomerId) add(`${at}/customer`, 'a UnifiedActivity needs customer (a source key) or a CustomerId field');
    const sourceEntity = activityEntities.get(entity);
    if (sourceEntity) {
      for (const name of Object.keys(m.fields ?? {})) if (!hasColumn(sourceEntity, name)) add(`${at}/fields/${name}`, `'${name}' is not a column of ${sourceEntity}`);
    }
    try {
      compileMapping({ entity, customer: m.customer as never, fields: (m.fields ?? {}) as never, each: m.each });
    } catch (err) {
      const [step, ...rest] = (err as Error).message.split(': ');
      add(`${at}/${step.replace('.', '/')}`, rest.join(': '));
    }
  };
  const hookNames = new Set<string>();
  def.hooks?.forEach((h, i) => {
    if (hookNames.has(h.name)) add(`/hooks/${i}/name`, `hook '${h.name}' is defined twice`);
    hookNames.add(h.name);
    checkMapping(`/hooks/${i}`, h);
  });
  const consumerNames = new Set<string>();
  def.consumers?.forEach((c, i) => {
    const at = `/consumers/${i}`;
    if (consumerNames.has(c.name)) add(`${at}/name`, `consumer '${c.name}' is defined twice`);
    consumerNames.add(c.name);
    if (c.hook) {
      if (c.entity || c.fields || c.customer || c.each) add(`${at}/hook`, 'give either hook (reuse its mapping) or entity and fields, not both');
      if (!hookNames.has(c.hook)) add(`${at}/hook`, `hook '${c.hook}' does not exist (hooks: ${[...hookNames].join(', ') || 'none'})`);
    } else if (!c.entity || !c.fields) add(at, 'a consumer needs hook (reuse its mapping) or entity and fields');
    else checkMapping(at, c);
  });

  if (def.schedule) {
    try {
      // The timezone is only checked when a date is computed, so compute one.
      new Cron(def.schedule.cron, { paused: true, timezone: def.schedule.timezone }).nextRun();
    } catch (err) {
      add('/schedule', `invalid schedule: ${(err as Error).message}`);
    }
  }
  // Measures and segments refer to unified fields and activity types, known once the rest holds.
  if (!problems.length) problems.push(...analyticsProblems(def));
  // Enrichment, exports and notifications refer to the unified schema and to measures and segments:
  // checked once the rest holds.
  if (!problems.length) checkOutputReferences(def, add);
  if (!problems.length) checkFilterIndex(def, add);
  return problems;
}

/** The filter index names unified Customer attributes, each once (CustomerId is the key: always indexed). */
function checkFilterIndex(def: InstanceDefinition, add: (path: string, message: string) => void): void {
  if (!def.filterIndex?.length) return;
  const attributes = unifiedSchema(resolveInstance(def, '.')).customer.attributes.map((a) => a.name);
  const seen = new Set<string>();
  def.filterIndex.forEach((name, i) => {
    const at = `/filterIndex/${i}`;
    if (name === 'CustomerId') add(at, `CustomerId is the key of Customer and always indexed; remove it from filterIndex`);
    else if (!attributes.includes(name)) add(at, `unknown Customer attribute '${name}' (known: ${attributes.filter((a) => a !== 'CustomerId').join(', ')})`);
    else if (seen.has(name)) add(at, `'${name}' is listed twice`);
    seen.add(name);
  });
}
