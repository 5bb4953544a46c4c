/**
 * Soak test: sustained real-time ingest and reads while refreshes of 100k generated records run,
 * for N minutes.
 *
 *   npm run soak -- --minutes 10 [--interval 10] [--records 100000] [--write-rate 300] [--read-rate 300]
 *                   [--batch-rate 1] [--batch-size 500] [--connections 16] [--refresh-gap 0] [--quiet-intervals 1] [--no-report]
 *                   [--filter-index City,Email]   (adds a filterIndex to the instance definition)
 *                   [--reader-threads N]          (the server's SQLite reader threads; 0: queries on the main thread)
 *
 * 1. Source data: bench/out/data-<records>-seed42 (the same files bench/refresh.ts uses; generated once
 *    and reused).
 * 2. The server: `kindred serve` (bench/soak-server.ts: serve() plus its memory over IPC each second) on a
 *    temp data dir with the generated instance registered; a first refresh builds the profiles.
 * 3. For N minutes, at fixed rates (autocannon, one run per interval so that each interval has its own
 *    latency percentiles):
 *      writes  POST UnifiedActivity, PATCH Customer/{id}, POST eCommerce_eCommercePurchases (source format), in turn
 *      reads   GET Customer/{id}, GET Customer?$filter=CustomerId eq '…', GET Customer?$filter=City eq '…'&$top=10
 *      batch   POST UnifiedActivity/$batch of --batch-size activities
 *    and meanwhile refreshes of the instance back to back (--refresh-gap seconds between them), except in the
 *    first --quiet-intervals intervals (the same load without a refresh, for comparison).
 * 4. Per interval: throughput, p50/p99 latency per stream, errors (any answer other than the expected 2xx
 *    or a 429, socket errors, timeouts, failed $batch items), RSS and heap of the server.
 * 5. Memory must not grow without bound. Refreshes make RSS a saw-tooth, so the loaded part of the run is
 *    cut in two halves, each of which must contain a completed refresh (else the verdict is "inconclusive"
 *    and the run fails): the peak RSS of the second half may exceed the first's by at most
 *    max(10 %, 64 MiB), the lowest main-thread heap by at most max(10 %, 32 MiB). The regression slope
 *    over the second half is reported as well.
 * Writes bench/results/soak-<date>.json and the "## Soak" section of BENCHMARKS.md (--no-report: neither);
 * exits 1 when there were errors or memory grew.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSyntheticSources, type GenerateResult } from '../src/synthetic/generate.js';
import { readAll, startServer, type ServerProcess } from '../test/proof/server-process.js';
import { autocannon, type AcOptions, type AcRequest, type AcResult } from './realtime-autocannon.js';
import { machine, updateBenchmarksMd } from './report.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'bench', 'out');
const RESULTS = path.join(ROOT, 'bench', 'results');
const SEED = 42;
const MARKER = '.kindred-bench-complete.json';
const SECTION = '## Soak (real-time load during refreshes)';
const MiB = 1024 ** 2;

// --- arguments ----------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const option = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const num = (name: string, fallback: number, min = 0): number => {
  const raw = option(name);
  if (raw === undefined) return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name}: expected a number >= ${min}, got ${raw}`);
  return n;
};
const minutes = num('minutes', 10, 0.25);
const intervalS = Math.round(num('interval', 10, 2));
const records = Math.round(num('records', 100_000, 1000));
const writeRate = num('write-rate', 300, 1);
const readRate = num('read-rate', 300, 1);
const batchRate = num('batch-rate', 1, 0);
const batchSize = Math.round(num('batch-size', 500, 1));
const connections = Math.round(num('connections', 16, 1));
const refreshGapS = num('refresh-gap', 0, 0);
/** Intervals at the start without a refresh: the same load on a quiet server, for comparison. */
const quietIntervals = Math.round(num('quiet-intervals', 1, 0));
const writeReport = !flag('no-report');
/** --filter-index City,Email: the instance is applied with these attributes in its filterIndex. */
const filterIndex = (option('filter-index') ?? '').split(',').filter(Boolean);
/** --reader-threads N: the server's reader threads (default: as `kindred serve`; 0: queries on the main thread). */
const readerThreads = option('reader-threads');
const command = `npm run soak${argv.length ? ' -- ' + argv.join(' ') : ''}`;
const started = Date.now();
const log = (msg: string) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(7)} s] ${msg}\n`);

// --- data ---------------------------------------------------------------------------------------
async function ensureData(size: number): Promise<{ dir: string; result: GenerateResult }> {
  const dir = path.join(OUT, `data-${size}-seed${SEED}`);
  const marker = path.join(dir, MARKER);
  if (existsSync(marker)) {
    const saved = JSON.parse(readFileSync(marker, 'utf8')) as { result: GenerateResult };
    if (saved.result.customerRecords === size && saved.result.files.every((f) => existsSync(f))) {
      log(`data: reusing ${path.relative(ROOT, dir)}`);
      return { dir, result: saved.result };
    }
  }
  rmSync(dir, { recursive: true, force: true });
  log(`data: generating ${size} records into ${path.relative(ROOT, dir)} …`);
  const t0 = performance.now();
  const result = await generateSyntheticSources({ outDir: dir, records: size, seed: SEED, instanceId: 'bench' });
  const generateMs = performance.now() - t0;
  writeFileSync(marker, JSON.stringify({ seed: SEED, records: size, generatedAt: new Date().toISOString(), generateMs, result }, null, 2));
  log(`data: ${result.customerRecords} customer records, ${result.activityRecords} activities in ${(generateMs / 1000).toFixed(1)} s`);
  return { dir, result };
}

// --- statistics ---------------------------------------------------------------------------------
/** Least-squares slope (y per x unit) and mean. */
function regression(points: { x: number; y: number }[]): { slope: number; mean: number } {
  const n = points.length;
  if (n < 2) return { slope: 0, mean: points[0]?.y ?? 0 };
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return { slope: den ? num / den : 0, mean: my };
}

const SPARK = '▁▂▃▄▅▆▇█';
function sparkline(values: number[]): string {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return values.map((v) => SPARK[hi > lo ? Math.min(7, Math.floor(((v - lo) / (hi - lo)) * 8)) : 3]).join('');
}
const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtMs = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

// --- load ---------------------------------------------------------------------------------------
type StreamKey = 'writes' | 'reads' | 'batch';
interface StreamInterval {
  requests: number;
  requestsPerSecond: number;
  itemsPerSecond: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  throttled: number;
  statusCodes: Record<string, number>;
  errorSample?: string;
}
interface MemorySample {
  at: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}
interface Interval {
  index: number;
  /** Seconds since the soak started (end of the interval). */
  t: number;
  streams: Partial<Record<StreamKey, StreamInterval>>;
  memory: { rssMaxMiB: number; rssMeanMiB: number; heapUsedMinMiB: number; heapUsedMaxMiB: number; samples: number };
  refreshRunning: boolean;
  refreshesCompleted: number;
  /** Before the first refresh of the soak (the quiet comparison). */
  quiet: boolean;
}
interface RefreshRecord {
  jobId: string;
  status: string;
  startedAt: string;
  durationS: number;
  error?: string | null;
}

interface Stream {
  key: StreamKey;
  rate: number;
  connections: number;
  expected: number;
  itemsPerRequest: number;
  requests: () => { list: AcRequest[]; stats: { itemsFailed: number; itemsOk: number; sample?: string } };
}

function summarise(s: Stream, r: AcResult, stats: { itemsFailed: number; itemsOk: number; sample?: string }): StreamInterval {
  const statusCodes = Object.fromEntries(Object.entries(r.statusCodeStats).map(([k, v]) => [k, v.count]));
  let errors = r.errors + r.timeouts + stats.itemsFailed;
  let throttled = 0;
  for (const [code, count] of Object.entries(statusCodes)) {
    if (code === '429') throttled += count;
    else if (!(s.key === 'writes' ? Number(code) >= 200 && Number(code) < 300 : Number(code) === s.expected)) errors += count;
  }
  return {
    requests: r.requests.total,
    requestsPerSecond: r.requests.total / r.duration,
    itemsPerSecond: s.key === 'batch' ? stats.itemsOk / r.duration : r.requests.total / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    max: r.latency.max,
    errors,
    throttled,
    statusCodes,
    ...(stats.sample ? { errorSample: stats.sample } : {}),
  };
}

async function main(): Promise<number> {
  const m = machine();
  log(`soak: ${minutes} min, ${intervalS} s intervals; writes ${writeRate}/s, reads ${readRate}/s, $batch ${batchRate}/s × ${batchSize}; ${records} records; ${m.cores} cores, Node ${m.node}`);
  const { result } = await ensureData(records);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'kindred-soak-'));
  const dataDir = path.join(tmp, 'data');
  const key = `kdr_soak_${randomBytes(16).toString('hex')}`;
  let server: ServerProcess | undefined;
  const memory: MemorySample[] = [];
  try {
    // With a filter index: a copy of the definition beside it (its paths are relative to its folder).
    let instanceFile = result.instanceFile;
    if (filterIndex.length) {
      instanceFile = path.join(path.dirname(result.instanceFile), 'instance-filter-index.yaml');
      writeFileSync(instanceFile, `${readFileSync(result.instanceFile, 'utf8')}\nfilterIndex: [${filterIndex.join(', ')}]\n`);
    }
    const apply = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'cli', 'main.ts'), 'instance', 'apply', instanceFile, '--data-dir', dataDir], { cwd: ROOT, encoding: 'utf8' });
    if (apply.status !== 0) throw new Error(`kindred instance apply failed: ${apply.stderr}`);
    server = await startServer({
      dataDir,
      adminKey: key,
      script: path.join(ROOT, 'bench', 'soak-server.ts'),
      ipc: true,
      ...(readerThreads !== undefined ? { env: { KINDRED_READER_THREADS: readerThreads } } : {}),
    });
    server.proc.on('message', (msg) => memory.push(msg as MemorySample));
    log(`server ${server.url} (pid ${server.pid})`);
    const auth = { 'Ocp-Apim-Subscription-Key': key };
    const base = `${server.url}/api/instances/bench`;

    // Refreshes through the jobs API.
    const startRefresh = async (): Promise<string> => {
      const res = await fetch(`${base}/workflows/main/jobs`, { method: 'POST', headers: auth });
      const body = (await res.json()) as { jobId: string };
      if (res.status !== 202) throw new Error(`starting a refresh: ${res.status} ${JSON.stringify(body)}`);
      return body.jobId;
    };
    const jobOf = async (jobId: string) => {
      const res = await fetch(`${base}/workflows/main/jobs/${jobId}`, { headers: auth });
      return (await res.json()) as { jobStatus: string; startTimestamp: string | null; endTimestamp: string | null; error: string | null };
    };
    const waitJob = async (jobId: string, stop?: () => boolean) => {
      for (;;) {
        const job = await jobOf(jobId);
        if (!['queued', 'running'].includes(job.jobStatus) || stop?.()) return job;
        await new Promise((r) => setTimeout(r, 1000));
      }
    };
    let t0 = Date.now();
    const first = await waitJob(await startRefresh());
    if (first.jobStatus !== 'successful') throw new Error(`first refresh ${first.jobStatus}: ${first.error}`);
    const firstRefreshS = (Date.now() - t0) / 1000;
    log(`first refresh: ${firstRefreshS.toFixed(1)} s`);
    const customers = await readAll<{ CustomerId: string; eCommerce_eCommerceContacts_ContactId: string | null; City: string | null }>(
      `${base}/data/Customer?$select=CustomerId,eCommerce_eCommerceContacts_ContactId,City&$top=1000`,
      key,
    );
    const ids = customers.map((c) => c.CustomerId);
    const contactIds = customers.map((c) => c.eCommerce_eCommerceContacts_ContactId).filter((x): x is string => !!x);
    const cities = [...new Set(customers.map((c) => c.City).filter((x): x is string => !!x))].slice(0, 200);
    log(`${ids.length} profiles, ${contactIds.length} with an eCommerce contact, ${cities.length} cities sampled`);

    // --- the streams ---
    const runId = randomBytes(3).toString('hex');
    let seq = 0;
    const headers = { ...auth, 'content-type': 'application/json' };
    const activity = (prefix: string) => {
      const n = seq++;
      return { ActivityId: `${prefix}-${runId}-${n}`, CustomerId: ids[n % ids.length], ActivityTime: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString(), ActivityType: 'PageView', Title: 'soak page view', Url: `https://example.com/p/${n % 97}` };
    };
    const dataPath = '/api/instances/bench/data';
    const streams: Stream[] = [
      {
        key: 'writes',
        rate: writeRate,
        connections,
        expected: 201,
        itemsPerRequest: 1,
        requests: () => ({
          stats: { itemsFailed: 0, itemsOk: 0 },
          list: [
            { method: 'POST', headers, setupRequest: (req) => ({ ...req, method: 'POST', path: `${dataPath}/UnifiedActivity`, body: JSON.stringify(activity('soak')) }) },
            {
              method: 'PATCH',
              headers,
              setupRequest: (req) => {
                const n = seq++;
                return { ...req, method: 'PATCH', path: `${dataPath}/Customer/${encodeURIComponent(ids[n % ids.length])}`, body: JSON.stringify({ City: `Soak City ${n % 1000}`, LoyaltyTier: `T${n % 5}` }) };
              },
            },
            {
              method: 'POST',
              headers,
              setupRequest: (req) => {
                const n = seq++;
                const body = { PurchaseId: `SOAK-${runId}-${n}`, ContactId: contactIds[n % contactIds.length], PurchasedOn: new Date(Date.UTC(2026, 1, 1) + n * 1000).toISOString(), ProductName: 'Soak Mug', Quantity: 1, TotalPrice: 9.5 };
                return { ...req, method: 'POST', path: `${dataPath}/eCommerce_eCommercePurchases`, body: JSON.stringify(body) };
              },
            },
          ],
        }),
      },
      {
        key: 'reads',
        rate: readRate,
        connections,
        expected: 200,
        itemsPerRequest: 1,
        requests: () => ({
          stats: { itemsFailed: 0, itemsOk: 0 },
          list: [
            { method: 'GET', headers: auth, setupRequest: (req) => ({ ...req, method: 'GET', path: `${dataPath}/Customer/${encodeURIComponent(ids[seq++ % ids.length])}` }) },
            { method: 'GET', headers: auth, setupRequest: (req) => ({ ...req, method: 'GET', path: `${dataPath}/Customer?$filter=${encodeURIComponent(`CustomerId eq '${ids[seq++ % ids.length]}'`)}` }) },
            {
              method: 'GET',
              headers: auth,
              setupRequest: (req) => ({ ...req, method: 'GET', path: `${dataPath}/Customer?$filter=${encodeURIComponent(`City eq '${cities[seq++ % cities.length].replace(/'/g, "''")}'`)}&$top=10` }),
            },
          ],
        }),
      },
    ];
    if (batchRate > 0)
      streams.push({
        key: 'batch',
        rate: batchRate,
        connections: Math.max(1, Math.ceil(batchRate)),
        expected: 200,
        itemsPerRequest: batchSize,
        requests: () => {
          const stats: { itemsFailed: number; itemsOk: number; sample?: string } = { itemsFailed: 0, itemsOk: 0 };
          return {
            stats,
            list: [
              {
                method: 'POST',
                headers,
                setupRequest: (req) => ({ ...req, method: 'POST', path: `${dataPath}/UnifiedActivity/$batch`, body: JSON.stringify(Array.from({ length: batchSize }, () => activity('soakb'))) }),
                onResponse: (status, body) => {
                  if (status !== 200) {
                    if (status !== 429) stats.sample ??= `${status}: ${body.slice(0, 200)}`;
                    return;
                  }
                  const r = JSON.parse(body) as { succeeded: number; failed: number; value: { status: number }[] };
                  stats.itemsOk += r.succeeded;
                  stats.itemsFailed += r.failed;
                  if (r.failed) stats.sample ??= JSON.stringify(r.value.find((v) => v.status >= 300)).slice(0, 200);
                },
              },
            ],
          };
        },
      });

    // --- refreshes back to back ---
    let soaking = true;
    let refreshRunning = false;
    const refreshes: RefreshRecord[] = [];
    let quietOver: () => void = () => {};
    const quiet = new Promise<void>((r) => (quietOver = r));
    const refreshLoop = (async () => {
      await quiet;
      while (soaking) {
        const at = Date.now();
        const jobId = await startRefresh();
        refreshRunning = true;
        const job = await waitJob(jobId, () => !soaking);
        refreshRunning = false;
        if (['queued', 'running'].includes(job.jobStatus)) break; // the soak ended first
        refreshes.push({ jobId, status: job.jobStatus, startedAt: new Date(at).toISOString(), durationS: (Date.now() - at) / 1000, error: job.error });
        log(`refresh ${jobId}: ${job.jobStatus} in ${((Date.now() - at) / 1000).toFixed(1)} s${job.error ? ` (${job.error})` : ''}`);
        if (refreshGapS) await new Promise((r) => setTimeout(r, refreshGapS * 1000));
      }
    })();

    // --- intervals ---
    const intervals: Interval[] = [];
    const count = Math.max(1, Math.round((minutes * 60) / intervalS));
    t0 = Date.now();
    for (let i = 0; i < count; i++) {
      if (i === quietIntervals) quietOver();
      const fromSample = memory.length;
      const runs = streams.map((s) => {
        const { list, stats } = s.requests();
        const options: AcOptions & { overallRate: number } = { url: server!.url, connections: s.connections, duration: intervalS, timeout: 30, requests: list, overallRate: s.rate, title: s.key };
        return Promise.resolve(autocannon(options)).then((r) => [s.key, summarise(s, r, stats)] as const);
      });
      const done = Object.fromEntries(await Promise.all(runs)) as Partial<Record<StreamKey, StreamInterval>>;
      const samples = memory.slice(fromSample);
      const mem = samples.length
        ? {
            rssMaxMiB: Math.max(...samples.map((x) => x.rss)) / MiB,
            rssMeanMiB: samples.reduce((s, x) => s + x.rss, 0) / samples.length / MiB,
            heapUsedMinMiB: Math.min(...samples.map((x) => x.heapUsed)) / MiB,
            heapUsedMaxMiB: Math.max(...samples.map((x) => x.heapUsed)) / MiB,
            samples: samples.length,
          }
        : { rssMaxMiB: NaN, rssMeanMiB: NaN, heapUsedMinMiB: NaN, heapUsedMaxMiB: NaN, samples: 0 };
      const iv: Interval = { index: i, t: (Date.now() - t0) / 1000, streams: done, memory: mem, refreshRunning, refreshesCompleted: refreshes.length, quiet: i < quietIntervals };
      intervals.push(iv);
      const w = done.writes!;
      const r = done.reads!;
      const b = done.batch;
      log(
        `#${String(i + 1).padStart(3)} ${iv.t.toFixed(0).padStart(5)} s | writes ${fmtInt(w.requestsPerSecond)}/s p50 ${fmtMs(w.p50)} p99 ${fmtMs(w.p99)} ms | ` +
          `reads ${fmtInt(r.requestsPerSecond)}/s p50 ${fmtMs(r.p50)} p99 ${fmtMs(r.p99)} ms | ` +
          (b ? `batch ${fmtInt(b.itemsPerSecond)} act/s p99 ${fmtMs(b.p99)} ms | ` : '') +
          `errors ${w.errors + r.errors + (b?.errors ?? 0)}, 429 ${w.throttled + r.throttled + (b?.throttled ?? 0)} | ` +
          `RSS ${fmtInt(mem.rssMaxMiB)} MiB, heap ${fmtInt(mem.heapUsedMinMiB)}–${fmtInt(mem.heapUsedMaxMiB)} MiB | ${iv.quiet ? 'no refresh yet (quiet comparison)' : `refresh ${refreshRunning ? 'running' : 'idle'}, ${refreshes.length} done`}`,
      );
    }
    soaking = false;
    quietOver();
    await refreshLoop;

    // --- verdict ---
    // Memory: refreshes make RSS a saw-tooth (the worker's allocations come and go), so the check compares
    // like with like: the peak RSS and the lowest heap of the first and the second half of the loaded part
    // of the run (each half must contain a completed refresh; otherwise the run is too short to judge).
    // The regression slope over the second half is reported too.
    const loaded = intervals.filter((iv) => !iv.quiet && iv.memory.samples > 0);
    const halves = [loaded.slice(0, Math.floor(loaded.length / 2)), loaded.slice(Math.floor(loaded.length / 2))];
    const refreshEnds = refreshes.map((r) => (Date.parse(r.startedAt) + r.durationS * 1000 - t0) / 1000);
    const completedIn = (list: Interval[]) => (list.length ? refreshEnds.filter((e) => e > list[0].t - intervalS && e <= list[list.length - 1].t).length : 0);
    const peakRss = (list: Interval[]) => (list.length ? Math.max(...list.map((iv) => iv.memory.rssMaxMiB)) : NaN);
    const heapFloor = (list: Interval[]) => (list.length ? Math.min(...list.map((iv) => iv.memory.heapUsedMinMiB)) : NaN);
    const conclusive = halves.every((h) => completedIn(h) >= 1);
    const rssGrowth = peakRss(halves[1]) - peakRss(halves[0]);
    const heapGrowth = heapFloor(halves[1]) - heapFloor(halves[0]);
    const rssLimit = Math.max(0.1 * peakRss(halves[0]), 64);
    const heapLimit = Math.max(0.1 * heapFloor(halves[0]), 32);
    const second = halves[1];
    const rssReg = regression(second.map((iv) => ({ x: iv.t / 60, y: iv.memory.rssMeanMiB })));
    const heapReg = regression(second.map((iv) => ({ x: iv.t / 60, y: iv.memory.heapUsedMinMiB })));
    const flat = conclusive && rssGrowth <= rssLimit && heapGrowth <= heapLimit;
    const memoryCheck = {
      conclusive,
      refreshesCompletedPerHalf: halves.map(completedIn),
      peakRssMiB: halves.map(peakRss),
      rssGrowthMiB: rssGrowth,
      rssLimitMiB: rssLimit,
      heapFloorMiB: halves.map(heapFloor),
      heapGrowthMiB: heapGrowth,
      heapLimitMiB: heapLimit,
      secondHalfRssSlopeMiBPerMin: rssReg.slope,
      secondHalfHeapSlopeMiBPerMin: heapReg.slope,
      flat,
      verdict: !conclusive ? 'inconclusive: the run is too short (each half needs a completed refresh)' : flat ? 'flat' : 'GROWING',
    };
    const totals = Object.fromEntries(
      streams.map((s) => {
        const list = intervals.map((iv) => iv.streams[s.key]!).filter(Boolean);
        const requests = list.reduce((n, x) => n + x.requests, 0);
        return [
          s.key,
          {
            requests,
            items: s.key === 'batch' ? list.reduce((n, x) => n + x.itemsPerSecond * intervalS, 0) : requests,
            errors: list.reduce((n, x) => n + x.errors, 0),
            throttled: list.reduce((n, x) => n + x.throttled, 0),
            worstP99: Math.max(...list.map((x) => x.p99)),
            medianP50: [...list.map((x) => x.p50)].sort((a, b) => a - b)[Math.floor(list.length / 2)],
            meanRequestsPerSecond: list.reduce((n, x) => n + x.requestsPerSecond, 0) / list.length,
            errorSample: list.find((x) => x.errorSample)?.errorSample,
          },
        ];
      }),
    ) as Record<StreamKey, { requests: number; items: number; errors: number; throttled: number; worstP99: number; medianP50: number; meanRequestsPerSecond: number; errorSample?: string }>;
    const errors = Object.values(totals).reduce((n, t) => n + t.errors, 0);
    // The same load on a quiet server and while a refresh runs.
    const phase = (list: Interval[]) =>
      Object.fromEntries(
        (['writes', 'reads'] as const).map((k) => {
          const xs = list.map((iv) => iv.streams[k]!);
          const med = (v: number[]) => (v.length ? [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] : NaN);
          return [k, { intervals: xs.length, requestsPerSecond: med(xs.map((x) => x.requestsPerSecond)), p50: med(xs.map((x) => x.p50)), p99: med(xs.map((x) => x.p99)) }];
        }),
      ) as Record<'writes' | 'reads', { intervals: number; requestsPerSecond: number; p50: number; p99: number }>;
    const comparison = { quiet: phase(intervals.filter((iv) => iv.quiet)), duringRefresh: phase(intervals.filter((iv) => !iv.quiet && iv.refreshRunning)) };
    const refreshFailures = refreshes.filter((r) => r.status !== 'successful').length;
    const rssSeries = intervals.map((iv) => iv.memory.rssMeanMiB);
    const heapSeries = intervals.map((iv) => iv.memory.heapUsedMinMiB);
    const p99Series = intervals.map((iv) => iv.streams.writes!.p99);
    const ok = errors === 0 && memoryCheck.flat && refreshFailures === 0 && refreshes.length > 0;

    process.stdout.write(
      [
        '',
        `soak ${minutes} min: ${ok ? 'PASS' : 'FAIL'}`,
        ...streams.map(
          (s) =>
            `  ${s.key.padEnd(7)} ${fmtInt(totals[s.key].requests)} requests (${fmtInt(totals[s.key].meanRequestsPerSecond)}/s${s.key === 'batch' ? `, ${fmtInt(totals[s.key].items)} activities` : ''}), ` +
            `median p50 ${fmtMs(totals[s.key].medianP50)} ms, worst interval p99 ${fmtMs(totals[s.key].worstP99)} ms, errors ${totals[s.key].errors}, 429 ${totals[s.key].throttled}${totals[s.key].errorSample ? ` (e.g. ${totals[s.key].errorSample})` : ''}`,
        ),
        `  refreshes during the soak: ${refreshes.length} completed (${refreshFailures} not successful), each ${refreshes.map((r) => r.durationS.toFixed(0)).join(', ')} s`,
        `  RSS  ${sparkline(rssSeries)}  ${fmtInt(Math.min(...rssSeries))}–${fmtInt(Math.max(...rssSeries))} MiB; peak 1st / 2nd half ${memoryCheck.peakRssMiB.map(fmtInt).join(' / ')} MiB (growth ${fmtInt(rssGrowth)}, limit ${fmtInt(rssLimit)}); 2nd half slope ${rssReg.slope.toFixed(1)} MiB/min`,
        `  heap ${sparkline(heapSeries)}  ${fmtInt(Math.min(...heapSeries))}–${fmtInt(Math.max(...heapSeries))} MiB (lowest per interval); floor 1st / 2nd half ${memoryCheck.heapFloorMiB.map(fmtInt).join(' / ')} MiB (growth ${fmtInt(heapGrowth)}, limit ${fmtInt(heapLimit)}); 2nd half slope ${heapReg.slope.toFixed(2)} MiB/min`,
        `  write p99 ${sparkline(p99Series)}  ${fmtMs(Math.min(...p99Series))}–${fmtMs(Math.max(...p99Series))} ms`,
        ...(['writes', 'reads'] as const).map(
          (k) =>
            `  ${k.padEnd(7)} quiet: ${fmtInt(comparison.quiet[k].requestsPerSecond)}/s p50 ${fmtMs(comparison.quiet[k].p50)} p99 ${fmtMs(comparison.quiet[k].p99)} ms; ` +
            `during a refresh: ${fmtInt(comparison.duringRefresh[k].requestsPerSecond)}/s p50 ${fmtMs(comparison.duringRefresh[k].p50)} p99 ${fmtMs(comparison.duringRefresh[k].p99)} ms (medians over intervals)`,
        ),
        `  memory ${memoryCheck.verdict}; refreshes completed per half ${memoryCheck.refreshesCompletedPerHalf.join(' / ')}; errors ${errors}`,
        '',
      ].join('\n'),
    );

    const now = new Date();
    const date = now.toISOString().slice(0, 10);
    const code = codeVersion();
    const file = path.join(RESULTS, `soak-${date}${minutes < 10 ? `-${minutes}min` : ''}.json`);
    const raw = {
      date: now.toISOString(),
      command,
      machine: m,
      code,
      options: { minutes, intervalS, records, writeRate, readRate, batchRate, batchSize, connections, refreshGapS },
      profiles: ids.length,
      firstRefreshS,
      ok,
      errors,
      totals,
      comparison,
      refreshes,
      memoryCheck,
      intervals,
      memorySamples: memory.map((x) => ({ at: x.at, rssMiB: +(x.rss / MiB).toFixed(1), heapUsedMiB: +(x.heapUsed / MiB).toFixed(1) })),
    };
    if (writeReport) {
      mkdirSync(RESULTS, { recursive: true });
      writeFileSync(file, JSON.stringify(raw, null, 2) + '\n');
      log(`raw figures: ${path.relative(ROOT, file)}`);
      updateBenchmarksMd(SECTION, markdown(raw, path.relative(ROOT, file), { rssSeries, heapSeries, p99Series }));
      log(`BENCHMARKS.md: section "${SECTION.slice(3)}" written`);
    }
    return ok ? 0 : 1;
  } catch (err) {
    if (server) process.stderr.write(`--- server output (tail) ---\n${server.tail()}\n`);
    throw err;
  } finally {
    if (server) await server.stop(20_000);
    rmSync(tmp, { recursive: true, force: true, maxRetries: 5 });
  }
}

function codeVersion(): { commit: string; dirtySrc: number } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirtySrc = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean).length;
    return { commit, dirtySrc };
  } catch {
    return { commit: 'unknown', dirtySrc: 0 };
  }
}

function markdown(
  raw: {
    date: string;
    command: string;
    machine: ReturnType<typeof machine>;
    code: { commit: string; dirtySrc: number };
    options: { minutes: number; intervalS: number; records: number; writeRate: number; readRate: number; batchRate: number; batchSize: number; connections: number };
    profiles: number;
    firstRefreshS: number;
    ok: boolean;
    errors: number;
    totals: Record<string, { requests: number; items: number; errors: number; throttled: number; worstP99: number; medianP50: number; meanRequestsPerSecond: number }>;
    comparison: Record<'quiet' | 'duringRefresh', Record<'writes' | 'reads', { intervals: number; requestsPerSecond: number; p50: number; p99: number }>>;
    refreshes: RefreshRecord[];
    memoryCheck: {
      conclusive: boolean;
      refreshesCompletedPerHalf: number[];
      peakRssMiB: number[];
      rssGrowthMiB: number;
      rssLimitMiB: number;
      heapFloorMiB: number[];
      heapGrowthMiB: number;
      heapLimitMiB: number;
      secondHalfRssSlopeMiBPerMin: number;
      secondHalfHeapSlopeMiBPerMin: number;
      flat: boolean;
      verdict: string;
    };
    intervals: Interval[];
  },
  file: string,
  series: { rssSeries: number[]; heapSeries: number[]; p99Series: number[] },
): string {
  const o = raw.options;
  const mc = raw.memoryCheck;
  const head = ['t (s)', 'writes/s', 'write p50 / p99 ms', 'reads/s', 'read p50 / p99 ms', '$batch activities/s', 'errors', '429', 'RSS MiB', 'heap MiB (min–max)', 'refresh'];
  const rows = raw.intervals.map((iv) => {
    const w = iv.streams.writes!;
    const r = iv.streams.reads!;
    const b = iv.streams.batch;
    return [
      iv.t.toFixed(0),
      fmtInt(w.requestsPerSecond),
      `${fmtMs(w.p50)} / ${fmtMs(w.p99)}`,
      fmtInt(r.requestsPerSecond),
      `${fmtMs(r.p50)} / ${fmtMs(r.p99)}`,
      b ? fmtInt(b.itemsPerSecond) : '–',
      String(w.errors + r.errors + (b?.errors ?? 0)),
      String(w.throttled + r.throttled + (b?.throttled ?? 0)),
      fmtInt(iv.memory.rssMaxMiB),
      `${fmtInt(iv.memory.heapUsedMinMiB)}–${fmtInt(iv.memory.heapUsedMaxMiB)}`,
      iv.quiet ? 'none yet (quiet)' : iv.refreshRunning ? `running (${iv.refreshesCompleted} done)` : `idle (${iv.refreshesCompleted} done)`,
    ];
  });
  const t = raw.totals;
  return [
    SECTION,
    '',
    `Measured ${raw.date.slice(0, 16).replace('T', ' ')} UTC on ${raw.machine.cores} cores, ${raw.machine.memoryGiB} GiB RAM, ${raw.machine.cpu}, Node ${raw.machine.node}; ` +
      `code at commit ${raw.code.commit}${raw.code.dirtySrc ? ` plus ${raw.code.dirtySrc} uncommitted src/ change(s)` : ''}. **${raw.ok ? 'PASS' : 'FAIL'}**: ${raw.errors} errors, memory ${mc.verdict}.`,
    '',
    '```sh',
    raw.command,
    '```',
    '',
    `${o.minutes} minutes against one \`kindred serve\` (bench/soak-server.ts) holding ${fmtInt(raw.profiles)} profiles from ${fmtInt(o.records)} generated records (first refresh ${raw.firstRefreshS.toFixed(0)} s), ` +
      `with refreshes of the same ${fmtInt(o.records)} records back to back the whole time (${raw.refreshes.length} completed, ${raw.refreshes.filter((r) => r.status !== 'successful').length} not successful; ` +
      `${raw.refreshes.map((r) => r.durationS.toFixed(0)).join(', ')} s). Load at fixed rates (autocannon, ${o.connections} connections per stream): writes ${o.writeRate}/s in turn POST UnifiedActivity, ` +
      `PATCH Customer, POST eCommerce_eCommercePurchases (source format); reads ${o.readRate}/s in turn GET Customer/{id}, \`$filter=CustomerId eq\`, \`$filter=City eq … &$top=10\`; ` +
      `$batch ${o.batchRate}/s of ${o.batchSize} activities. An error is any answer other than the expected 2xx or a 429, a socket error, a timeout, or a failed $batch item.`,
    '',
    '| stream | requests | mean rate /s | median p50 ms | worst p99 ms (any interval) | errors | 429 |',
    '|:--|--:|--:|--:|--:|--:|--:|',
    ...Object.entries(t).map(([k, v]) => `| ${k}${k === 'batch' ? ` (${fmtInt(v.items)} activities)` : ''} | ${fmtInt(v.requests)} | ${fmtInt(v.meanRequestsPerSecond)} | ${fmtMs(v.medianP50)} | ${fmtMs(v.worstP99)} | ${v.errors} | ${v.throttled} |`),
    '',
    'The same load on a quiet server (first interval(s), before any refresh of the soak) and while a refresh runs (medians over intervals):',
    '',
    '| | intervals | writes/s | write p50 / p99 ms | reads/s | read p50 / p99 ms |',
    '|:--|--:|--:|--:|--:|--:|',
    ...(['quiet', 'duringRefresh'] as const).map((ph) => {
      const c = raw.comparison[ph];
      return `| ${ph === 'quiet' ? 'no refresh' : 'refresh running'} | ${c.writes.intervals} | ${fmtInt(c.writes.requestsPerSecond)} | ${fmtMs(c.writes.p50)} / ${fmtMs(c.writes.p99)} | ${fmtInt(c.reads.requestsPerSecond)} | ${fmtMs(c.reads.p50)} / ${fmtMs(c.reads.p99)} |`;
    }),
    '',
    `Memory of the server process (RSS includes the refresh worker thread; heap is the main thread's lowest per interval): ` +
      `RSS \`${series.rssSeries.length ? sparkline(series.rssSeries) : ''}\` ${fmtInt(Math.min(...series.rssSeries))}–${fmtInt(Math.max(...series.rssSeries))} MiB, ` +
      `heap \`${series.heapSeries.length ? sparkline(series.heapSeries) : ''}\` ${fmtInt(Math.min(...series.heapSeries))}–${fmtInt(Math.max(...series.heapSeries))} MiB; write p99 \`${sparkline(series.p99Series)}\`. ` +
      `Refreshes make RSS a saw-tooth, so the check compares the two halves of the loaded part of the run (${mc.refreshesCompletedPerHalf.join(' / ')} refreshes completed in the first / second half): ` +
      `peak RSS ${mc.peakRssMiB.map(fmtInt).join(' → ')} MiB (growth ${fmtInt(mc.rssGrowthMiB)}, limit ${fmtInt(mc.rssLimitMiB)}), lowest heap ${mc.heapFloorMiB.map(fmtInt).join(' → ')} MiB ` +
      `(growth ${fmtInt(mc.heapGrowthMiB)}, limit ${fmtInt(mc.heapLimitMiB)}): **${mc.verdict}**. Regression slope over the second half: RSS ${mc.secondHalfRssSlopeMiBPerMin.toFixed(1)} MiB/min, heap ${mc.secondHalfHeapSlopeMiBPerMin.toFixed(2)} MiB/min.`,
    '',
    `<details><summary>Per ${o.intervalS} s interval</summary>`,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '--:').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    '</details>',
    '',
    `Raw figures: \`${file}\`.`,
  ].join('\n');
}

let code = 1;
try {
  code = await main();
} catch (err) {
  process.stderr.write(`bench/soak.ts failed: ${(err as Error).stack ?? String(err)}\n`);
}
process.exit(code);
