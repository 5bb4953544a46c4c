// The enrich stage's computation in a thread of its own (see enrich.ts): gets the packed profiles
// in one message, sends the encoded rows back a batch at a time (their buffers transferred, not
// copied), then its counts.
import { parentPort } from 'node:worker_threads';
import { enrichPacked, type EncodedEnrichments, type PackedProfiles } from '../domain/enrich-batch.js';
import type { EnrichmentCounts, EnrichmentPlan } from '../domain/enrich.js';

export interface EnrichWorkerInput {
  plan: EnrichmentPlan;
  packed: PackedProfiles;
}

export type EnrichWorkerMessage =
  | { type: 'batch'; batch: EncodedEnrichments }
  | { type: 'done'; counts: EnrichmentCounts; computeMs: number };

const port = parentPort!;
port.once('message', ({ plan, packed }: EnrichWorkerInput) => {
  const t0 = performance.now();
  const counts = enrichPacked(plan, packed, (batch) => {
    port.postMessage({ type: 'batch', batch } satisfies EnrichWorkerMessage, [batch.bytes.buffer as ArrayBuffer, batch.offsets.buffer as ArrayBuffer]);
  });
  // No listener left: the thread ends once this is sent.
  port.postMessage({ type: 'done', counts, computeMs: performance.now() - t0 } satisfies EnrichWorkerMessage);
});
