/**
 * CPU per activity of each stage of a real-time $batch, in process, without HTTP: preparing the
 * writes (validation, content hash), copying them to the writer thread (structured clone), and
 * applying them in SQLite (one transaction per group, then the WAL sync). Stages are run one after
 * the other on the same data so each figure is that stage alone.
 *
 *   node --import tsx bench/realtime-batch-stages.ts [--groups 20] [--group-size 1000] [--rounds 3] [--pragma 'name=value;...']
 *
 * The SQLite stage runs on a real-time connection in this thread with SQLite's own checkpointing
 * (the server checkpoints in a thread of its own, realtime-checkpointer.ts); --pragma sets pragmas
 * on that connection first, e.g. --pragma 'wal_autocheckpoint=8000'.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { prepareUnifiedActivity } from '../src/realtime/ingest.js';
import type { RealtimeWrite } from '../src/domain/realtime.js';
import { applyDemo } from '../src/cli/commands/serve.js';
import { openServices } from '../src/services.js';
import { WalSync } from '../src/storage/sqlite/durability.js';
import { decodeResults, encodeWrites, RealtimeApplier, type AppliedGroup, type EncodedWrite } from '../src/storage/sqlite/realtime-apply.js';
import { openRealtimeConnection } from '../src/storage/sqlite/realtime-writer.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const groups = opt('groups', 20);
const groupSize = opt('group-size', 1000);
const rounds = opt('rounds', 3);

const dir = mkdtempSync(path.join(os.tmpdir(), 'kindred-stages-'));
const services = await openServices({ dataDir: path.join(dir, 'data'), sweepIntervalMs: 0 });
await applyDemo(services, () => {});
const ids = (await services.store.queryEntity('demo', 'Customer', { attributes: { CustomerId: 'string' }, orderby: [], top: 1000, skip: 0, count: false }, new Date().toISOString())).rows.map(
  (r) => r.CustomerId as string,
);
const file = path.join(dir, 'data', 'kindred.db');
const db = openRealtimeConnection(file);
const pragmas = argv.indexOf('--pragma') >= 0 ? argv[argv.indexOf('--pragma') + 1].split(';') : [];
for (const p of pragmas) db.pragma(p);
const applier = new RealtimeApplier(db);
const wal = new WalSync(`${file}-wal`);

let seq = 0;
const body = () => {
  const n = seq++;
  return {
    ActivityId: `stage-${n}-${(n * 2654435761) % 4294967296}`,
    CustomerId: ids[n % ids.length],
    ActivityTime: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString(),
    ActivityType: 'PageView',
    Title: 'bench page view',
    Url: `https://example.com/p/${n % 97}`,
  };
};

const cpuUs = (f: () => void): number => {
  const c0 = process.cpuUsage();
  f();
  const c = process.cpuUsage(c0);
  return c.user + c.system;
};

const results: Record<string, number[]> = {};
const record = (name: string, us: number, items: number) => (results[name] ??= []).push(us / items);

for (let round = 0; round < rounds; round++) {
  const bodies = Array.from({ length: groups }, () => Array.from({ length: groupSize }, body));
  const texts = bodies.map((b) => JSON.stringify(b));
  let parsed: unknown[][] = [];
  record('parse JSON', cpuUs(() => (parsed = texts.map((t) => JSON.parse(t) as unknown[]))), groups * groupSize);
  let prepared: RealtimeWrite[][] = [];
  const ctx = { instanceId: 'demo', now: Date.now() };
  record(
    'prepare (validate + hash)',
    cpuUs(() => {
      prepared = parsed.map((items) =>
        items.map((item) => {
          const o = prepareUnifiedActivity(ctx, item);
          if (!o.ok) throw new Error(JSON.stringify(o.problems));
          return o.value;
        }),
      );
    }),
    groups * groupSize,
  );
  let encoded: EncodedWrite[][] = [];
  record('encode (main thread)', cpuUs(() => (encoded = prepared.map(encodeWrites))), groups * groupSize);
  let copies: EncodedWrite[][] = [];
  record('copy to writer thread', cpuUs(() => (copies = encoded.map((g) => deserialize(serialize(g)) as EncodedWrite[]))), groups * groupSize);
  let applyUs = 0;
  let syncUs = 0;
  const applied: AppliedGroup[] = [];
  for (const g of copies) {
    applyUs += cpuUs(() => {
      const r = applier.applyEncoded(g);
      if (r.statuses.some((x) => x !== 0)) throw new Error('not created');
      applied.push(r);
    });
    const c0 = process.cpuUsage();
    await wal.sync();
    const c = process.cpuUsage(c0);
    syncUs += c.user + c.system;
  }
  let answers: AppliedGroup[] = [];
  record('copy results back', cpuUs(() => (answers = applied.map((a) => deserialize(serialize(a)) as AppliedGroup))), groups * groupSize);
  record('decode results', cpuUs(() => answers.forEach((a, g) => decodeResults(prepared[g], a))), groups * groupSize);
  record('apply (SQLite transaction)', applyUs, groups * groupSize);
  record('WAL sync', syncUs, groups * groupSize);
}
const rows = (db.prepare('SELECT count(*) AS n FROM realtime_activities').get() as { n: number }).n;
console.log(`${groups} groups of ${groupSize} activities, ${rounds} rounds; ${rows.toLocaleString('en-US')} real-time activities stored at the end`);
for (const [name, perItem] of Object.entries(results)) {
  console.log(`${name.padEnd(28)} CPU µs/activity by round: ${perItem.map((x) => x.toFixed(1).padStart(6)).join(' ')}`);
}
wal.close();
db.close();
await services.close();
rmSync(dir, { recursive: true, force: true });
