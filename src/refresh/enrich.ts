// Stage enrich: phone numbers, email domains, names, postal codes and countries of every unified
// profile, written into the generation being built (readers switch to them with its commit; a
// failed refresh changes nothing). Pure functions with a cache per distinct value: no network.
//
// The computation needs only the merged profiles, so it starts right after merge: for many
// profiles in a worker thread, which runs while this thread runs activities … write (the refresh
// is otherwise single-threaded). Its rows come back encoded, in CustomerId order, and are written
// here after the write stage, on the connection that owns the generation.
import type { Worker } from 'node:worker_threads';
import { encodedRowCount, enrichPacked, packProfiles, type EncodedEnrichments } from '../domain/enrich-batch.js';
import { type EnrichmentCounts, type EnrichmentPlan } from '../domain/enrich.js';
import type { CustomerRecord } from '../domain/profile.js';
import type { Store } from '../storage/store.js';
import { startModuleWorker } from '../workers.js';
import { RefreshCancelled, throwIfCancelled, yieldToEventLoop, type StageEnv } from './context.js';
import type { EnrichWorkerInput, EnrichWorkerMessage } from './enrich-worker.js';

/** Below this many profiles a worker's start-up (~0.1–0.3 s) costs more than the overlap saves. */
export const ENRICH_WORKER_MIN_PROFILES = 20_000;

export interface EnrichStart {
  signal: AbortSignal;
  plan: EnrichmentPlan;
  customers: CustomerRecord[];
  /** Compute in a worker thread, else in this one when the rows are asked for. */
  worker: boolean;
}

export interface ComputedEnrichments {
  batches: EncodedEnrichments[];
  counts: EnrichmentCounts;
  computeMs: number;
  /** CPU time of the worker thread, where the system tells it. */
  computeCpuMs: number | null;
}

/** Enrichments being computed; `rows()` gives them once all are there. */
export interface PendingEnrichment {
  readonly plan: EnrichmentPlan;
  readonly total: number;
  readonly inWorker: boolean;
  /** Time spent here packing the profiles for the computation. */
  readonly packMs: number;
  /** Rows computed so far. */
  computed(): number;
  /** Every row, in batches in CustomerId order; rejects if the computation failed or the refresh was cancelled. */
  rows(): Promise<ComputedEnrichments>;
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
  const batches: EncodedEnrichments[] = [];
  let computed = 0;
  const keep = (batch: EncodedEnrichments) => {
    batches.push(batch);
    computed += encodedRowCount(batch);
  };
  if (!inWorker) {
    return {
      plan,
      total,
      inWorker,
      packMs,
      computed: () => computed,
      rows: async () => {
        throwIfCancelled(signal);
        const c0 = performance.now();
        const counts = enrichPacked(plan, packed, keep);
        return { batches, counts, computeMs: performance.now() - c0, computeCpuMs: null };
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
  // Rejections are looked at when the rows are asked for (after the write stage), not before.
  result.catch(() => {});
  worker.on('message', (m: EnrichWorkerMessage) => {
    if (m.type === 'batch') keep(m.batch);
    else {
      stop();
      resolve({ batches, counts: m.counts, computeMs: m.computeMs, computeCpuMs: m.computeCpuMs });
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
  return { plan, total, inWorker, packMs, computed: () => computed, rows: () => result, stop };
}

export interface EnrichInput {
  store: Store;
  generation: number;
  enrichment: PendingEnrichment;
}

/** Waits for the enrichments (if the worker is not done yet) and writes them into the generation. */
export async function enrich(env: StageEnv, input: EnrichInput): Promise<void> {
  const { enrichment } = input;
  const { plan, total } = enrichment;
  const w0 = performance.now();
  // Progress while waiting: the worker's rows so far.
  const ticker = enrichment.inWorker ? setInterval(() => env.progress('enrich', enrichment.computed(), total), 250) : undefined;
  let computed: ComputedEnrichments;
  try {
    computed = await enrichment.rows();
  } finally {
    clearInterval(ticker);
  }
  const waitMs = performance.now() - w0;
  let written = 0;
  const t0 = performance.now();
  for (let i = 0; i < computed.batches.length; i++) {
    throwIfCancelled(env.signal);
    const batch = computed.batches[i];
    await input.store.enrichment.write(env.instance.id, input.generation, batch);
    // Written: let the buffer go.
    computed.batches[i] = undefined as never;
    written += encodedRowCount(batch);
    env.progress('enrich', written, total);
    await yieldToEventLoop();
  }
  const counts = env.report.counts;
  // inWorker 1: the computation ran in a worker thread from the end of merge on, overlapping the
  // stages in between (computeMs, computeCpuMs of that thread); this stage's duration spans
  // that. Here (this thread) it cost packMs, waitMs (for the worker, after write) and writeMs.
  counts.inWorker = enrichment.inWorker ? 1 : 0;
  counts.packMs = Math.round(enrichment.packMs);
  counts.computeMs = Math.round(computed.computeMs);
  if (computed.computeCpuMs !== null) counts.computeCpuMs = computed.computeCpuMs;
  counts.waitMs = enrichment.inWorker ? Math.round(waitMs) : 0;
  counts.writeMs = Math.round(performance.now() - t0);
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
