/**
 * CPU cost of the real-time write path, in process: the app (buildApp + openServices on a temp
 * data dir with the demo instance) driven through inject(), so there is no HTTP parsing and no
 * load generator on the same cores. Reports CPU time (user + system) per request or item, which
 * stays comparable when the machine is busy, unlike requests per second.
 *
 *   node --import tsx bench/realtime-cost.ts [--requests 20000] [--batches 40] [--batch-size 1000] [--concurrency 50]
 *        [--batch-connections 10] [--worker] [--only single|batch]
 *
 * --worker runs the writes in the real-time writer thread, as `kindred serve` does; the CPU
 * figures include that thread (process.cpuUsage counts every thread of the process). On Linux the
 * main thread's share is shown apart ("main"): HTTP handling, validation and hooks run there.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildApp } from '../src/api/app.js';
import { generateKey, registerKey } from '../src/api/auth.js';
import { applyDemo } from '../src/cli/commands/serve.js';
import { openServices } from '../src/services.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const requests = opt('requests', 20000);
const batches = opt('batches', 40);
const batchSize = opt('batch-size', 1000);
const concurrency = opt('concurrency', 50);
const batchConnections = opt('batch-connections', 10);
const inWorker = argv.includes('--worker');
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;

const dir = mkdtempSync(path.join(os.tmpdir(), 'kindred-cost-'));
const services = await openServices({ dataDir: path.join(dir, 'data'), sweepIntervalMs: 0, realtimeInWorker: inWorker });
await applyDemo(services, () => {});
const key = generateKey();
await registerKey(services.store, key, { instanceId: null, role: 'Administrator', name: 'cost' });
const app = await buildApp({ services });
await app.ready();
const ids = (await services.store.queryEntity('demo', 'Customer', { attributes: { CustomerId: 'string' }, orderby: [], top: 1000, skip: 0, count: false }, new Date().toISOString())).rows.map(
  (r) => r.CustomerId as string,
);
const headers = { 'content-type': 'application/json', 'ocp-apim-subscription-key': key };
let seq = 0;
const activity = () => {
  const n = seq++;
  return {
    ActivityId: `cost-${n}-${(n * 2654435761) % 4294967296}`,
    CustomerId: ids[n % ids.length],
    ActivityTime: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString(),
    ActivityType: 'PageView',
    Title: 'bench page view',
    Url: `https://example.com/p/${n % 97}`,
  };
};

/** CPU time of the main thread in µs (Linux /proc, 10 ms ticks); null elsewhere. */
function mainThreadCpuUs(): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return null;
  }
}

async function measure(name: string, items: number, run: () => Promise<void>): Promise<void> {
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuUs();
  const t0 = performance.now();
  await run();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const main1 = mainThreadCpuUs();
  const cpuUs = cpu.user + cpu.system;
  console.log(
    `${name.padEnd(28)} ${items.toLocaleString('en-US').padStart(8)} items  CPU ${(cpuUs / items).toFixed(1).padStart(6)} µs/item` +
      `  (user ${(cpu.user / items).toFixed(1)}, sys ${(cpu.system / items).toFixed(1)}` +
      `${main0 !== null && main1 !== null ? `, main ${((main1 - main0) / items).toFixed(1)}` : ''})  wall ${(wallMs * 1000 / items).toFixed(1)} µs/item`,
  );
}

async function inParallel(total: number, send: (i: number) => Promise<number>, expected: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const status = await send(next++);
      if (status !== expected) throw new Error(`status ${status}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

const dataPath = '/api/instances/demo/data';
// Warm-up, so that JIT and statement caches are in place.
await inParallel(2000, async () => (await app.inject({ method: 'POST', url: `${dataPath}/UnifiedActivity`, headers, payload: JSON.stringify(activity()) })).statusCode, 201);

if (only !== 'batch') {
  await measure('POST UnifiedActivity', requests, () =>
    inParallel(requests, async () => (await app.inject({ method: 'POST', url: `${dataPath}/UnifiedActivity`, headers, payload: JSON.stringify(activity()) })).statusCode, 201),
  );
  await measure('PATCH Customer', requests, () =>
    inParallel(
      requests,
      async (i) =>
        (await app.inject({ method: 'PATCH', url: `${dataPath}/Customer/${ids[i % ids.length]}`, headers, payload: JSON.stringify({ FirstName: `N${i}` }) })).statusCode,
      204,
    ),
  );
}
if (only !== 'single') {
  const bodies = Array.from({ length: batches }, () => JSON.stringify(Array.from({ length: batchSize }, activity)));
  await measure(`$batch (${batchSize} per request)`, batches * batchSize, async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: batchConnections }, async () => {
        while (next < batches) {
          const res = await app.inject({ method: 'POST', url: `${dataPath}/UnifiedActivity/$batch`, headers, payload: bodies[next++] });
          if (res.statusCode !== 200) throw new Error(`$batch status ${res.statusCode}: ${res.body.slice(0, 200)}`);
          const body = res.json() as { failed: number };
          if (body.failed) throw new Error(`$batch: ${body.failed} items failed`);
        }
      }),
    );
  });
}
await app.close();
await services.close();
rmSync(dir, { recursive: true, force: true });
