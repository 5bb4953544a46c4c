/**
 * One measured refresh, in its own process (started by bench/refresh.ts, so that peak RSS and
 * heap belong to the refresh alone):
 *
 *   node --max-old-space-size=6144 --single-threaded-gc --min-semi-space-size=64 --max-semi-space-size=64 --initial-old-space-size=2560 \
 *     --import tsx bench/refresh-child.ts \
 *     --phase first|second --store <dir> --instance <instance.yaml> --truth <truth.csv> --ids <file>
 *
 * first:  opens a fresh SQLite store in <dir>, applies the instance, runs the refresh, then scores
 *         it against truth.csv and saves every record → CustomerId to <file> (for the second phase).
 * second: reopens the same store, refreshes again (data unchanged), then scores and counts the
 *         CustomerIds that changed compared with <file>.
 *
 * Peak RSS (process.resourceUsage().maxRSS) is read right after runRefresh returns, before any
 * scoring, so it is the refresh's own peak (plus process start-up). Prints exactly one JSON line on
 * stdout; progress goes to stderr.
 */
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { loadInstanceDefinition } from '../src/config/load.js';
import { openSqliteStore } from '../src/storage/sqlite/store.js';
import { openPostgresStore } from '../src/storage/postgres/store.js';
import pg from 'pg';
import { REFRESH_PAGE_CACHE_MIB, runRefresh } from '../src/refresh/pipeline.js';
import { scoreAgainstTruth } from '../src/refresh/evaluate.js';
import { openDelimited } from '../src/refresh/readers/delimited.js';
import { readJsonl } from '../src/refresh/readers/jsonl.js';
import { expandSourcePath } from '../src/refresh/readers/files.js';
import { resolveInstance } from '../src/config/resolve.js';
import { recordKey } from '../src/domain/profile.js';
import type { StageRecord } from '../src/domain/run.js';
import type { Store } from '../src/storage/store.js';
import { useDefaultHeapFlagsForNewThreads } from '../src/workers.js';

const MiB = 1024 * 1024;
// This process gets the refresh's process flags (bench/refresh.ts, CHILD_FLAGS), as the product's
// refresh process does; there, the threads the refresh starts (generation writer, enrich) get V8's
// default heap, and so they do here.
useDefaultHeapFlagsForNewThreads();

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (v === undefined) throw new Error(`missing --${name}`);
  return v;
}

function optionalArg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const phase = arg('phase');
if (phase !== 'first' && phase !== 'second' && phase !== 'baseline') throw new Error(`--phase must be baseline, first or second, got ${phase}`);
const instanceFile = path.resolve(arg('instance'));
const log = (msg: string) => process.stderr.write(`  [child ${phase}] ${msg}\n`);

if (phase === 'baseline') {
  await baseline(instanceFile, Number(process.argv[process.argv.indexOf('--rounds') + 1] ?? 2) || 2);
  process.exit(0);
}
const storeDir = path.resolve(arg('store'));
/** --database-url URL [--database-schema S]: the refresh writes to PostgreSQL instead of SQLite in --store. */
const databaseUrl = optionalArg('database-url');
const databaseSchema = optionalArg('database-schema');
const truthFile = path.resolve(arg('truth'));
const idsFile = path.resolve(arg('ids'));

// --- instrumentation: GC pauses and memory per stage --------------------------------------------
interface StageWindow {
  name: string;
  start: number;
  end: number;
  /** Highest rss / heapUsed seen by the sampler during the stage (only when the event loop got a turn). */
  sampledPeakRssMiB: number;
  sampledPeakHeapMiB: number;
  /** process.memoryUsage() right after the stage ended: what it left behind. */
  endRssMiB: number;
  endHeapUsedMiB: number;
  endExternalMiB: number;
  /** CPU time of this process during the stage (all threads), and block I/O / context switches. */
  cpuUserMs: number;
  cpuSystemMs: number;
  fsReadOps: number;
  fsWriteOps: number;
  voluntarySwitches: number;
  startUsage: NodeJS.ResourceUsage;
  /** Monotonic clock in µs (same clock as the timestamps of a --cpu-prof profile). */
  startUs: number;
  endUs: number;
}
const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const windows: StageWindow[] = [];
let currentWindow: StageWindow | null = null;
const gcEntries: { start: number; duration: number; kind: number }[] = [];
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries() as (PerformanceEntry & { detail?: { kind?: number } })[]) {
    gcEntries.push({ start: e.startTime, duration: e.duration, kind: e.detail?.kind ?? 0 });
  }
});
gcObserver.observe({ entryTypes: ['gc'] });
const sampler = setInterval(() => {
  if (!currentWindow) return;
  const m = process.memoryUsage();
  currentWindow.sampledPeakRssMiB = Math.max(currentWindow.sampledPeakRssMiB, m.rss / MiB);
  currentWindow.sampledPeakHeapMiB = Math.max(currentWindow.sampledPeakHeapMiB, m.heapUsed / MiB);
}, 100);

function onStage(s: StageRecord): void {
  const t = performance.now();
  if (s.status === 'running') {
    currentWindow = {
      name: s.name,
      start: t,
      end: NaN,
      sampledPeakRssMiB: 0,
      sampledPeakHeapMiB: 0,
      endRssMiB: 0,
      endHeapUsedMiB: 0,
      endExternalMiB: 0,
      cpuUserMs: 0,
      cpuSystemMs: 0,
      fsReadOps: 0,
      fsWriteOps: 0,
      voluntarySwitches: 0,
      startUsage: process.resourceUsage(),
      startUs: nowUs(),
      endUs: NaN,
    };
    windows.push(currentWindow);
    log(`${s.name} …`);
  } else {
    // Enrich is marked running at the end of merge and ends after write: windows may overlap.
    const w = windows.findLast((x) => x.name === s.name && Number.isNaN(x.end));
    if (!w) return;
    const m = process.memoryUsage();
    const u = process.resourceUsage();
    const u0 = w.startUsage;
    w.cpuUserMs = (u.userCPUTime - u0.userCPUTime) / 1000;
    w.cpuSystemMs = (u.systemCPUTime - u0.systemCPUTime) / 1000;
    w.fsReadOps = u.fsRead - u0.fsRead;
    w.fsWriteOps = u.fsWrite - u0.fsWrite;
    w.voluntarySwitches = u.voluntaryContextSwitches - u0.voluntaryContextSwitches;
    w.end = t;
    w.endUs = nowUs();
    w.endRssMiB = m.rss / MiB;
    w.endHeapUsedMiB = m.heapUsed / MiB;
    w.endExternalMiB = m.external / MiB;
    w.sampledPeakRssMiB = Math.max(w.sampledPeakRssMiB, w.endRssMiB);
    w.sampledPeakHeapMiB = Math.max(w.sampledPeakHeapMiB, w.endHeapUsedMiB);
    log(
      `${s.name} ${s.status} in ${s.durationMs} ms (cpu user ${w.cpuUserMs.toFixed(0)} + sys ${w.cpuSystemMs.toFixed(0)} ms; ` +
        `rss ${w.endRssMiB.toFixed(0)} MiB, heap ${w.endHeapUsedMiB.toFixed(0)} MiB)`,
    );
    if (w === currentWindow) currentWindow = null;
  }
}

// --- baseline: read every source file with the project's readers, nothing else -----------------
/**
 * The irreducible cost of a refresh: every file of every entity the refresh reads (same readers,
 * same options as pull), rows counted and dropped. Several rounds; the caller keeps the fastest.
 */
async function baseline(file: string, rounds: number): Promise<void> {
  const { definition, baseDir } = loadInstanceDefinition(file);
  const instance = resolveInstance(definition, baseDir);
  const used = [...instance.entities.values()].filter((e) => e.role !== 'unused');
  const results: { round: number; ms: number; rows: Record<string, number>; bytes: number }[] = [];
  for (let round = 1; round <= rounds; round++) {
    const rows: Record<string, number> = {};
    let bytes = 0;
    const t0 = performance.now();
    for (const entity of used) {
      let n = 0;
      for (const f of await expandSourcePath(instance.baseDir, entity.path)) {
        bytes += statSync(f).size;
        if (entity.format === 'csv') {
          const opened = await openDelimited(f, { delimiter: entity.delimiter, encoding: entity.encoding, header: entity.header });
          for await (const row of opened.rows) if (row.fields.length > 0) n++;
        } else {
          for await (const rec of readJsonl(f, { encoding: entity.encoding })) if (rec.record !== null) n++;
        }
      }
      rows[entity.ref] = n;
    }
    const ms = performance.now() - t0;
    results.push({ round, ms, rows, bytes });
    log(`round ${round}: ${(ms / 1000).toFixed(2)} s`);
  }
  process.stdout.write(JSON.stringify({ phase: 'baseline', rounds: results, maxRssMiB: process.resourceUsage().maxRSS / 1024 }) + '\n');
}

// --- helpers ------------------------------------------------------------------------------------
async function loadTruth(file: string): Promise<Map<string, string>> {
  const { header, rows } = await openDelimited(file);
  const want = ['dataSource', 'entity', 'key', 'personId'];
  if (header?.join(',') !== want.join(',')) throw new Error(`${file}: expected header ${want.join(',')}, got ${header?.join(',')}`);
  const truth = new Map<string, string>();
  for await (const { fields } of rows) truth.set(recordKey(fields[0], fields[1], fields[2]), fields[3]);
  return truth;
}

async function currentIds(store: Store, instanceId: string): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for await (const batch of store.scan(instanceId, 'AlternateKey', 20_000)) {
    for (const r of batch) ids.set(recordKey(String(r.DataSourceName), String(r.EntityName), String(r.AlternateValue)), String(r.CustomerId));
  }
  return ids;
}

async function saveIds(ids: Map<string, string>, file: string): Promise<void> {
  const out = createWriteStream(file);
  let buf = '';
  for (const [k, id] of ids) {
    buf += `${k}\t${id}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
}

async function compareIds(now: Map<string, string>, file: string): Promise<{ compared: number; changed: number; missing: number; added: number; samples: string[] }> {
  let compared = 0;
  let changed = 0;
  let missing = 0;
  const samples: string[] = [];
  const seen = new Set<string>();
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line) continue;
    const tab = line.lastIndexOf('\t');
    const key = line.slice(0, tab);
    const before = line.slice(tab + 1);
    const after = now.get(key);
    seen.add(key);
    if (after === undefined) {
      missing++;
      continue;
    }
    compared++;
    if (after !== before) {
      changed++;
      if (samples.length < 5) samples.push(`${key.split('\u0001').join('.')}: ${before} → ${after}`);
    }
  }
  let added = 0;
  for (const k of now.keys()) if (!seen.has(k)) added++;
  return { compared, changed, missing, added, samples };
}

/** Size on disk of the schema's tables and indexes. */
async function postgresSchemaBytes(url: string, schema: string | undefined): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query(
      `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = COALESCE($1, current_schema()) AND c.relkind IN ('r', 'm')`,
      [schema ?? null],
    );
    return Number(r.rows[0].bytes);
  } finally {
    await client.end();
  }
}

// --- the run ------------------------------------------------------------------------------------
const dbFile = path.join(storeDir, 'kindred.db');
const store: Store = databaseUrl
  ? await openPostgresStore({ connectionString: databaseUrl, schema: databaseSchema, maxConnections: 4 })
  : openSqliteStore({ file: dbFile, pageCacheMiB: REFRESH_PAGE_CACHE_MIB });
try {
  const loaded = loadInstanceDefinition(instanceFile);
  const { definition } = loaded;
  if (phase === 'first') {
    if ((await store.getInstance(definition.id)) !== undefined) throw new Error(`${dbFile} is not a fresh store`);
    await store.putInstance({ id: definition.id, name: definition.name ?? definition.id, definition, sourceFile: loaded.file, baseDir: loaded.baseDir });
  } else if ((await store.getInstance(definition.id))?.currentGeneration == null) {
    throw new Error(`${dbFile}: no refreshed instance '${definition.id}' to refresh again`);
  }
  const { run, created } = await store.createRun(definition.id, 'cli');
  if (!created) throw new Error(`a run of '${definition.id}' is already active`);

  const heapBefore = process.memoryUsage();
  const t0 = performance.now();
  const result = await runRefresh({ store, run, onStage });
  const t1 = performance.now();
  const maxRssKiB = process.resourceUsage().maxRSS;
  const memAfter = process.memoryUsage();
  clearInterval(sampler);
  if (result.status !== 'successful') throw new Error(`refresh ${result.status}: ${result.error}`);
  log(`refresh done in ${((t1 - t0) / 1000).toFixed(2)} s, peak RSS ${(maxRssKiB / 1024).toFixed(0)} MiB`);

  // Let the observer deliver the last GC entries, then attribute GC pauses to stages.
  await new Promise((r) => setTimeout(r, 50));
  gcObserver.disconnect();
  const gcByStage: Record<string, number> = {};
  let gcTotal = 0;
  for (const g of gcEntries) {
    if (g.start < t0 || g.start > t1) continue;
    gcTotal += g.duration;
    // The innermost (last started) window: enrich's spans the stages that ran during its worker.
    const w = windows.findLast((x) => g.start >= x.start && g.start <= (Number.isNaN(x.end) ? t1 : x.end));
    const name = w?.name ?? '(between stages)';
    gcByStage[name] = (gcByStage[name] ?? 0) + g.duration;
  }

  // Scoring and the id check happen after the measurement.
  const s0 = performance.now();
  const truth = await loadTruth(truthFile);
  const scores = await scoreAgainstTruth(store, definition.id, (ds, en, key) => truth.get(recordKey(ds, en, key)));
  const truthRecords = truth.size;
  truth.clear();
  const ids = await currentIds(store, definition.id);
  let idCheck: Awaited<ReturnType<typeof compareIds>> | null = null;
  if (phase === 'first') await saveIds(ids, idsFile);
  else idCheck = await compareIds(ids, idsFile);
  const scoringMs = performance.now() - s0;

  const dbBytes = databaseUrl ? await postgresSchemaBytes(databaseUrl, databaseSchema) : ['', '-wal'].reduce((n, suffix) => {
    try {
      return n + statSync(dbFile + suffix).size;
    } catch {
      return n;
    }
  }, 0);

  const out = {
    phase,
    status: result.status,
    generation: result.generation,
    wallMs: t1 - t0,
    maxRssMiB: maxRssKiB / 1024,
    rssBeforeMiB: heapBefore.rss / MiB,
    heapUsedAfterMiB: memAfter.heapUsed / MiB,
    gcMs: gcTotal,
    gcByStage,
    stages: result.stages.map((s) => ({ name: s.name, status: s.status, durationMs: s.durationMs, counts: s.counts, issues: s.issues.map((i) => ({ message: i.message, count: i.count })) })),
    memory: windows.map((w) => ({
      stage: w.name,
      sampledPeakRssMiB: w.sampledPeakRssMiB,
      sampledPeakHeapMiB: w.sampledPeakHeapMiB,
      endRssMiB: w.endRssMiB,
      endHeapUsedMiB: w.endHeapUsedMiB,
      endExternalMiB: w.endExternalMiB,
    })),
    cpu: windows.map((w) => ({
      stage: w.name,
      userMs: w.cpuUserMs,
      systemMs: w.cpuSystemMs,
      fsReadOps: w.fsReadOps,
      fsWriteOps: w.fsWriteOps,
      voluntarySwitches: w.voluntarySwitches,
      startUs: w.startUs,
      endUs: w.endUs,
    })),
    loadAvg: os.loadavg(),
    summary: result.summary,
    scores,
    truthRecords,
    alternateKeys: ids.size,
    idCheck,
    scoringMs,
    dbBytes,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
} finally {
  clearInterval(sampler);
  await store.close();
}
