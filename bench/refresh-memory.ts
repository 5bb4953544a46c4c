/**
 * Probe of the refresh's memory: what each stage's output keeps alive. Not a fix: it runs the
 * refresh stages one by one (the same functions runRefresh calls, minus the SQLite write), forces
 * a full GC after each and records V8 heapUsed, then, at the point where everything is alive
 * (after `activities`, the peak of a refresh), releases the structures one at a time and records
 * how much each one freed.
 *
 *   node --expose-gc --max-old-space-size=6144 --import tsx bench/refresh-memory.ts [--size 100000]
 *
 * Needs the data set of bench/refresh.ts (bench/out/data-<size>-seed42/).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadInstanceDefinition } from '../src/config/load.js';
import { resolveInstance } from '../src/config/resolve.js';
import { IssueLog, Origins, type EntityRows, type StageEnv, type TypedEntityRows } from '../src/refresh/context.js';
import { pull } from '../src/refresh/pull.js';
import { normalize } from '../src/refresh/normalize.js';
import { dedupe } from '../src/refresh/dedupe.js';
import { match } from '../src/refresh/match.js';
import { merge, type MergeOutput } from '../src/refresh/merge.js';
import { activities } from '../src/refresh/activities.js';
import type { Unification } from '../src/refresh/unification.js';
import type { ActivityRecord } from '../src/domain/profile.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const i = argv.indexOf('--size');
const size = Number(i >= 0 ? argv[i + 1] : 100_000);
const dataDir = path.join(ROOT, 'bench', 'out', `data-${size}-seed42`);
const MiB = 2 ** 20;

function heap(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}
const rows: [string, number, string][] = [];
let last = heap();
const start = last;
function step(label: string, note = ''): void {
  const h = heap();
  rows.push([label, h - last, note]);
  console.log(`${label.padEnd(64)} ${((h - last) / MiB).toFixed(1).padStart(8)} MiB   heap ${(h / MiB).toFixed(0).padStart(6)} MiB  ${note}`);
  last = h;
}

const { definition, baseDir } = loadInstanceDefinition(path.join(dataDir, 'instance.yaml'));
const instance = resolveInstance(definition, baseDir);
const env = (): StageEnv => ({ instance, signal: new AbortController().signal, progress: () => {}, report: { counts: {}, issues: new IssueLog() } });

console.log(`size ${size}: retained heap (after full GC) per step; negative = freed\n`);
// Everything lives in `s` so that deleting a property really releases it.
const s: {
  pulled?: Map<string, EntityRows>;
  typed?: Map<string, TypedEntityRows>;
  u?: Unification;
  merged?: MergeOutput;
  acts?: ActivityRecord[];
} = {};
// The stages run inside a function so that no awaited value stays in the (suspended) frame of the
// module: otherwise the last result would stay reachable after it is released below.
async function runStages(): Promise<void> {
  s.pulled = await pull(env());
  let rowsRead = 0;
  for (const d of s.pulled.values()) rowsRead += d.rows.length;
  step('pull: raw rows + origin strings', `${rowsRead} rows`);
  s.typed = await normalize(env(), s.pulled);
  step('normalize: typed rows (raw rows released), keys, modified');
  delete s.pulled;
  step('  release the pulled map (its origin arrays; strings are shared)');
  s.u = await dedupe(env(), s.typed);
  step('dedupe: union-find + feature cache (normalized values)');
  s.u = await match(env(), s.u);
  step('match: (feature cache cleared at its end)');
  s.merged = await merge(env(), { unification: s.u, previousKeys: new Map(), previousHistory: new Map() });
  step('merge: customers + alternateKeys + keyRing', `${s.merged.customers.length} customers, ${s.merged.alternateKeys.length} keys`);
  s.acts = await activities(env(), s.typed, s.merged.keyRing);
  step('activities: ActivityRecord objects', `${s.acts.length} activities`);
}
await runStages();
const peak = last;
console.log(`\npeak (everything alive, as at the end of the activities stage): ${((peak - start) / MiB).toFixed(0)} MiB above start\n`);

console.log('releasing one structure at a time (what each one holds):');
delete s.acts;
step('  - activity records (kept until the end of write)');
if (!s.merged || !s.typed) throw new Error('stages did not run');
s.merged.keyRing.clear();
step('  - keyRing Map (recordKey → CustomerId; kept until the end of write)');
s.merged.alternateKeys.length = 0;
step('  - AlternateKey objects');
s.merged.customers.length = 0;
step('  - Customer objects');
delete s.merged;
step('  - rest of merge output');
// typed: peel its parts.
let nRows = 0;
for (const d of s.typed.values()) {
  nRows += d.rows.length;
  d.origin = new Origins();
}
step('  - typed origin (file and line numbers)', `${nRows} rows`);
for (const d of s.typed.values()) d.keys = [];
step('  - typed keys (trimmed primary keys)');
// Replace every string field by a fresh flat copy: frees the 128 KiB decoded chunks that sliced strings keep alive.
let copied = 0;
for (const d of s.typed.values()) {
  for (const row of d.rows) {
    for (let c = 0; c < row.length; c++) {
      const v = row[c];
      if (typeof v === 'string') {
        row[c] = Buffer.from(v, 'utf8').toString('utf8');
        copied++;
      }
    }
  }
}
step('  - …field strings replaced by flat copies (chunk text no longer retained)', `${copied} strings`);
for (const d of s.typed.values()) d.rows = [];
step('  - typed rows (value arrays + field strings)');
delete s.typed;
delete s.u;
step('  - union-find, rest');
console.log(`\nend: ${((last - start) / MiB).toFixed(0)} MiB above start`);
