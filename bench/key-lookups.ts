/**
 * Key lookups while scans run: how long `CustomerId eq '…'` takes through Store.queryEntity (as the
 * data API calls it) while other queries that read every profile keep SQLite's reader threads busy,
 * against the same lookups alone, measured in the same run.
 *
 *   node --import tsx bench/key-lookups.ts [--records 100000] [--seconds 5] [--scanners 2]
 *        [--reader-threads N (default: as `kindred serve`, one per core but one)] [--results-file FILE]
 *
 * Generates (or reuses) bench/out/data-N-seed42 and refreshes it into a fresh SQLite store, then:
 *   1. alone: key lookups for --seconds, one after another, each for another profile;
 *   2. under scans: the same while --scanners loops each run `contains(FullName, '…')` (no index can
 *      serve it: every profile is read) back to back.
 * Prints the lookups' rate and p50/p99/max for both, and how many scans completed meanwhile.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseFilter } from '../src/api/odata/filter.js';
import { resolveInstance } from '../src/config/resolve.js';
import { unifiedSchema } from '../src/domain/unified-schema.js';
import { runRefresh } from '../src/refresh/pipeline.js';
import { defaultReaderThreads } from '../src/storage/sqlite/reader-pool.js';
import { openSqliteStore } from '../src/storage/sqlite/store.js';
import { codeVersion, fmtInt, fmtMs, percentile } from './children.js';
import { generatedInstance } from './data.js';
import { machine } from './report.js';

const argv = process.argv.slice(2);
const option = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const intOption = (name: string, fallback: number, min: number): number => {
  const raw = option(name);
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer >= ${min}, got ${raw}`);
  return n;
};
const records = intOption('records', 100_000, 1);
const seconds = intOption('seconds', 5, 1);
const scanners = intOption('scanners', 2, 1);
const readerThreads = intOption('reader-threads', defaultReaderThreads(), 1);
const log = (msg: string) => console.log(`[${(performance.now() / 1000).toFixed(1).padStart(6)} s] ${msg}`);

const loaded = await generatedInstance(records, log);
const work = mkdtempSync(path.join(os.tmpdir(), 'kindred-key-lookups-'));
const store = openSqliteStore({ file: path.join(work, 'kindred.db'), readerThreads });
try {
  const { definition } = loaded;
  await store.putInstance({ id: definition.id, name: definition.id, definition, sourceFile: loaded.file, baseDir: loaded.baseDir });
  const { run } = await store.createRun(definition.id, 'cli');
  const refreshed = await runRefresh({ store, run });
  if (refreshed.status !== 'successful') throw new Error(`refresh ${refreshed.status}: ${refreshed.error}`);
  const attributes = unifiedSchema(resolveInstance(definition, loaded.baseDir)).customer.queryTypes;
  const query = (filter: string, top: number) =>
    store.queryEntity(definition.id, 'Customer', { attributes, filter: parseFilter(filter), orderby: [], top, skip: 0, count: false }, new Date().toISOString());
  const ids = (await store.queryEntity(definition.id, 'Customer', { attributes: { CustomerId: 'string' }, orderby: [], top: 1_000_000_000, skip: 0, count: false }, new Date().toISOString())).rows.map(
    (r) => r.CustomerId as string,
  );
  log(`${fmtInt(ids.length)} profiles; ${readerThreads} reader thread(s)`);

  const measureLookups = async (): Promise<number[]> => {
    const times: number[] = [];
    const end = performance.now() + seconds * 1000;
    for (let i = 0; performance.now() < end; i++) {
      const id = ids[(i * 7919) % ids.length];
      const t = performance.now();
      const { rows } = await query(`CustomerId eq '${id}'`, 1);
      times.push(performance.now() - t);
      if (rows[0]?.CustomerId !== id) throw new Error(`lookup of ${id} answered ${JSON.stringify(rows[0])}`);
      // As separate requests would: the event loop turns between two lookups (replies from the reader threads get in).
      await new Promise((resolve) => setImmediate(resolve));
    }
    return times;
  };
  const summary = (times: number[]) => {
    const sorted = [...times].sort((a, b) => a - b);
    return { n: times.length, perSecond: times.length / seconds, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] };
  };
  const said = (m: ReturnType<typeof summary>) => `${fmtInt(m.n)} lookups (${fmtInt(m.perSecond)}/s), p50 ${fmtMs(m.p50)} ms, p99 ${fmtMs(m.p99)} ms, max ${fmtMs(m.max)} ms`;

  await measureLookups(); // warm-up: statements prepared, threads started
  const alone = summary(await measureLookups());
  log(`alone: ${said(alone)}`);

  let scanning = true;
  let scans = 0;
  const scanMs: number[] = [];
  const scanLoops = Array.from({ length: scanners }, async (_, s) => {
    while (scanning) {
      const t = performance.now();
      await query(`contains(FullName, 'no such name ${s}')`, 10);
      scanMs.push(performance.now() - t);
      scans++;
    }
  });
  const underScans = summary(await measureLookups());
  scanning = false;
  await Promise.all(scanLoops);
  const scanP50 = summary(scanMs).p50;
  log(
    `under ${scanners} scan loop(s): ${said(underScans)}; ` +
      `${scans} scans meanwhile (p50 ${fmtMs(scanP50)} ms each)`,
  );
  const resultsFile = option('results-file');
  if (resultsFile) {
    const out = { date: new Date().toISOString(), command: `node --import tsx bench/key-lookups.ts ${argv.join(' ')}`.trim(), machine: machine(), code: codeVersion(), records, profiles: ids.length, readerThreads, seconds, scanners, alone, underScans, scans, scanP50Ms: scanP50 };
    writeFileSync(path.resolve(resultsFile), JSON.stringify(out, null, 2));
    log(`raw figures: ${resultsFile}`);
  }
} finally {
  await store.close();
  rmSync(work, { recursive: true, force: true });
}
