// The enrich stage's computation in a thread of its own (see enrich.ts): gets the packed profiles
// in one message, sends the encoded rows back a batch at a time (their buffers transferred, not
// copied), then its counts.
import { readFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { enrichPacked, type EncodedEnrichments, type PackedProfiles } from '../domain/enrich-batch.js';
import type { EnrichmentCounts, EnrichmentPlan } from '../domain/enrich.js';

export interface EnrichWorkerInput {
  plan: EnrichmentPlan;
  packed: PackedProfiles;
}

export type EnrichWorkerMessage =
  | { type: 'batch'; batch: EncodedEnrichments }
  | { type: 'done'; counts: EnrichmentCounts; computeMs: number; computeCpuMs: number | null };

/** CPU time of this thread in ms where the system tells it (Linux: /proc, in 1/100 s), else null. */
function threadCpuMs(): number | null {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

const port = parentPort!;
port.once('message', ({ plan, packed }: EnrichWorkerInput) => {
  const t0 = performance.now();
  const cpu0 = threadCpuMs();
  const counts = enrichPacked(plan, packed, (batch) => {
    port.postMessage({ type: 'batch', batch } satisfies EnrichWorkerMessage, [batch.bytes.buffer as ArrayBuffer, batch.offsets.buffer as ArrayBuffer]);
  });
  // No listener left: the thread ends once this is sent.
  const cpu1 = threadCpuMs();
  const computeCpuMs = cpu0 === null || cpu1 === null ? null : cpu1 - cpu0;
  port.postMessage({ type: 'done', counts, computeMs: performance.now() - t0, computeCpuMs } satisfies EnrichWorkerMessage);
});
