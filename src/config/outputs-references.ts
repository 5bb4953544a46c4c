// Checks of the enrichment, exports and notifications sections beyond their schema: fields that
// exist, targets with what their type needs, schedules that parse, thresholds on known segments
// and measures. Runs once the rest of the definition is consistent (it resolves the instance).
import { Cron } from 'croner';
import { isSupportedCountry } from 'libphonenumber-js';
import { enrichmentPlan, ENRICHER_KINDS } from '../domain/enrich.js';
import { unifiedSchema } from '../domain/unified-schema.js';
import type { ExportTargetDef } from './outputs.js';
import { resolveInstance } from './resolve.js';
import type { InstanceDefinition } from './schema.js';

type Add = (path: string, message: string) => void;

/** Keys of the exportable entities (others: CustomerId). */
const ENTITY_KEYS: Record<string, string[]> = {
  UnifiedActivity: ['ActivityId'],
  AlternateKey: ['DataSourceName', 'EntityName', 'AlternateValue'],
};

const TARGET_PROPERTIES: Record<ExportTargetDef['type'], (keyof ExportTargetDef)[]> = {
  file: ['type', 'folder', 'format', 'fileName'],
  postgres: ['type', 'connectionString', 'connectionStringEnv', 'schema', 'table'],
  http: ['type', 'url', 'secret', 'secretEnv', 'batchSize', 'headers', 'timeoutMs', 'retry'],
};

/** Attribute names of each entity an export may read (Customer_Measure when measures exist). */
export function exportableEntities(def: InstanceDefinition, baseDir = '.'): Map<string, string[]> {
  const schema = unifiedSchema(resolveInstance(def, baseDir));
  const out = new Map<string, string[]>();
  for (const e of [schema.customer, schema.activity, schema.alternateKey, schema.enrichment, schema.customerMeasure]) {
    if (e === schema.customerMeasure && e.attributes.length === 1) continue;
    out.set(e.name, e.attributes.map((a) => a.name));
  }
  return out;
}

function checkUrl(add: Add, path: string, url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return add(path, `'${url}' is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') add(path, `'${url}' must be an http or https URL`);
}

function checkCron(add: Add, path: string, schedule: { cron: string; timezone?: string }): void {
  try {
    new Cron(schedule.cron, { paused: true, timezone: schedule.timezone }).nextRun();
  } catch (err) {
    add(path, `invalid schedule: ${(err as Error).message}`);
  }
}

export function checkOutputReferences(def: InstanceDefinition, add: Add): void {
  const resolved = resolveInstance(def, '.');
  const unifiedFields = new Set(resolved.mergeFields.map((f) => f.name));
  const enrichment = def.enrichment;
  if (enrichment?.region && !isSupportedCountry(enrichment.region)) add('/enrichment/region', `unknown country '${enrichment.region}'`);
  for (const kind of ENRICHER_KINDS) {
    enrichment?.[kind]?.forEach((field, i) => {
      if (!unifiedFields.has(field)) add(`/enrichment/${kind}/${i}`, `'${field}' is not a unified Customer field (fields: ${[...unifiedFields].join(', ')})`);
    });
  }
  const plan = enrichmentPlan(resolved);
  const seen = new Set<string>();
  for (const [name] of plan.attributes) {
    if (seen.has(name)) add('/enrichment', `two enrichers write the attribute '${name}'; enrich each field with one enricher`);
    seen.add(name);
  }
  // Without a region only numbers written with a country code (+…) enrich; that is not an error.

  const entities = exportableEntities(def);
  const segments = new Set((def.segments ?? []).map((s) => s.name));
  const names = new Set<string>();
  def.exports?.forEach((x, i) => {
    const at = `/exports/${i}`;
    if (names.has(x.name)) add(`${at}/name`, `export '${x.name}' is defined twice`);
    names.add(x.name);
    const attributes = entities.get(x.entity);
    if (!attributes) add(`${at}/entity`, `unknown entity '${x.entity}' (entities: ${[...entities.keys()].join(', ')})`);
    else {
      x.fields?.forEach((f, j) => {
        if (!attributes.includes(f)) add(`${at}/fields/${j}`, `'${f}' is not an attribute of ${x.entity} (attributes: ${attributes.join(', ')})`);
      });
      if (x.segment !== undefined) {
        if (!attributes.includes('CustomerId')) add(`${at}/segment`, `${x.entity} has no CustomerId, so it cannot be filtered by segment`);
        else if (!segments.has(x.segment))
          add(`${at}/segment`, `unknown segment '${x.segment}'${segments.size ? ` (segments: ${[...segments].join(', ')})` : ' (the definition has no segments)'}`);
      }
      // PostgreSQL upserts by the entity's key (CustomerId for profiles): the key must be exported.
      const keys = ENTITY_KEYS[x.entity] ?? ['CustomerId'];
      const missing = keys.filter((k) => x.fields && !x.fields.includes(k));
      if (x.target.type === 'postgres' && missing.length)
        add(`${at}/fields`, `a PostgreSQL export upserts by ${keys.join(', ')}: add ${missing.join(', ')} to the fields (the key must be among them)`);
    }
    if (x.schedule) checkCron(add, `${at}/schedule`, x.schedule);
    const t = x.target;
    const allowed = TARGET_PROPERTIES[t.type];
    for (const key of Object.keys(t) as (keyof ExportTargetDef)[]) {
      if (!allowed.includes(key)) add(`${at}/target/${key}`, `'${key}' does not apply to a ${t.type} target (it takes ${allowed.filter((k) => k !== 'type').join(', ')})`);
    }
    const need = (key: keyof ExportTargetDef) => {
      if (t[key] === undefined) add(`${at}/target`, `a ${t.type} target needs '${key}'`);
    };
    if (t.type === 'file') {
      need('folder');
      need('format');
    } else if (t.type === 'postgres') {
      need('table');
      if (!t.connectionString && !t.connectionStringEnv) add(`${at}/target`, "a postgres target needs 'connectionString' or 'connectionStringEnv'");
      if (t.connectionString && t.connectionStringEnv) add(`${at}/target/connectionStringEnv`, "give 'connectionString' or 'connectionStringEnv', not both");
    } else {
      need('url');
      if (t.url) checkUrl(add, `${at}/target/url`, t.url);
      if (!t.secret && !t.secretEnv) add(`${at}/target`, "an http target needs 'secret' or 'secretEnv' (requests are signed with HMAC-SHA256)");
      if (t.secret && t.secretEnv) add(`${at}/target/secretEnv`, "give 'secret' or 'secretEnv', not both");
    }
  });

  const measures = new Map((def.measures ?? []).map((m) => [m.name, m.kind ?? 'customer']));
  const hooks = new Set<string>();
  def.notifications?.forEach((n, i) => {
    const at = `/notifications/${i}`;
    if (hooks.has(n.name)) add(`${at}/name`, `notification '${n.name}' is defined twice`);
    hooks.add(n.name);
    checkUrl(add, `${at}/url`, n.url);
    if (!n.secret && !n.secretEnv) add(at, "a notification needs 'secret' or 'secretEnv' (deliveries are signed with HMAC-SHA256)");
    if (n.secret && n.secretEnv) add(`${at}/secretEnv`, "give 'secret' or 'secretEnv', not both");
    n.events.forEach((e, j) => {
      if (n.events.indexOf(e) !== j) add(`${at}/events/${j}`, `event '${e}' is listed twice`);
    });
    n.thresholds?.forEach((t, j) => {
      const tAt = `${at}/thresholds/${j}`;
      if ((t.segment === undefined) === (t.measure === undefined)) add(tAt, "a threshold names either a 'segment' or a 'measure'");
      if (t.above === undefined && t.below === undefined) add(tAt, "a threshold needs 'above' or 'below' (or both)");
      if (t.segment !== undefined) {
        if (!segments.has(t.segment)) add(`${tAt}/segment`, `unknown segment '${t.segment}'`);
        if (!n.events.includes('segmentThreshold')) add(`${at}/events`, "segment thresholds need the event 'segmentThreshold'");
      }
      if (t.measure !== undefined) {
        const kind = measures.get(t.measure);
        if (!kind) add(`${tAt}/measure`, `unknown measure '${t.measure}'`);
        else if (kind !== 'business') add(`${tAt}/measure`, `'${t.measure}' is a customer measure; thresholds apply to business measures`);
        if (!n.events.includes('measureThreshold')) add(`${at}/events`, "measure thresholds need the event 'measureThreshold'");
      }
    });
    for (const e of ['segmentThreshold', 'measureThreshold'] as const) {
      const kind = e === 'segmentThreshold' ? 'segment' : 'measure';
      if (n.events.includes(e) && !n.thresholds?.some((t) => t[kind] !== undefined))
        add(`${at}/events/${n.events.indexOf(e)}`, `event '${e}' needs at least one threshold on a ${kind}`);
    }
  });
}
