/**
 * End-to-end benchmark of the batch refresh (pull → normalize → dedupe → match → merge →
 * activities → write) on synthetic data with a known ground truth.
 *
 *   node --import tsx bench/refresh.ts [--sizes 100000,1000000] [--quick] [--profile] [--no-report] [--results-file FILE]
 *        [--database-url postgres://…]
 *
 * --database-url: the refreshes write to PostgreSQL (a fresh schema per size, dropped afterwards)
 * instead of SQLite; the figures go to bench/results/refresh-postgres-<date>.json and the section
 * "## Refresh on PostgreSQL".
 *
 * For each size (customer records; default 100k and 1M, --quick: 20k and 100k):
 *   1. generates the sources once into bench/out/data-<size>-seed42/ (reused when its marker file exists);
 *   2. baseline: reads every source file with the project's readers, no processing (best of 2 rounds,
 *      in a child process): the irreducible I/O + parse cost;
 *   3. refresh #1 in a child process (bench/refresh-child.ts, CHILD_FLAGS) on a fresh
 *      SQLite store in a temp dir: stage times, wall time, peak RSS, GC time;
 *   4. pairwise precision / recall / F1 of AlternateKey against truth.csv;
 *   5. refresh #2 on the same store with unchanged data: time, and how many CustomerIds changed (must be 0).
 * Prints a table per size, writes bench/results/refresh-<date>.json (-quick / -<sizes> for other
 * size sets) and the section "## Refresh (batch unification)" of BENCHMARKS.md; --no-report writes
 * neither. --profile also writes V8 CPU profiles of both refreshes (and the child's JSON line) to
 * bench/out/profiles/; summarise them with bench/cpuprofile-summary.ts.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSyntheticSources, SYNTHETIC_LAYOUT, type GenerateResult } from '../src/synthetic/generate.js';
import { machine, updateBenchmarksMd } from './report.js';
import { REFRESH_PROCESS_FLAGS } from '../src/refresh/pipeline.js';
import pg from 'pg';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'bench', 'out');
const RESULTS = path.join(ROOT, 'bench', 'results');
const CHILD = path.join(ROOT, 'bench', 'refresh-child.ts');
const SEED = 42;
const MARKER = '.kindred-bench-complete.json';
// The child runs the refresh in its main thread with the flags of the product's refresh process
// (REFRESH_PROCESS_FLAGS in pipeline.ts: garbage collection on that thread only, semi-spaces of a
// fixed size, no full collection before the old generation holds REFRESH_INITIAL_OLD_GENERATION_MIB).
const CHILD_FLAGS = ['--max-old-space-size=6144', ...REFRESH_PROCESS_FLAGS];
const SQLITE_SECTION = '## Refresh (batch unification)';

// --- arguments ----------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const option = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = flag('quick');
const profile = flag('profile');
const writeReport = !flag('no-report');
const databaseUrl = option('database-url');
const SECTION = databaseUrl ? '## Refresh on PostgreSQL' : SQLITE_SECTION;
const sizes = (option('sizes') ?? (quick ? '20000,100000' : '100000,1000000')).split(',').map((s) => {
  const n = Number(s.replace(/_/g, ''));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--sizes: not a positive integer: ${s}`);
  return n;
});
const command = `node --import tsx bench/refresh.ts${argv.length ? ' ' + argv.join(' ') : ''}`;
const started = Date.now();
const log = (msg: string) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${msg}\n`);

// --- types of what the child prints -------------------------------------------------------------
interface StageOut {
  name: string;
  status: string;
  durationMs: number | null;
  counts: Record<string, number>;
  issues: { message: string; count: number }[];
}
interface RefreshOut {
  phase: 'first' | 'second';
  status: string;
  generation: number;
  wallMs: number;
  maxRssMiB: number;
  rssBeforeMiB: number;
  heapUsedAfterMiB: number;
  gcMs: number;
  gcByStage: Record<string, number>;
  stages: StageOut[];
  memory: { stage: string; sampledPeakRssMiB: number; sampledPeakHeapMiB: number; endRssMiB: number; endHeapUsedMiB: number; endExternalMiB: number }[];
  cpu?: { stage: string; userMs: number; systemMs: number; fsReadOps: number; fsWriteOps: number; voluntarySwitches: number; startUs: number; endUs: number }[];
  loadAvg?: number[];
  summary: Record<string, number>;
  scores: { records: number; truePairs: number; predictedPairs: number; correctPairs: number; precision: number; recall: number; f1: number };
  truthRecords: number;
  alternateKeys: number;
  idCheck: { compared: number; changed: number; missing: number; added: number; samples: string[] } | null;
  scoringMs: number;
  dbBytes: number;
}
interface BaselineOut {
  phase: 'baseline';
  rounds: { round: number; ms: number; rows: Record<string, number>; bytes: number }[];
  maxRssMiB: number;
}
interface SizeResult {
  size: number;
  data: { dir: string; generated: boolean; generateMs: number | null; people: number; customerRecords: number; activityRecords: number; bytes: number };
  baseline: { bestMs: number; roundsMs: number[]; rows: Record<string, number>; maxRssMiB: number };
  first: RefreshOut & { processWallMs: number };
  second: RefreshOut & { processWallMs: number };
  ratio: number;
  recordsPerSecond: number;
}

// --- steps --------------------------------------------------------------------------------------
async function ensureData(size: number): Promise<{ dir: string; result: GenerateResult; generated: boolean; generateMs: number | null }> {
  const dir = path.join(OUT, `data-${size}-seed${SEED}`);
  const marker = path.join(dir, MARKER);
  if (existsSync(marker)) {
    const saved = JSON.parse(readFileSync(marker, 'utf8')) as { result: GenerateResult };
    if (saved.result.customerRecords === size && saved.result.files.every((f) => existsSync(f))) {
      log(`data ${size}: reusing ${path.relative(ROOT, dir)}`);
      return { dir, result: saved.result, generated: false, generateMs: null };
    }
  }
  rmSync(dir, { recursive: true, force: true });
  log(`data ${size}: generating into ${path.relative(ROOT, dir)} …`);
  const t0 = performance.now();
  const result = await generateSyntheticSources({ outDir: dir, records: size, seed: SEED, instanceId: 'bench' });
  const generateMs = performance.now() - t0;
  writeFileSync(marker, JSON.stringify({ seed: SEED, records: size, generatedAt: new Date().toISOString(), generateMs, result }, null, 2));
  log(`data ${size}: ${result.customerRecords} customer records of ${result.people} people, ${result.activityRecords} activities in ${(generateMs / 1000).toFixed(1)} s`);
  return { dir, result, generated: true, generateMs };
}

/** Runs bench/refresh-child.ts and returns its JSON line (stderr passes through). */
function runChild<T>(args: string[], profileName?: string): Promise<{ out: T; processWallMs: number }> {
  const flags = [...CHILD_FLAGS];
  if (profileName) {
    const dir = path.join(OUT, 'profiles');
    mkdirSync(dir, { recursive: true });
    flags.push('--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', `${profileName}.cpuprofile`);
  }
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [...flags, '--import', 'tsx', CHILD, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (stdout += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const processWallMs = performance.now() - t0;
      if (code !== 0) return reject(new Error(`child ${args.join(' ')} exited with ${code ?? signal}\n${stdout}`));
      const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
      if (!line) return reject(new Error(`child printed no JSON line:\n${stdout}`));
      if (profileName) writeFileSync(path.join(OUT, 'profiles', `${profileName}.json`), line + '\n');
      resolve({ out: JSON.parse(line) as T, processWallMs });
    });
  });
}

async function benchSize(size: number): Promise<SizeResult> {
  const data = await ensureData(size);
  const instance = data.result.instanceFile;
  const bytes = data.result.files.filter((f) => f !== data.result.truthFile && f !== instance).reduce((n, f) => n + statSize(f), 0);

  log(`baseline ${size}: reading every source file (2 rounds) …`);
  const base = await runChild<BaselineOut>(['--phase', 'baseline', '--instance', instance, '--rounds', '2']);
  const roundsMs = base.out.rounds.map((r) => r.ms);
  const bestMs = Math.min(...roundsMs);

  const storeDir = mkdtempSync(path.join(os.tmpdir(), `kindred-bench-refresh-${size}-`));
  const ids = path.join(storeDir, 'ids-after-first.tsv');
  const schema = databaseUrl ? `kindred_bench_refresh_${size}_${process.pid}` : undefined;
  const database = databaseUrl ? ['--database-url', databaseUrl, '--database-schema', schema!] : [];
  const common = ['--store', storeDir, '--instance', instance, '--truth', data.result.truthFile, '--ids', ids, ...database];
  try {
    log(`refresh #1 ${size}: fresh store in ${storeDir} …`);
    const first = await runChild<RefreshOut>(['--phase', 'first', ...common], profile ? `refresh-${size}-first` : undefined);
    log(`refresh #2 ${size}: same store, unchanged data …`);
    const second = await runChild<RefreshOut>(['--phase', 'second', ...common], profile ? `refresh-${size}-second` : undefined);
    return {
      size,
      data: {
        dir: path.relative(ROOT, data.dir),
        generated: data.generated,
        generateMs: data.generateMs,
        people: data.result.people,
        customerRecords: data.result.customerRecords,
        activityRecords: data.result.activityRecords,
        bytes,
      },
      baseline: { bestMs, roundsMs, rows: base.out.rounds[0].rows, maxRssMiB: base.out.maxRssMiB },
      first: { ...first.out, processWallMs: first.processWallMs },
      second: { ...second.out, processWallMs: second.processWallMs },
      ratio: first.out.wallMs / bestMs,
      recordsPerSecond: data.result.customerRecords / (first.out.wallMs / 1000),
    };
  } finally {
    rmSync(storeDir, { recursive: true, force: true });
    if (databaseUrl) await dropSchema(databaseUrl, schema!);
  }
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

function statSize(f: string): number {
  try {
    return statSync(f).size;
  } catch {
    return 0;
  }
}

// --- output -------------------------------------------------------------------------------------
const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtS = (ms: number) => (ms / 1000).toFixed(2);
const pct = (x: number) => (x * 100).toFixed(2) + ' %';
const sizeLabel = (n: number) => (n >= 1_000_000 && n % 1_000_000 === 0 ? `${n / 1_000_000}M` : n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));

/** The code measured: HEAD and the source files that differ from it (others edit the tree while benchmarks run). */
function codeVersion(): { commit: string; dirtySrc: string[] } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirtySrc = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(3));
    return { commit, dirtySrc };
  } catch {
    return { commit: 'unknown', dirtySrc: [] };
  }
}

/** Markdown table of one size. */
function table(r: SizeResult): string {
  const rows: string[][] = [];
  const second = new Map(r.second.stages.map((s) => [s.name, s]));
  const mem = new Map(r.first.memory.map((m) => [m.stage, m]));
  const cpu = new Map((r.first.cpu ?? []).map((c) => [c.stage, c]));
  for (const s of r.first.stages) {
    const m = mem.get(s.name);
    const c = cpu.get(s.name);
    rows.push([
      s.name,
      fmtInt(s.durationMs ?? 0),
      pct((s.durationMs ?? 0) / r.first.wallMs).replace(' %', '%'),
      fmtInt(r.first.gcByStage[s.name] ?? 0),
      c ? `${fmtInt(c.userMs)} + ${fmtInt(c.systemMs)}` : '',
      m ? fmtInt(m.endHeapUsedMiB) : '',
      fmtInt(second.get(s.name)?.durationMs ?? 0),
    ]);
  }
  const head = ['stage', 'refresh #1 ms', 'share', 'of which GC ms', 'CPU user + sys ms', 'heap after stage MiB', 'refresh #2 ms'];
  const lines = [
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i === 0 ? ':--' : '--:')).join('|')}|`,
    ...rows.map((cols) => `| ${cols.join(' | ')} |`),
    `| **total (wall)** | **${fmtInt(r.first.wallMs)}** | 100% | ${fmtInt(r.first.gcMs)} | ${r.first.cpu ? `${fmtInt(r.first.cpu.reduce((n, c) => n + c.userMs, 0))} + ${fmtInt(r.first.cpu.reduce((n, c) => n + c.systemMs, 0))}` : ''} | | **${fmtInt(r.second.wallMs)}** |`,
  ];
  const id = r.second.idCheck;
  const summary = [
    ['customer records', `${fmtInt(r.data.customerRecords)} (${fmtInt(r.data.people)} people) + ${fmtInt(r.data.activityRecords)} activities, ${(r.data.bytes / 1024 ** 2).toFixed(0)} MiB of source files`],
    ['refresh #1 total', `${fmtS(r.first.wallMs)} s (${fmtInt(r.recordsPerSecond)} customer records/s; whole child process incl. start-up, scoring and id dump ${fmtS(r.first.processWallMs)} s)`],
    ['peak RSS (refresh #1)', `${fmtInt(r.first.maxRssMiB)} MiB (refresh #2: ${fmtInt(r.second.maxRssMiB)} MiB; baseline read: ${fmtInt(r.baseline.maxRssMiB)} MiB)`],
    ['F1 (pairwise)', `${r.first.scores.f1.toFixed(4)} (precision ${r.first.scores.precision.toFixed(4)}, recall ${r.first.scores.recall.toFixed(4)}; ${fmtInt(r.first.scores.records)} of ${fmtInt(r.first.truthRecords)} truth records scored)`],
    ['profiles', `${fmtInt(r.first.summary.profiles ?? 0)} (true people: ${fmtInt(r.data.people)})`],
    ['baseline read (readers only)', `${fmtS(r.baseline.bestMs)} s (best of ${r.baseline.roundsMs.map(fmtS).join(' / ')} s)`],
    ['refresh / baseline', `${r.ratio.toFixed(1)}×`],
    ['refresh #2 (unchanged data)', `${fmtS(r.second.wallMs)} s; CustomerIds changed: **${id?.changed ?? '?'}** of ${fmtInt(id?.compared ?? 0)} (missing ${id?.missing ?? '?'}, new ${id?.added ?? '?'}); F1 ${r.second.scores.f1.toFixed(4)}`],
  ];
  return [
    lines.join('\n'),
    '',
    '| | |',
    '|:--|:--|',
    ...summary.map(([k, v]) => `| ${k} | ${v} |`),
  ].join('\n');
}

function markdownSection(results: SizeResult[], m: ReturnType<typeof machine>, date: string, code: ReturnType<typeof codeVersion>, load: number[][], rawFile: string): string {
  const dirty = code.dirtySrc.length ? ` plus uncommitted changes to ${code.dirtySrc.map((f) => `\`${f}\``).join(', ')}` : '';
  const parts = [
    SECTION,
    '',
    `Measured ${date} by \`bench/refresh.ts\` on ${m.cores} cores, ${m.memoryGiB} GiB RAM, ${m.cpu}, Node ${m.node} (${m.platform}); ` +
      `code at commit ${code.commit}${dirty}. Load average (1 min) during the run: ${load.map((l) => l[0].toFixed(1)).join(' → ')} (the machine is shared; numbers are noisy).`,
    '',
    'Command:',
    '',
    '```sh',
    command,
    '```',
    '',
    'Synthetic data from `generateSyntheticSources` (seed 42; three systems, ~8 % duplicates, noisy copies), reused from `bench/out/`. ' +
      `Each refresh runs in its own child process (\`${CHILD_FLAGS.join(' ')}\`; the flags of the process \`kindred refresh\` and the server run a refresh in) on a fresh ${databaseUrl ? 'PostgreSQL schema (local PostgreSQL 15, synchronous_commit on, same machine)' : 'SQLite store in a temp dir'}; peak RSS${databaseUrl ? " (of the Kindred process; PostgreSQL's own memory is not counted)" : ''} is ` +
      '`process.resourceUsage().maxRSS` read as soon as `runRefresh` returns. The baseline reads every source file with the project\'s ' +
      'readers (`openDelimited` / `readJsonl`) and does nothing else (best of 2, own child process). F1 is pairwise, AlternateKey vs. `truth.csv`. ' +
      'Refresh #2 runs again on the same store with unchanged data; every CustomerId must stay the same. ' +
      '"heap after stage" is V8 heapUsed when the stage ends; "of which GC" sums the GC pauses observed during the stage; ' +
      '"CPU" is the process\'s user + system CPU time during the stage (all threads, so it can exceed the wall time).',
    '',
  ];
  for (const r of results) {
    parts.push(`### ${sizeLabel(r.size)} customer records`, '', table(r), '');
  }
  const targets = results.filter((r) => r.size === 1_000_000);
  for (const r of targets) {
    const okTime = r.first.wallMs < 60_000;
    const okMem = r.first.maxRssMiB < 4096;
    parts.push(
      `Target for 1M (under 60 s, under 4 GiB peak RSS): ${okTime ? 'met' : '**missed**'} for time (${fmtS(r.first.wallMs)} s), ` +
        `${okMem ? 'met' : '**missed**'} for memory (${fmtInt(r.first.maxRssMiB)} MiB).`,
      '',
    );
  }
  parts.push(`Raw figures: \`${rawFile}\`.`, '');
  return parts.join('\n');
}

/** refresh-<date>.json for the default sizes, refresh-<date>-quick.json for --quick, else refresh-<date>-<sizes>.json. */
function resultsName(date: string): string {
  const suffix = option('sizes') ? `-${sizes.map(sizeLabel).join('-')}` : quick ? '-quick' : '';
  return `refresh-${databaseUrl ? 'postgres-' : ''}${date}${suffix}.json`;
}

// --- main ---------------------------------------------------------------------------------------
const m = machine();
const code = codeVersion();
const load: number[][] = [os.loadavg()];
log(`sizes ${sizes.map(sizeLabel).join(', ')}; ${m.cores} cores, ${m.memoryGiB} GiB, ${m.cpu}, Node ${m.node}`);
const results: SizeResult[] = [];
for (const size of sizes) {
  const r = await benchSize(size);
  results.push(r);
  load.push(os.loadavg());
  process.stdout.write(`\n### ${sizeLabel(size)} customer records\n\n${table(r)}\n\n`);
}
const now = new Date();
const date = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`;
// --results-file FILE: the raw figures go there, even with --no-report (bench/run-all.ts reads them);
// a report without it writes them to bench/results/refresh-<date>.json.
const resultsFileOption = option('results-file');
const resultsFile = resultsFileOption ? path.resolve(resultsFileOption) : writeReport ? path.join(RESULTS, resultsName(date)) : undefined;
if (resultsFile) {
  mkdirSync(path.dirname(resultsFile), { recursive: true });
  writeFileSync(resultsFile, JSON.stringify({ date: now.toISOString(), command, machine: m, code, loadAverage: load, layout: SYNTHETIC_LAYOUT, results }, null, 2) + '\n');
  log(`raw figures: ${path.relative(ROOT, resultsFile)}`);
}
if (writeReport) {
  updateBenchmarksMd(SECTION, markdownSection(results, m, date, code, load, path.relative(ROOT, resultsFile!)));
  log(`BENCHMARKS.md: section "${SECTION.slice(3)}" written`);
}
let failed = false;
for (const r of results) {
  if (r.second.idCheck?.changed !== 0 || r.second.idCheck.missing !== 0) {
    process.stderr.write(`FAIL ${sizeLabel(r.size)}: ${r.second.idCheck?.changed} CustomerIds changed, ${r.second.idCheck?.missing} missing on an unchanged refresh\n`);
    for (const s of r.second.idCheck?.samples ?? []) process.stderr.write(`  ${s}\n`);
    failed = true;
  }
}
log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
if (failed) process.exitCode = 1;
