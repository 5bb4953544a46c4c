// Runs one refresh: the stages in order, each recorded (status, duration, counts, issues) as it
// goes. The new generation becomes visible only if every stage succeeds.
import { resolveInstance, type ResolvedInstance } from '../config/resolve.js';
import type { RunRecord, StageName, StageRecord } from '../domain/run.js';
import type { GenerationWriter, Store } from '../storage/store.js';
import { activities } from './activities.js';
import { IssueLog, RefreshCancelled, type StageEnv, type StageProgress } from './context.js';
import { dedupe } from './dedupe.js';
import { match } from './match.js';
import { measures, measuresSummary, writeMeasures } from './measures.js';
import { merge, type KeyRing } from './merge.js';
import { normalize } from './normalize.js';
import { pull } from './pull.js';
import { segments, segmentsSummary, writeSegments } from './segments.js';
import { GenerationWrite, writeActivities, writeProfiles } from './write.js';
import { enrich, ENRICH_WORKER_MIN_PROFILES, startEnrich, type PendingEnrichment } from './enrich.js';
import { enrichmentPlan } from '../domain/enrich.js';
import { exportAfterRefresh } from './export.js';
import { startActivityIds, type ActivityIdsAhead } from './activity-ids.js';
import { notifyRefreshEnded } from '../notify/refresh.js';

export type StageListener = (stage: StageRecord) => void;

export interface RefreshOptions {
  store: Store;
  run: RunRecord;
  signal?: AbortSignal;
  /** Called often during a stage (done, total; total 0 = unknown). */
  onProgress?: StageProgress;
  /** Called when a stage starts or ends. */
  onStage?: StageListener;
  /** Enrich in a worker thread (default: for many profiles, see ENRICH_WORKER_MIN_PROFILES). */
  enrichInWorker?: boolean;
  /** Work out ActivityIds in a worker thread during unification (default: for large entities, see ACTIVITY_IDS_WORKER_MIN_ROWS). */
  activityIdsInWorker?: boolean;
}

const now = () => new Date().toISOString();

interface StartedStage {
  t0: number;
  env: StageEnv;
  issues: IssueLog;
}

/** Page cache for a connection that writes a generation (see SqliteStoreOptions.pageCacheMiB). */
export const REFRESH_PAGE_CACHE_MIB = 64;

/**
 * Heap of the process a refresh runs in (executors.ts). The stages make millions of short-lived
 * objects and keep a few GiB to the end. Measured at 1M records (BENCHMARKS.md, "Refresh heap"):
 * - semi-spaces of 64 MiB from the start: V8 starts them at 1 MiB and, left to itself, rarely grew
 *   them past 32, so it scavenged twice as often and promoted objects that were about to die;
 * - no full collection before the old generation holds 2.5 GiB: V8 otherwise marks the growing
 *   heap again and again in its helper threads, which share the 2 cores with the refresh.
 * Together: the thread's GC pauses 2 s shorter, and peaks lower (by 30–90 MiB through
 * `kindred refresh`; by 300 MiB for the benchmark's second refresh, which had come within 40 MiB of
 * the 4 GiB the issue allows). The time moved within the runs' spread, except the benchmark's
 * second refresh (4 s faster). With 96 MiB semi-spaces the peak came within 50 MiB of 4 GiB.
 */
export const REFRESH_SEMI_SPACE_MIB = 64;
export const REFRESH_INITIAL_OLD_GENERATION_MIB = 2560;
/**
 * Node/V8 flags of the refresh's process: the heap above, and garbage collection on the thread
 * that allocates only. V8's helper threads (four, whatever the cores) marked and scavenged in
 * parallel with the refresh's own threads (generation writer, enrich) on 2 cores: at 1M records
 * they used 63 of the run's 269 CPU seconds, against 18 for the collections on the refresh's
 * thread (perf). BENCHMARKS.md, "Refresh in a process of its own".
 */
export const REFRESH_PROCESS_FLAGS: readonly string[] = [
  '--single-threaded-gc',
  `--min-semi-space-size=${REFRESH_SEMI_SPACE_MIB}`,
  `--max-semi-space-size=${REFRESH_SEMI_SPACE_MIB}`,
  `--initial-old-space-size=${REFRESH_INITIAL_OLD_GENERATION_MIB}`,
];

/** Alternate keys of the previous generation read per page when merge loads them. */
const PREVIOUS_KEYS_PAGE = 50_000;

export async function runRefresh(options: RefreshOptions): Promise<RunRecord> {
  const { store, run } = options;
  const signal = options.signal ?? new AbortController().signal;
  const stages = run.stages.length ? run.stages.map((s) => ({ ...s })) : [];
  const stageRecord = (name: StageName) => stages.find((s) => s.name === name)!;
  const startedAt = now();
  await store.updateRun(run.instanceId, run.jobId, { status: 'running', startedAt, stages });
  let writer: GenerationWriter | undefined;
  let enrichment: PendingEnrichment | undefined;
  let activityIds: ActivityIdsAhead | undefined;
  let current: StageRecord | undefined;
  const summary: Record<string, number> = {};

  /** Marks a stage running; returns when, and the environment its work gets, for stage(). */
  function markRunning(name: StageName, instance: ResolvedInstance): StartedStage {
    const rec = stageRecord(name);
    rec.status = 'running';
    rec.startedAt = now();
    options.onStage?.(rec);
    const issues = new IssueLog();
    const env: StageEnv = { instance, signal, progress: options.onProgress ?? (() => {}), report: { counts: rec.counts, issues } };
    return { t0: performance.now(), env, issues };
  }

  /** `started`: the stage was marked running before (its work began earlier, overlapping others). */
  async function stage<T>(name: StageName, instance: ResolvedInstance, body: (env: StageEnv) => Promise<T>, started?: StartedStage): Promise<T> {
    const rec = stageRecord(name);
    current = rec;
    const { t0, env, issues } = started ?? markRunning(name, instance);
    await store.updateRun(run.instanceId, run.jobId, { stages });
    try {
      const value = await body(env);
      rec.status = 'successful';
      return value;
    } finally {
      rec.durationMs = Math.round(performance.now() - t0);
      rec.endedAt = now();
      rec.issues = issues.toJSON();
    }
  }

  async function endStage(name: StageName): Promise<void> {
    const rec = stageRecord(name);
    options.onStage?.(rec);
    if (name !== 'write') await store.updateRun(run.instanceId, run.jobId, { stages });
  }

  try {
    const record = await store.getInstance(run.instanceId);
    if (!record) throw new Error(`instance '${run.instanceId}' does not exist`);
    const instance = resolveInstance(record.definition, record.baseDir);

    const pulled = await stage('pull', instance, (env) => pull(env));
    await endStage('pull');
    const typed = await stage('normalize', instance, (env) => normalize(env, pulled));
    await endStage('normalize');
    activityIds = startActivityIds(instance, typed, options.activityIdsInWorker);
    const deduped = await stage('dedupe', instance, (env) => dedupe(env, typed));
    await endStage('dedupe');
    const matched = await stage('match', instance, (env) => match(env, deduped));
    await endStage('match');
    const merged = await stage('merge', instance, async (env) => {
      const previousKeys: KeyRing = new Map();
      // In pages, not as one array: at 1M keys the array and the rows behind it were some 200 MiB
      // on top of this stage's peak (the highest of a second refresh).
      for await (const page of store.scan(instance.id, 'AlternateKey', PREVIOUS_KEYS_PAGE)) {
        for (const k of page) {
          const ref = `${k.DataSourceName}.${k.EntityName}`;
          let ring = previousKeys.get(ref);
          if (!ring) previousKeys.set(ref, (ring = new Map()));
          ring.set(k.AlternateValue as string, k.CustomerId as string);
        }
      }
      const previousHistory = await store.loadPreviousCustomerIds(instance.id);
      return merge(env, { unification: matched, previousKeys, previousHistory });
    });
    await endStage('merge');
    // Enrichment needs only the merged profiles: it is computed (in a worker thread for many
    // profiles) while the stages up to write run here, and written into the generation after them.
    // In a worker, enrich runs from here on, and its stage record says so.
    const enrichInWorker = options.enrichInWorker ?? merged.customers.length >= ENRICH_WORKER_MIN_PROFILES;
    const enrichStarted = enrichInWorker ? markRunning('enrich', instance) : undefined;
    current = stageRecord('enrich');
    enrichment = startEnrich({ signal, plan: enrichmentPlan(instance), customers: merged.customers, worker: enrichInWorker });
    // The write stage starts here too and overlaps the stages up to segments: each part hands its
    // rows to the generation writer as soon as they exist, and a store that loads a large
    // generation in a thread of its own writes them while the next stage computes.
    const writeStarted = markRunning('write', instance);
    const writeRecord = stageRecord('write');
    current = writeRecord;
    writer = await store.beginGeneration(instance.id, run.jobId, { expectedRows: merged.customers.length + merged.alternateKeys.length });
    // Enrichments go into the generation being built as they are computed: they become visible with its commit.
    const generationWriter = writer;
    enrichment.writeTo((batch) => generationWriter.writeEnrichments(batch));
    const written = new GenerationWrite(writeStarted.env, writer);
    /** A part of the write stage between other stages: a failure in it is the write stage's. */
    const writePart = async (part: () => Promise<void>) => {
      current = writeRecord;
      await part();
    };
    await writePart(() =>
      writeProfiles(written, {
        customers: merged.customers,
        sourceModified: merged.sourceModified,
        fieldSources: merged.fieldSources,
        alternateKeys: merged.alternateKeys,
        alternateKeyModified: merged.alternateKeyModified,
      }),
    );
    const acts = await stage('activities', instance, (env) => activities(env, typed, merged.keyRing, activityIds));
    activityIds.stop();
    await endStage('activities');
    // Sorted in place: the stages below index the activities in their written order.
    await writePart(() => writeActivities(written, acts));
    // Measures and segments see the batch only (never real-time data); windows end at the run's start.
    const refreshTime = Date.parse(startedAt);
    const measured = await stage('measures', instance, (env) =>
      measures(env, { customers: merged.customers, activities: acts, typed, keyRing: merged.keyRing, refreshTime }),
    );
    await endStage('measures');
    await writePart(() => writeMeasures(written, merged.customers, measured));
    const segmented = await stage('segments', instance, (env) =>
      segments(env, { customers: merged.customers, activities: acts, measures: measured, refreshTime }),
    );
    await endStage('segments');
    typed.clear();
    await stage(
      'write',
      instance,
      async () => {
        await writeSegments(written, segmented);
        // Until here this thread only handed rows over; now it waits for the last to be stored.
        const w0 = performance.now();
        await written.finish();
        writeRecord.counts.waitMs = Math.round(performance.now() - w0);
        await store.analytics.writeRunSummary(instance.id, writer!.generation, run.jobId, startedAt, {
          measures: measuresSummary(measured),
          segments: segmentsSummary(segmented),
        });
      },
      writeStarted,
    );
    await endStage('write');
    summary.profiles = merged.customers.length;
    summary.alternateKeys = merged.alternateKeys.length;
    summary.activities = acts.length;
    summary.measures = measured.plans.length;
    summary.segments = segmented.segments.length;
    summary.recordsRead = stageRecord('pull').counts.rowsRead ?? 0;
    // From here on only the remap (commit) is needed: at 1M the rest is over a GiB of heap that
    // every garbage collection during enrich's write would mark again.
    acts.length = 0;
    merged.customers.length = 0;
    merged.alternateKeys.length = 0;
    merged.alternateKeyModified.length = 0;
    merged.keyRing.clear();
    merged.sourceModified.length = 0;
    merged.fieldSources.length = 0;
    // The last enrichments are computed and stored (they went to the writer as they came).
    await stage('enrich', instance, (env) => enrich(env, { enrichment: enrichment! }), enrichStarted);
    await endStage('enrich');
    summary.enriched = stageRecord('enrich').counts.profiles ?? 0;
    const endedAt = now();
    await writer!.commit({ stages, summary, endedAt, remap: merged.remap });
    options.onStage?.(stageRecord('write'));
    await store.pruneGenerations(instance.id);
    // The run is successful from here on: exports and notifications report, they cannot undo it.
    try {
      await stage('export', instance, (env) => exportAfterRefresh(env, { store, jobId: run.jobId }));
    } catch (err) {
      Object.assign(stageRecord('export'), { status: signal.aborted ? 'cancelled' : 'failed', error: errorMessage(err) });
    }
    current = undefined;
    await endStage('export');
    const done: RunRecord = { ...run, status: 'successful', startedAt, endedAt, stages, summary, generation: writer!.generation };
    await notifyRefreshEnded(store, done, signal);
    return done;
  } catch (err) {
    const cancelled = err instanceof RefreshCancelled || signal.aborted;
    const message = cancelled ? 'cancelled' : errorMessage(err);
    if (current) {
      current.status = cancelled ? 'cancelled' : 'failed';
      current.error = cancelled ? null : message;
      options.onStage?.(current);
    }
    for (const s of stages) if (s.status === 'pending') s.status = 'skipped';
    // Enrich and the ActivityIds, computing alongside the stage that failed, stop with it.
    enrichment?.stop();
    activityIds?.stop();
    for (const s of stages) if (s.status === 'running' && s !== current) s.status = 'cancelled';
    await writer?.abort().catch(() => {});
    const endedAt = now();
    const status = cancelled ? 'cancelled' : 'failed';
    await store.updateRun(run.instanceId, run.jobId, { status, endedAt, error: cancelled ? null : message, stages, summary });
    const ended: RunRecord = { ...run, status, startedAt, endedAt, stages, summary, error: cancelled ? null : message };
    if (!cancelled) await notifyRefreshEnded(store, ended);
    return ended;
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

