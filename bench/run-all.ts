/**
 * Every benchmark scenario of the project in one run, and one summary table.
 *
 *   npm run bench                 # full: refresh at 100k and 1M, the real-time API (~10+ minutes)
 *   npm run bench -- --quick      # (= npm run bench:quick) under two minutes: refresh at 20k, short real-time runs
 *   npm run bench -- --from-results   # no measuring: the summary again from the latest full raw figures
 *   options: --no-report (print only), --skip refresh|realtime
 *
 * Runs, one after the other (never at the same time, so that they do not disturb each other):
 *   1. bench/refresh.ts: refresh of generated records (F1 against the ground truth, peak RSS, the
 *      read-only baseline, a second refresh on unchanged data);
 *   2. bench/realtime.ts: ingest (single activity, PATCH, $batch) against a bare Fastify echo server
 *      measured in the same run, reads under load (GET Customer/{id}, $filter), write-to-read latency
 *      idle and under load.
 * Then writes one table, "## Summary", at the top of BENCHMARKS.md (full runs; --quick only prints it and
 * writes bench/results/bench-<date>-quick.json) and the raw figures of the whole run to
 * bench/results/bench-<date>.json, with the machine (cores, memory, CPU, Node) and the exact commands.
 * The detailed sections below the summary are written by the two scripts themselves (full runs).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine, updateBenchmarksMd, type Machine } from './report.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = path.join(ROOT, 'bench', 'results');
const SECTION = '## Summary';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const option = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = flag('quick');
const fromResults = flag('from-results');
const skip = new Set((option('skip') ?? '').split(',').filter(Boolean));
for (const s of skip) if (!['refresh', 'realtime'].includes(s)) throw new Error(`--skip: unknown '${s}' (refresh, realtime)`);
const command = `npm run bench${argv.length ? ' -- ' + argv.join(' ') : ''}`;
const started = Date.now();
const log = (msg: string) => process.stderr.write(`[run-all ${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${msg}\n`);

// What the two scripts write (the parts read here).
interface RefreshFile {
  date: string;
  command: string;
  machine: Machine;
  code: unknown;
  results: {
    size: number;
    data: { customerRecords: number; people: number; activityRecords: number };
    baseline: { bestMs: number; maxRssMiB: number };
    first: { wallMs: number; maxRssMiB: number; scores: { precision: number; recall: number; f1: number }; summary: Record<string, number> };
    second: { wallMs: number; maxRssMiB: number; idCheck: { changed: number; missing: number; compared: number } | null };
    ratio: number;
    recordsPerSecond: number;
  }[];
}
interface RealtimeRow {
  key: string;
  name: string;
  connections: number;
  runs: number;
  requestsPerSecond: number;
  itemsPerSecond?: number;
  ratio?: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  unexpected: number;
  disturbed?: boolean;
}
interface RealtimeFile {
  date: string;
  command: string;
  machine: Machine;
  code: unknown;
  options: { duration: number; connections: number; rounds: number; batchSize: number; probeIterations: number };
  customers: number;
  echoReferenceRequestsPerSecond?: number;
  rows: RealtimeRow[];
  writeToRead: { condition: string; iterations: number; visibleMs: { p50: number; p99: number; max: number }; staleAfterAck: number; load?: { requestsPerSecond: number } }[];
}

function runScript(script: string, args: string[]): Promise<number> {
  log(`node --import tsx ${script} ${args.join(' ')}`);
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, script), ...args], { cwd: ROOT, stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/** The newest full-run file `<prefix>-YYYY-MM-DD.json` in bench/results. */
function latestFull(prefix: string): string | undefined {
  if (!existsSync(RESULTS)) return undefined;
  const re = new RegExp(`^${prefix}-\\d{4}-\\d{2}-\\d{2}\\.json$`);
  const files = readdirSync(RESULTS).filter((f) => re.test(f)).sort();
  return files.length ? path.join(RESULTS, files[files.length - 1]) : undefined;
}

function codeVersion(): { commit: string | null; srcModified: number | null } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const srcModified = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean).length;
    return { commit, srcModified };
  } catch {
    return { commit: null, srcModified: null };
  }
}

// --- the table ----------------------------------------------------------------------------------
const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtMs = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const sizeLabel = (n: number) => (n >= 1_000_000 && n % 1_000_000 === 0 ? `${n / 1_000_000}M` : n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));
const pct = (x: number | undefined) => (x === undefined ? '' : `${(x * 100).toFixed(0)} %`);

interface SummaryRow {
  area: string;
  scenario: string;
  throughput: string;
  p50: string;
  p99: string;
  reference: string;
  notes: string;
}

function summaryRows(refresh: RefreshFile | undefined, realtime: RealtimeFile | undefined): SummaryRow[] {
  const rows: SummaryRow[] = [];
  if (realtime) {
    const errs = (r: RealtimeRow) => (r.errors || r.non2xx || r.unexpected ? `**errors ${r.errors}, non-2xx ${r.non2xx}, unexpected ${r.unexpected}**` : '0 errors');
    const rowOf = (area: string, key: string, scenario: string, unit = 'req/s') => {
      const r = realtime.rows.find((x) => x.key === key);
      if (!r) return;
      rows.push({
        area,
        scenario,
        throughput: r.itemsPerSecond !== undefined && key === 'batch' ? `${fmtInt(r.itemsPerSecond)} activities/s` : `${fmtInt(r.requestsPerSecond)} ${unit}`,
        p50: fmtMs(r.p50),
        p99: fmtMs(r.p99),
        reference: key === 'baseline' ? 'the reference' : r.ratio !== undefined ? `${pct(r.ratio)} of echo` : '',
        notes: `${r.connections} conns${r.runs > 1 ? `, median of ${r.runs} runs` : ''}; ${errs(r)}${r.disturbed ? '; disturbed by other processes' : ''}`,
      });
    };
    rowOf('baseline', 'baseline', 'bare Fastify echo, POST /echo (same bodies as activities)');
    rowOf('ingest', 'activity', 'POST UnifiedActivity (one activity)');
    rowOf('ingest', 'patch', 'PATCH Customer/{id}');
    rowOf('ingest', 'batch', `POST UnifiedActivity/$batch (${fmtInt(realtime.options.batchSize)} activities)`);
    rowOf('reads under load', 'get', 'GET Customer/{id}');
    rowOf('reads under load', 'filter', "GET Customer?$filter=CustomerId eq '…'");
    for (const w of realtime.writeToRead)
      rows.push({
        area: 'write-to-read',
        scenario: `PATCH, then GET on another connection until it shows: ${w.condition}`,
        throughput: w.load ? `(load ${fmtInt(w.load.requestsPerSecond)} req/s)` : '',
        p50: fmtMs(w.visibleMs.p50),
        p99: fmtMs(w.visibleMs.p99),
        reference: 'target < 1,000 ms',
        notes: `${w.iterations} writes; max ${fmtMs(w.visibleMs.max)} ms; stale reads after the ack: ${w.staleAfterAck}`,
      });
  }
  if (refresh)
    for (const r of refresh.results) {
      const id = r.second.idCheck;
      rows.push({
        area: 'refresh',
        scenario: `${sizeLabel(r.size)} customer records (${fmtInt(r.data.people)} people, ${fmtInt(r.data.activityRecords)} activities), first refresh`,
        throughput: `${fmtInt(r.recordsPerSecond)} records/s (${(r.first.wallMs / 1000).toFixed(1)} s)`,
        p50: '',
        p99: '',
        reference: `${r.ratio.toFixed(1)}× the read-only baseline (${(r.baseline.bestMs / 1000).toFixed(1)} s)`,
        notes:
          `**F1 ${r.first.scores.f1.toFixed(4)}** (P ${r.first.scores.precision.toFixed(4)}, R ${r.first.scores.recall.toFixed(4)}); **peak RSS ${fmtInt(r.first.maxRssMiB)} MiB**; ` +
          `refresh #2 on unchanged data ${(r.second.wallMs / 1000).toFixed(1)} s, CustomerIds changed ${id ? id.changed : '?'}`,
      });
    }
  return rows;
}

function textTable(rows: SummaryRow[]): string {
  const head = ['area', 'scenario', 'throughput', 'p50 ms', 'p99 ms', 'against', 'notes'];
  const cells = rows.map((r) => [r.area, r.scenario, r.throughput, r.p50, r.p99, r.reference, r.notes.replace(/\*\*/g, '')]);
  const widths = head.map((h, i) => Math.min(70, Math.max(h.length, ...cells.map((c) => c[i].length))));
  const line = (c: string[]) => c.map((x, i) => (i >= 2 && i <= 4 ? x.padStart(widths[i]) : x.padEnd(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

function markdown(o: {
  rows: SummaryRow[];
  m: Machine;
  date: string;
  /** Which code was measured. */
  codeNote: string;
  commands: string[];
  sources: string[];
  soak?: { file: string; ok: boolean; minutes: number; errors: number; flat: boolean };
  rendered: boolean;
}): string {
  const { m } = o;
  return [
    SECTION,
    '',
    `One row per scenario; details in the sections below. ${o.rendered ? 'Rendered again from the raw figures of the latest full runs' : `Measured ${o.date}`} on ` +
      `**${m.cores} cores, ${m.memoryGiB} GiB RAM, ${m.cpu}, Node ${m.node}** (${m.platform}); ${o.codeNote}. The machine is shared with other work: figures are noisy, and each ` +
      'load figure is compared with the bare Fastify echo server measured in the same run.',
    '',
    'Reproduce:',
    '',
    '```sh',
    ...o.commands,
    '```',
    '',
    '| area | scenario | throughput | p50 ms | p99 ms | against | notes |',
    '|:--|:--|--:|--:|--:|:--|:--|',
    ...o.rows.map((r) => `| ${[r.area, r.scenario, r.throughput, r.p50, r.p99, r.reference, r.notes].map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`),
    '',
    ...(o.soak
      ? [
          `Soak (not part of \`npm run bench\`: \`npm run soak -- --minutes ${o.soak.minutes}\`): ${o.soak.ok ? 'passed' : '**failed**'}, ${o.soak.errors} errors, memory ${o.soak.flat ? 'flat' : '**growing**'}; see "Soak" below and \`${o.soak.file}\`.`,
          '',
        ]
      : []),
    `Raw figures: ${o.sources.map((s) => `\`${s}\``).join(', ')}.`,
  ].join('\n');
}

function latestSoak(): { file: string; ok: boolean; minutes: number; errors: number; flat: boolean } | undefined {
  if (!existsSync(RESULTS)) return undefined;
  const files = readdirSync(RESULTS)
    .filter((f) => /^soak-\d{4}-\d{2}-\d{2}(-[\d.]+min)?\.json$/.test(f))
    .map((f) => ({ f, raw: JSON.parse(readFileSync(path.join(RESULTS, f), 'utf8')) as { date: string; ok: boolean; errors: number; options: { minutes: number }; memoryCheck: { flat: boolean } } }))
    .sort((a, b) => b.raw.options.minutes - a.raw.options.minutes || b.raw.date.localeCompare(a.raw.date));
  const best = files[0];
  return best && { file: `bench/results/${best.f}`, ok: best.raw.ok, minutes: best.raw.options.minutes, errors: best.raw.errors, flat: best.raw.memoryCheck.flat };
}

async function main(): Promise<number> {
  const m = machine();
  const now = new Date();
  const date = now.toISOString().slice(0, 10);
  let refresh: RefreshFile | undefined;
  let realtime: RealtimeFile | undefined;
  const commands: string[] = [];
  const sources: string[] = [];
  let failures = 0;
  let tmp: string | undefined;
  const read = <T>(file: string) => JSON.parse(readFileSync(file, 'utf8')) as T;

  if (fromResults) {
    const rf = latestFull('refresh');
    const rt = latestFull('realtime');
    if (!rf && !rt) throw new Error('--from-results: no bench/results/refresh-<date>.json or realtime-<date>.json');
    if (rf && !skip.has('refresh')) {
      refresh = read<RefreshFile>(rf);
      sources.push(path.relative(ROOT, rf));
      commands.push(`${refresh.command}   # ${refresh.date.slice(0, 16).replace('T', ' ')} UTC`);
    }
    if (rt && !skip.has('realtime')) {
      realtime = read<RealtimeFile>(rt);
      sources.push(path.relative(ROOT, rt));
      commands.push(`${realtime.command}   # ${realtime.date.slice(0, 16).replace('T', ' ')} UTC`);
    }
    commands.unshift('npm run bench   # runs both of these, then writes this table');
  } else {
    log(`${quick ? 'quick' : 'full'} run on ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}`);
    commands.push(command);
    mkdirSync(RESULTS, { recursive: true });
    tmp = quick ? mkdtempSync(path.join(os.tmpdir(), 'kindred-bench-all-')) : undefined;
    if (!skip.has('refresh')) {
      const file = quick ? path.join(tmp!, 'refresh.json') : path.join(RESULTS, `refresh-${date}.json`);
      const args = quick ? ['--sizes', '10000', '--no-report', '--results-file', file] : ['--results-file', file];
      const code = await runScript('bench/refresh.ts', args);
      if (code !== 0) failures++;
      if (existsSync(file)) {
        refresh = read<RefreshFile>(file);
        if (!quick) sources.push(path.relative(ROOT, file));
      } else log(`bench/refresh.ts wrote no figures (exit ${code})`);
    }
    if (!skip.has('realtime')) {
      const file = quick ? path.join(tmp!, 'realtime.json') : path.join(RESULTS, `realtime-${date}.json`);
      const args = quick
        ? ['--quick', '--duration', '2', '--probe-iterations', '100', '--quiet-wait', '0', '--no-report', '--results-file', file]
        : ['--results-file', file];
      const code = await runScript('bench/realtime.ts', args);
      if (code !== 0) failures++;
      if (existsSync(file)) {
        realtime = read<RealtimeFile>(file);
        if (!quick) sources.push(path.relative(ROOT, file));
      } else log(`bench/realtime.ts wrote no figures (exit ${code})`);
    }
  }

  const rows = summaryRows(refresh, realtime);
  process.stdout.write(`\n${quick ? 'QUICK (short runs, 10k records; not comparable with full runs)\n' : ''}${textTable(rows)}\n\n`);
  const code = codeVersion();
  const soak = latestSoak();
  const summaryFile = path.join(RESULTS, `bench-${date}${quick ? '-quick' : ''}.json`);
  if (!flag('no-report')) {
    writeFileSync(
      summaryFile,
      JSON.stringify(
        {
          date: now.toISOString(),
          command: fromResults ? command : commands[0],
          quick,
          renderedFromResults: fromResults,
          machine: m,
          code,
          wallS: (Date.now() - started) / 1000,
          rows,
          sources,
          soak,
          // Quick runs keep the scripts' raw figures here (full runs: in the files under sources).
          ...(quick ? { refresh, realtime } : {}),
        },
        null,
        2,
      ) + '\n',
    );
    log(`raw figures: ${path.relative(ROOT, summaryFile)}`);
    if (!quick) {
      sources.unshift(path.relative(ROOT, summaryFile));
      const commitOf = (c: unknown) => {
        const x = c as { commit?: string | null; dirtySrc?: string[]; srcModified?: number | null } | undefined;
        const dirty = x?.dirtySrc?.length ?? x?.srcModified ?? 0;
        return `${x?.commit ?? '?'}${dirty ? ` (+${dirty} uncommitted src/ change(s))` : ''}`;
      };
      const codeNote = fromResults
        ? `code: ${[refresh && `refresh at commit ${commitOf(refresh.code)}`, realtime && `real-time at commit ${commitOf(realtime.code)}`].filter(Boolean).join(', ')}`
        : `code at commit ${commitOf(code)}`;
      updateBenchmarksMd(SECTION, markdown({ rows, m: fromResults ? (refresh?.machine ?? realtime?.machine ?? m) : m, date, codeNote, commands, sources, soak, rendered: fromResults }), { top: true });
      log(`BENCHMARKS.md: section "${SECTION.slice(3)}" written at the top`);
    }
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s${failures ? `; ${failures} script(s) failed` : ''}`);
  return failures ? 1 : 0;
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (err) {
  process.stderr.write(`bench/run-all.ts failed: ${(err as Error).stack ?? String(err)}\n`);
}
process.exit(exitCode);
