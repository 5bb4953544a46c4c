import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { startModuleWorker, startModuleWorkerWithHeap } from '../src/workers.js';

const HEAP_REPORT = new URL('./fixtures/workers/heap-report.js', import.meta.url);
const RETAIN_MIB = 256;

interface HeapReport {
  newSpaceMiB: number;
  majors: number;
}

async function heapReport(worker: Worker): Promise<HeapReport> {
  const [result] = (await once(worker, 'message')) as [HeapReport & { kept: number }];
  await worker.terminate();
  assert.equal(result.kept, RETAIN_MIB / 8);
  return result;
}

test('a worker started with heap flags gets them (no full collection below its initial old space, semi-spaces of their minimum size at start); workers started after it get V8 defaults again', async () => {
  const plainBefore = await heapReport(startModuleWorker(HEAP_REPORT, { retainMiB: RETAIN_MIB }));
  assert.ok(plainBefore.majors > 0, `a worker with V8's defaults collects while its old generation grows to ${RETAIN_MIB} MiB (made ${plainBefore.majors})`);
  assert.ok(plainBefore.newSpaceMiB < 16, `V8 starts with a small new space (${plainBefore.newSpaceMiB} MiB)`);
  const roomy = await heapReport(
    startModuleWorkerWithHeap(HEAP_REPORT, { retainMiB: RETAIN_MIB }, { maxYoungGenerationSizeMb: 96 }, { initialOldSpaceMiB: 1024, minSemiSpaceMiB: 32 }),
  );
  assert.equal(roomy.majors, 0);
  assert.ok(roomy.newSpaceMiB >= 32, `new space at start: ${roomy.newSpaceMiB} MiB`);
  const plainAfter = await heapReport(startModuleWorker(HEAP_REPORT, { retainMiB: RETAIN_MIB }));
  assert.ok(plainAfter.majors > 0, `the flags were reset for the next worker (it made ${plainAfter.majors} full collections)`);
  assert.ok(plainAfter.newSpaceMiB < 16, `new space at start: ${plainAfter.newSpaceMiB} MiB`);
});
