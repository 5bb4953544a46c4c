// Starting worker threads from a module beside the caller: the .js file when built; run from source
// (tests, tsx), the .ts file through tsx's loader, which Node 20 does not pass on to worker threads.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { Worker, type ResourceLimits } from 'node:worker_threads';

/** `js`: the worker module's URL ending in .js (the built file); its .ts sibling is used from source. */
export function startModuleWorker(js: URL, workerData: unknown, resourceLimits?: ResourceLimits): Worker {
  if (existsSync(fileURLToPath(js))) return new Worker(js, { workerData, resourceLimits });
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const ts = js.href.replace(/\.js$/, '.ts');
  const boot = `import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(ts)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { workerData, resourceLimits });
}

/**
 * Heap settings of a worker that Node's resourceLimits cannot give. V8 reads them as flags when
 * it creates an isolate, so they are set for the worker's and reset once the worker runs: other
 * threads keep V8's defaults. (A thread another caller starts in between gets them too: that
 * costs it memory for a while, never correctness.)
 */
export interface WorkerHeapFlags {
  /** No full (mark-compact) collection before the old generation holds this much. */
  initialOldSpaceMiB: number;
  /** Semi-spaces of the young generation start at this size instead of growing to it. */
  minSemiSpaceMiB: number;
}

function setHeapFlags(flags: WorkerHeapFlags): void {
  setFlagsFromString(`--initial-old-space-size=${flags.initialOldSpaceMiB} --min-semi-space-size=${flags.minSemiSpaceMiB}`);
}

/** Isolates created from here on get V8's defaults for the flags above. */
export function useDefaultHeapFlags(): void {
  setHeapFlags({ initialOldSpaceMiB: 0, minSemiSpaceMiB: 0 });
}

export function startModuleWorkerWithHeap(js: URL, workerData: unknown, resourceLimits: ResourceLimits, heap: WorkerHeapFlags): Worker {
  setHeapFlags(heap);
  let worker: Worker;
  try {
    worker = startModuleWorker(js, workerData, resourceLimits);
  } catch (err) {
    useDefaultHeapFlags();
    throw err;
  }
  worker.once('online', useDefaultHeapFlags);
  worker.once('exit', useDefaultHeapFlags);
  return worker;
}
