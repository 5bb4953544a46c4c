// Starting worker threads from a module beside the caller: the .js file when built; run from source
// (tests, tsx), the .ts file through tsx's loader, which Node 20 does not pass on to worker threads.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';

/** `js`: the worker module's URL ending in .js (the built file); its .ts sibling is used from source. */
export function startModuleWorker(js: URL, workerData: unknown, resourceLimits?: ResourceLimits): Worker {
  if (existsSync(fileURLToPath(js))) return new Worker(js, { workerData, resourceLimits });
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const ts = js.href.replace(/\.js$/, '.ts');
  const boot = `import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(ts)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { workerData, resourceLimits });
}
