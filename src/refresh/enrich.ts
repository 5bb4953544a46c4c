// Stage enrich: phone numbers, email domains, names, postal codes and countries of every unified
// profile, written into the generation being built (readers switch to them with its commit; a
// failed refresh changes nothing). Pure functions with a cache per distinct value: no network.
//
// The computation needs only the merged profiles, so it starts right after merge: for many
// profiles in a worker thread, which runs while this thread runs activities … write (the refresh
// is otherwise single-threaded). Its rows come back encoded, in CustomerId order, a batch at a
// time, and go on at once to the generation writer (GenerationWriter.writeEnrichments), which
// stores them alongside the write stage's rows. They used to be kept here until after the write
// stage: at 1M profiles some 300 MB of buffers, which V8 counts as this thread's external memory;
// its growth started full collections of the refresh's 1.6 GB heap (four, about 6 s of this
// thread's time) that could free nothing, and writing them took 2.6 s more at the end.
import type { Worker } from 'node:worker_threads';
import { encodedRowCount, enrichPacked, packProfiles, type EncodedEnrichments } from '../domain/enrich-batch.js';
import { type EnrichmentCounts, type EnrichmentPlan } from '../domain/enrich.js';
import type { CustomerRecord } from '../domain/profile.js';
import { startModuleWorker } from '../workers.js';
import { RefreshCancelled, throwIfCancelled, type StageEnv } from './context.js';
import type { EnrichWorkerInput, EnrichWorkerMessage } from './enrich-worker.js';

/** Below this many profiles a worker's start-up (~0.1–0.3 s) costs more than the overlap saves. */
export const ENRICH_WORKER_MIN_PROFILES = 20_000;

export interface EnrichStart {
  signal: AbortSignal;
  plan: EnrichmentPlan;
  customers: CustomerRecord[];
  /** Compute in a worker thread, else in this one when finished() is called. */
  worker: boolean;
}

/** Stores a batch of rows; resolves once it is stored. */
export type EnrichmentSink = (batch: EncodedEnrichments) => Promise<void>;

export interface ComputedEnrichments {
  counts: EnrichmentCounts;
  computeMs: number;
  /** CPU time of the worker thread, where the system tells it. */
  computeCpuMs: number | null;
}

/** Enrichments being computed, and stored as they come (writeTo); `finished()` once all are. */
export interface PendingEnrichment {
  readonly plan: EnrichmentPlan;
  readonly total: number;
  readonly inWorker: boolean;
  /** Time spent here packing the profiles for the computation. */
  readonly packMs: number;
  /** Rows computed so far. */
  computed(): number;
  /**
   * Where the rows go, in batches in CustomerId order (call once): from a worker each batch as it
   * arrives (those that came before are handed over now); else all of them in finished().
   */
  writeTo(sink: EnrichmentSink): void;
  /**
   * Resolves once every row is computed and stored by the sink; rejects if the computation or a
   * write failed, or the refresh was cancelled.
   */
  finished(): Promise<ComputedEnrichments>;
  /** Stops the computation (the refresh failed elsewhere). */
  stop(): void;
}

export function startEnrich(start: EnrichStart): PendingEnrichment {
  const { plan, signal } = start;
  const t0 = performance.now();
  const packed = packProfiles(plan, start.customers);
  const packMs = performance.now() - t0;
  const total = start.customers.length;
  const inWorker = start.worker;
  let computed = 0;
  let sink: EnrichmentSink | null = null;
  /** Batches that arrived before there was a sink. */
  let early: EncodedEnrichments[] = [];
  /** The sink's answers: looked at in finished(), not before. */
  const writes: Promise<void>[] = [];
  const write = (batch: EncodedEnrichments) => {
    const written = sink!(batch);
    written.catch(() => {});
    writes.push(written);
  };
  const writeTo = (to: EnrichmentSink) => {
    if (sink) throw new Error('the enrichments already have a sink');
    sink = to;
    for (const batch of early) write(batch);
    early = [];
  };
  const noSink = () => new Error('enrichments computed, but nothing was given to write them to (writeTo)');
  if (!inWorker) {
    return {
      plan,
      total,
      inWorker,
      packMs,
      computed: () => computed,
      writeTo,
      finished: async () => {
        throwIfCancelled(signal);
        if (!sink) throw noSink();
        const c0 = performance.now();
        const counts = enrichPacked(plan, packed, (batch) => {
          computed += encodedRowCount(batch);
          write(batch);
        });
        const computeMs = performance.now() - c0;
        await Promise.all(writes);
        return { counts, computeMs, computeCpuMs: null };
      },
      stop: () => {},
    };
  }
  let worker: Worker | null = startModuleWorker(new URL('./enrich-worker.js', import.meta.url), null);
  const stop = () => {
    signal.removeEventListener('abort', onAbort);
    void worker?.terminate();
    worker = null;
  };
  const onAbort = () => {
    stop();
    reject(new RefreshCancelled());
  };
  let resolve!: (r: ComputedEnrichments) => void;
  let reject!: (err: Error) => void;
  const result = new Promise<ComputedEnrichments>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Rejections are looked at in finished() (after the write stage), not before.
  result.catch(() => {});
  worker.on('message', (m: EnrichWorkerMessage) => {
    if (m.type === 'batch') {
      computed += encodedRowCount(m.batch);
      if (sink) write(m.batch);
      else early.push(m.batch);
    } else {
      stop();
      resolve({ counts: m.counts, computeMs: m.computeMs, computeCpuMs: m.computeCpuMs });
    }
  });
  worker.on('error', (err) => {
    stop();
    reject(new Error(`enrichment worker failed: ${err.message}`));
  });
  worker.on('exit', (code) => {
    if (!worker) return;
    stop();
    reject(new Error(`enrichment worker exited (code ${code}) before it finished`));
  });
  signal.addEventListener('abort', onAbort, { once: true });
  if (signal.aborted) onAbort();
  // The buffers move to the worker: nothing of the packed profiles stays here.
  worker?.postMessage({ plan, packed } satisfies EnrichWorkerInput, [...packed.bytes, ...packed.ends].map((b) => b.buffer as ArrayBuffer));
  const finished = async () => {
    const done = await result;
    if (!sink) throw noSink();
    await Promise.all(writes);
    return done;
  };
  return { plan, total, inWorker, packMs, computed: () => computed, writeTo, finished, stop };
}

export interface EnrichInput {
  enrichment: PendingEnrichment;
}

/**
 * Waits until every enrichment is computed and stored in the generation being built (handed to
 * its writer with PendingEnrichment.writeTo), and reports.
 */
export async function enrich(env: StageEnv, input: EnrichInput): Promise<void> {
  const { enrichment } = input;
  const { plan, total } = enrichment;
  const w0 = performance.now();
  // Progress while waiting: the rows computed so far.
  const ticker = setInterval(() => env.progress('enrich', enrichment.computed(), total), 250);
  let computed: ComputedEnrichments;
  try {
    computed = await enrichment.finished();
  } finally {
    clearInterval(ticker);
  }
  env.progress('enrich', total, total);
  const counts = env.report.counts;
  // inWorker 1: the computation ran in a worker thread from the end of merge on, overlapping the
  // stages in between (computeMs, computeCpuMs of that thread), and its rows were stored as they
  // came; this stage's duration spans that. Here (this thread) it cost packMs, and waitMs after
  // the write stage (for the last rows to be computed and stored).
  counts.inWorker = enrichment.inWorker ? 1 : 0;
  counts.packMs = Math.round(enrichment.packMs);
  counts.computeMs = Math.round(computed.computeMs);
  if (computed.computeCpuMs !== null) counts.computeCpuMs = computed.computeCpuMs;
  counts.waitMs = enrichment.inWorker ? Math.round(performance.now() - w0) : 0;
  counts.profiles = computed.counts.profiles;
  counts.fields = plan.inputs.length;
  counts.values = computed.counts.values;
  counts.unrecognized = computed.counts.invalid;
  counts.cacheHits = computed.counts.cacheHits;
  if (!plan.enabled) env.report.issues.add('enrichment is disabled in the definition (enrichment.enabled: false)');
  else if (!plan.inputs.length)
    env.report.issues.add('no field to enrich: give fields in enrichment (phone, email, name, postalCode, country) or semantic types to the source columns');
  for (const i of plan.inputs) {
    if (!env.instance.mergeFields.some((f) => f.name === i.field)) env.report.issues.add(`enrichment field '${i.field}' is not a unified field`);
  }
}
