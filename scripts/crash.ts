/**
 * Crash test of the real-time write path (acknowledged writes survive SIGKILL).
 *
 *   npm run test:crash [-- --kills 12] [--seed N] [--clients 32] [--kill-after 300-3000] [--refresh-every 3] [--json FILE] [--report]
 *
 * Starts `kindred serve --demo` as a child process on a temp data dir, sends real-time writes over
 * many connections, kills it with SIGKILL at a random (seeded) moment, restarts it on the same data
 * dir and checks every acknowledged write is there and no rejected one is; repeated --kills times
 * (see test/proof/crash-harness.ts). Prints the seed (rerun with --seed to repeat the choices) and
 * the totals; exits 1 if any write was lost, a rejected write was found, or the server answered 5xx.
 * --report also writes bench/results/crash-<date>.json and the "Durability (crash test)" section of BENCHMARKS.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { machine, updateBenchmarksMd } from '../bench/report.js';
import { REPO } from '../test/proof/server-process.js';
import { runCrashTest } from '../test/proof/crash-harness.js';

const argv = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const int = (name: string, fallback: number, min = 0): number => {
  const raw = option(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${name}: expected an integer >= ${min}, got ${raw}\n`);
    process.exit(2);
  }
  return n;
};
const killAfter = (option('kill-after') ?? '300-3000').split('-').map(Number);
if (killAfter.length !== 2 || killAfter.some((n) => !Number.isFinite(n) || n < 0) || killAfter[0] > killAfter[1]) {
  process.stderr.write(`--kill-after: expected MIN-MAX in ms, e.g. 300-3000\n`);
  process.exit(2);
}
const seed = int('seed', Math.floor(Math.random() * 2 ** 31));
const refreshEvery = int('refresh-every', 3);
const started = Date.now();
const log = (m: string) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${m}\n`);

const report = await runCrashTest({
  kills: int('kills', 12, 1),
  seed,
  clients: int('clients', 32, 1),
  killAfterMs: killAfter as [number, number],
  refreshEvery,
  log,
});
const json = option('json');
if (json) writeFileSync(json, JSON.stringify(report, null, 2) + '\n');
const ok = report.lost === 0 && report.rejectedFound === 0 && report.serverErrors === 0 && report.problems.length === 0;
process.stdout.write(
  [
    '',
    `crash test, seed ${report.seed} (rerun: npm run test:crash -- --seed ${report.seed} --kills ${report.kills} --clients ${report.clients} --kill-after ${killAfter.join('-')} --refresh-every ${refreshEvery})`,
    `  kills (SIGKILL + restart):        ${report.kills}`,
    `  write items acknowledged (2xx):   ${report.acknowledged} (${report.acknowledgedActivities} activities, ${report.acknowledgedProfileValues} profile attribute values, ${report.superseded} of them later overwritten by an acknowledged write)`,
    `  checked at the last restart:      ${report.checked}`,
    `  found, present and correct:       ${report.found}`,
    `  lost:                             ${report.lost}`,
    `  rejected (4xx) items:             ${report.rejected}; found stored: ${report.rejectedFound}`,
    `  requests in flight at a kill:     ${report.inFlight} (items found committed afterwards: ${report.inFlightFound})`,
    `  503/429 (refused, nothing stored): ${report.refused}`,
    `  other 5xx answers:                ${report.serverErrors}`,
    ...report.problems.slice(0, 20).map((p) => `  PROBLEM ${p}`),
    ok ? 'PASS: 0 acknowledged writes lost' : 'FAIL',
    '',
  ].join('\n'),
);
if (argv.includes('--report')) {
  const date = new Date().toISOString().slice(0, 10);
  const file = path.join(REPO, 'bench', 'results', `crash-${date}.json`);
  const m = machine();
  let commit = '?';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  const command = `npm run test:crash -- ${argv.join(' ')}`;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), command, machine: m, commit, ok, report }, null, 2) + '\n');
  const r = report;
  updateBenchmarksMd(
    '## Durability (crash test)',
    [
      '## Durability (crash test)',
      '',
      `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${m.cores} cores, Node ${m.node}, code at commit ${commit}: **${ok ? 'PASS' : 'FAIL'}, ${r.lost} acknowledged writes lost over ${r.kills} kills** (seed ${r.seed}).`,
      '',
      '```sh',
      command,
      '```',
      '',
      `\`kindred serve --demo\` runs as a child process; ${r.clients} clients send, one request at a time each, single activities (unified and source format, some for unknown customers), ` +
        'profile PATCHes (some with a bad date), $batch of activities (JSON and NDJSON, a few bad items) and $batch of profile updates, plus conflicting re-posts of stored activities; ' +
        `the server gets SIGKILL at a random moment, is restarted on the same data dir, and every acknowledged write is read back over HTTP` +
        (refreshEvery ? ` (in every ${({ 1: '', 2: 'second ', 3: 'third ' } as Record<number, string>)[refreshEvery] ?? `${refreshEvery}th `}round a refresh was started just before the load).` : '.') +
        ' The check is cumulative: writes acknowledged before the first kill must still be there after the last.',
      '',
      '| kills | write items acknowledged (2xx) | checked at the last restart | found, correct | lost | rejected (4xx) | rejected found | requests in flight at a kill | 5xx |',
      '|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
      `| ${r.kills} | ${r.acknowledged} (${r.acknowledgedActivities} activities, ${r.acknowledgedProfileValues} profile values) | ${r.checked} | ${r.found} | **${r.lost}** | ${r.rejected} | ${r.rejectedFound} | ${r.inFlight} | ${r.serverErrors} |`,
      '',
      `Profile values overwritten by a later acknowledged write of the same attribute (${r.superseded}) are checked through the later one. Raw figures: \`bench/results/${path.basename(file)}\`.`,
    ].join('\n'),
  );
  process.stderr.write(`raw figures: bench/results/${path.basename(file)}; BENCHMARKS.md section "Durability (crash test)" written\n`);
}
process.exit(ok ? 0 : 1);
