/**
 * The refresh's SQLite writes alone, replayed: CPU and wall per part, for comparing store code
 * side by side on a loaded machine (the whole refresh varies too much from run to run).
 *
 *   node --import tsx bench/write-replay.ts capture --size 100000 --out /tmp/w/calls-100000.bin
 *   node --import tsx bench/write-replay.ts replay --calls /tmp/w/calls-100000.bin [--store path/to/src/storage/sqlite/store.ts] [--generations 2]
 *
 * capture runs the real refresh on bench/out/data-<size>-seed42 with a store whose generation
 * writer and analytics writes only record their calls (v8-serialized to --out). replay opens a
 * fresh database with the given store module (default: this tree's) and makes the same calls, in
 * the same batches, for each of --generations generations (each one a refresh of the same data,
 * the one before still there until the commit prunes it).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { loadInstanceDefinition } from '../src/config/load.js';
import { runRefresh, REFRESH_PAGE_CACHE_MIB } from '../src/refresh/pipeline.js';
import type { GenerationWriter, Store } from '../src/storage/store.js';
import type { AnalyticsStore } from '../src/storage/analytics.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [mode, ...argv] = process.argv.slice(2);
const opt = (n: string) => {
  const i = argv.indexOf(`--${n}`);
  return i >= 0 ? argv[i + 1] : undefined;
};

type Call = [method: string, args: unknown[]];
interface Captured {
  instanceFile: string;
  calls: Call[];
}

async function capture(): Promise<void> {
  const size = Number(opt('size') ?? 100_000);
  const out = opt('out') ?? path.join(os.tmpdir(), `kindred-write-calls-${size}.bin`);
  const { openSqliteStore } = await import('../src/storage/sqlite/store.js');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kindred-write-capture-'));
  const store = openSqliteStore({ file: path.join(dir, 'kindred.db') });
  const instanceFile = path.join(ROOT, 'bench', 'out', `data-${size}-seed42`, 'instance.yaml');
  const calls: Call[] = [];
  const record = (method: string) => async (...args: unknown[]) => void calls.push([method, args]);
  try {
    const loaded = loadInstanceDefinition(instanceFile);
    await store.putInstance({ id: loaded.definition.id, name: loaded.definition.id, definition: loaded.definition, sourceFile: loaded.file, baseDir: loaded.baseDir });
    const analytics = Object.create(store.analytics, {
      writeRunSummary: { value: record('writeRunSummary') },
    }) as AnalyticsStore;
    const capturing: Store = Object.create(store, {
      analytics: { value: analytics },
      beginGeneration: {
        // A real generation (enrich writes into it), thrown away at the end: only the calls count.
        value: async (instanceId: string, jobId: string): Promise<GenerationWriter> => {
          const real = await store.beginGeneration(instanceId, jobId);
          return {
          generation: real.generation,
          writeCustomers: record('writeCustomers'),
          writeAlternateKeys: record('writeAlternateKeys'),
          writeActivities: record('writeActivities'),
          setFieldSourceLegend: record('setFieldSourceLegend'),
          buildSearchTerms: async (spec) => (calls.push(['buildSearchTerms', [spec]]), 0),
          indexCustomerAttributes: async (attributes) => (calls.push(['indexCustomerAttributes', [attributes]]), 0),
          writeCustomerMeasures: record('writeCustomerMeasures'),
          writeSegmentMembers: record('writeSegmentMembers'),
          writeEnrichments: (rows) => real.writeEnrichments(rows),
          complete: record('complete'),
          flush: async () => {},
          commit: () => real.abort(),
          abort: () => real.abort(),
          };
        },
      },
    });
    const { run } = await store.createRun(loaded.definition.id, 'cli');
    const result = await runRefresh({ store: capturing, run });
    if (result.status !== 'successful') throw new Error(`refresh ${result.status}: ${result.error}`);
    writeFileSync(out, v8.serialize({ instanceFile, calls } satisfies Captured));
    console.log(`captured ${calls.length} calls into ${out}`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function replay(): Promise<void> {
  const captured = v8.deserialize(readFileSync(opt('calls')!)) as Captured;
  const storeModule = path.resolve(opt('store') ?? path.join(ROOT, 'src/storage/sqlite/store.ts'));
  const { openSqliteStore } = (await import(pathToFileURL(storeModule).href)) as typeof import('../src/storage/sqlite/store.js');
  const generations = Number(opt('generations') ?? 2);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kindred-write-replay-'));
  const store = openSqliteStore({ file: path.join(dir, 'kindred.db'), pageCacheMiB: REFRESH_PAGE_CACHE_MIB });
  try {
    const loaded = loadInstanceDefinition(captured.instanceFile);
    const instanceId = loaded.definition.id;
    await store.putInstance({ id: instanceId, name: instanceId, definition: loaded.definition, sourceFile: loaded.file, baseDir: loaded.baseDir });
    console.log(`store ${path.relative(process.cwd(), storeModule)}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    for (let g = 1; g <= generations; g++) {
      const { run } = await store.createRun(instanceId, 'cli');
      const parts = new Map<string, { wallMs: number; cpuMs: number }>();
      const timed = async (part: string, body: () => Promise<unknown>) => {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await body();
        const c = process.cpuUsage(c0);
        const p = parts.get(part) ?? { wallMs: 0, cpuMs: 0 };
        p.wallMs += performance.now() - t0;
        p.cpuMs += (c.user + c.system) / 1000;
        parts.set(part, p);
      };
      let writer!: GenerationWriter;
      await timed('begin', async () => (writer = await store.beginGeneration(instanceId, run.jobId)));
      for (const [method, args] of captured.calls) {
        if (method in writer) {
          await timed(method, () => (writer as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method](...args));
        } else {
          // Analytics calls name the generation being written.
          const [, , ...rest] = args;
          await timed(method, () => (store.analytics as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method](instanceId, writer.generation, ...rest));
        }
      }
      await timed('commit', () => writer.commit({ stages: [], summary: {}, endedAt: new Date().toISOString(), remap: [] }));
      await timed('prune', () => store.pruneGenerations(instanceId));
      let wall = 0;
      let cpu = 0;
      const line = [...parts].map(([name, p]) => {
        wall += p.wallMs;
        cpu += p.cpuMs;
        return `${name} ${(p.cpuMs / 1000).toFixed(2)}/${(p.wallMs / 1000).toFixed(2)}`;
      });
      console.log(`generation ${g}: cpu/wall s total ${(cpu / 1000).toFixed(2)}/${(wall / 1000).toFixed(2)}; ${line.join(', ')}`);
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (mode === 'capture') await capture();
else if (mode === 'replay') await replay();
else throw new Error('usage: write-replay.ts capture|replay ...');
