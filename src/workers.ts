// Starting worker threads and child processes from a module beside the caller: the .js file when
// built; run from source (tests, tsx), the .ts file through tsx's loader, which Node 20 does not
// pass on to worker threads.
import { fork, type ChildProcess } from 'node:child_process';
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
 * A module beside the caller in a process of its own, with an IPC channel and these Node/V8 flags
 * (the built .js file; from source, the .ts file through tsx's loader).
 */
export function forkModule(js: URL, execArgv: string[]): ChildProcess {
  const file = fileURLToPath(js);
  if (existsSync(file)) return fork(file, [], { execArgv, serialization: 'advanced' });
  return fork(file.replace(/\.js$/, '.ts'), [], { execArgv: ['--import', import.meta.resolve('tsx'), ...execArgv], serialization: 'advanced' });
}

/**
 * In a process started with heap flags for its own main thread (a refresh): worker threads it
 * starts from here on get V8's defaults. V8 reads these flags when it creates an isolate.
 */
export function useDefaultHeapFlagsForNewThreads(): void {
  setFlagsFromString('--initial-old-space-size=0 --min-semi-space-size=0 --max-semi-space-size=0');
}
