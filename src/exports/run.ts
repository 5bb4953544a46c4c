// One export run: the chosen fields of an entity of the current (batch) generation, optionally
// only a segment's members, to a file, PostgreSQL or HTTP. Reads the committed generation only,
// never the real-time overlay, so real-time overrides and activities are never exported. Every
// run is recorded with status and counts.
import { randomUUID } from 'node:crypto';
import type { ExportDef } from '../config/outputs.js';
import { resolveInstance, type ResolvedInstance } from '../config/resolve.js';
import { unifiedSchema } from '../domain/unified-schema.js';
import type { ExportRunRecord, ExportTrigger } from '../storage/exports.js';
import type { InstanceRecord, Store, UnifiedEntityName } from '../storage/store.js';
import { fileSink } from './file.js';
import { httpSink } from './http.js';
import { postgresSink } from './postgres.js';
import type { ExportContext, ExportField, ExportSink } from './sink.js';

const SCAN_BATCH = 5000;
const MEMBER_PAGE = 50_000;

/** Attributes with their types, and the key, of an entity an export may read. */
export function entityFields(resolved: ResolvedInstance, entity: string): { fields: ExportField[]; keys: string[] } | undefined {
  const schema = unifiedSchema(resolved);
  const info = [schema.customer, schema.activity, schema.alternateKey, schema.enrichment, schema.customerMeasure].find((e) => e.name === entity);
  return info && { fields: info.attributes.map((a) => ({ name: a.name, type: a.type })), keys: info.keys };
}

async function membersOf(store: Store, instanceId: string, segment: string): Promise<Set<string>> {
  const members = new Set<string>();
  for (let skip = 0; ; skip += MEMBER_PAGE) {
    const page = await store.analytics.segmentMembers(instanceId, segment, { skip, top: MEMBER_PAGE });
    for (const id of page) members.add(id);
    if (page.length < MEMBER_PAGE) return members;
  }
}

export interface ExportRunOptions {
  store: Store;
  instance: InstanceRecord;
  def: ExportDef;
  trigger: ExportTrigger;
  /** The refresh that produced the generation (trigger 'refresh'). */
  jobId?: string | null;
  signal?: AbortSignal;
  /** Called once the run is recorded (status running), before any row is read. */
  onStart?: (run: ExportRunRecord) => void;
}

const now = () => new Date().toISOString();

function describeTarget(def: ExportDef): string {
  const t = def.target;
  if (t.type === 'file') return `file ${t.folder}/${t.fileName ?? `${def.name}.${t.format ?? 'csv'}`}`;
  if (t.type === 'postgres') return `postgres ${t.schema ?? 'public'}.${t.table}`;
  return `http ${t.url}`;
}

export async function runExport(o: ExportRunOptions): Promise<ExportRunRecord> {
  const { store, instance, def } = o;
  const signal = o.signal ?? new AbortController().signal;
  const run: ExportRunRecord = {
    runId: randomUUID(),
    instanceId: instance.id,
    exportName: def.name,
    trigger: o.trigger,
    jobId: o.jobId ?? null,
    generation: instance.currentGeneration,
    status: 'running',
    target: describeTarget(def),
    startedAt: now(),
    endedAt: null,
    rows: 0,
    batches: 0,
    durationMs: null,
    error: null,
  };
  await store.exportRuns.createRun(run);
  o.onStart?.({ ...run });
  const t0 = performance.now();
  let sink: ExportSink | undefined;
  try {
    if (instance.currentGeneration === null) throw new Error(`instance '${instance.id}' has no unified data yet; run a refresh first`);
    const resolved = resolveInstance(instance.definition, instance.baseDir);
    const entity = entityFields(resolved, def.entity);
    if (!entity) throw new Error(`unknown entity '${def.entity}'`);
    const fields = def.fields ? def.fields.map((n) => entity.fields.find((f) => f.name === n) ?? { name: n, type: 'string' as const }) : entity.fields;
    const members = def.segment !== undefined ? await membersOf(store, instance.id, def.segment) : null;
    const ctx: ExportContext = {
      instanceId: instance.id,
      exportName: def.name,
      runId: run.runId,
      generation: instance.currentGeneration,
      entity: def.entity,
      fields,
      keys: entity.keys,
      signal,
    };
    const t = def.target;
    sink = t.type === 'file' ? fileSink(t, instance.baseDir, ctx) : t.type === 'postgres' ? await postgresSink(t, ctx) : httpSink(t, ctx);
    run.target = sink.description;
    for await (const batch of store.scan(instance.id, def.entity as UnifiedEntityName, SCAN_BATCH)) {
      if (signal.aborted) throw new Error('cancelled');
      const rows = members ? batch.filter((r) => members.has(r.CustomerId as string)) : batch;
      if (!rows.length) continue;
      await sink.write(rows);
      run.rows += rows.length;
    }
    // A refresh that committed meanwhile prunes the generation being read: the rows would be
    // incomplete, so the destination keeps what it had.
    const latest = await store.getInstance(instance.id);
    if (latest?.currentGeneration !== instance.currentGeneration)
      throw new Error(`a refresh replaced generation ${instance.currentGeneration} while it was exported; run the export again`);
    await sink.complete();
    run.status = 'successful';
  } catch (err) {
    await sink?.abort().catch(() => {});
    run.status = 'failed';
    run.error = (err as Error).message;
  }
  run.batches = sink?.batches ?? 0;
  run.endedAt = now();
  run.durationMs = Math.round(performance.now() - t0);
  await store.exportRuns.finishRun(instance.id, run.runId, run);
  return run;
}
