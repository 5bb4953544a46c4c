/**
 * What each index of realtime_activities costs a real-time activity insert, in SQLite alone (no
 * HTTP, no JSON): rows shaped like the real-time writer's, committed in groups as it does, into
 * tables with the index sets below. Prints CPU and wall µs per row for each.
 *
 *   node --import tsx bench/realtime-index-cost.ts [--rows 200000] [--customers 50000] [--group 1000]
 *
 * Why: `$batch` is bounded by the single writer thread; this shows how much of its per-row cost
 * is the B-tree maintenance of random keys (ActivityId, CustomerId) rather than the row itself.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const option = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROWS = option('rows', 200_000);
const CUSTOMERS = option('customers', 50_000);
const GROUP = option('group', 1_000);

const COLUMNS = `instance_id TEXT NOT NULL, activity_id TEXT NOT NULL, customer_id TEXT NOT NULL, activity_time TEXT NOT NULL,
  valid_until TEXT NOT NULL, content_hash TEXT NOT NULL, caller TEXT, created_at TEXT NOT NULL, data TEXT NOT NULL`;
const ID = 'CREATE UNIQUE INDEX id ON ra (instance_id, activity_id)';
const CUSTOMER = 'CREATE INDEX customer ON ra (instance_id, customer_id, activity_time)';
const EXPIRY = 'CREATE INDEX expiry ON ra (valid_until)';
const VARIANTS: { name: string; table: string; indexes: string[] }[] = [
  { name: 'as stored (migration 8): id + customer + expiry', table: `CREATE TABLE ra (${COLUMNS})`, indexes: [ID, CUSTOMER, EXPIRY] },
  { name: 'id + customer', table: `CREATE TABLE ra (${COLUMNS})`, indexes: [ID, CUSTOMER] },
  { name: 'id only', table: `CREATE TABLE ra (${COLUMNS})`, indexes: [ID] },
  { name: 'no index (append only)', table: `CREATE TABLE ra (${COLUMNS})`, indexes: [] },
  {
    name: 'clustered by customer (WITHOUT ROWID) + id + expiry',
    table: `CREATE TABLE ra (${COLUMNS}, PRIMARY KEY (instance_id, customer_id, activity_time, activity_id)) WITHOUT ROWID`,
    indexes: [ID, EXPIRY],
  },
];

const customers = Array.from({ length: CUSTOMERS }, () => randomUUID());
const data = JSON.stringify({ Title: 'x'.repeat(400) });
const t0 = Date.UTC(2026, 10, 30);
const rows = Array.from({ length: ROWS }, (_, i) => [
  'demo',
  randomUUID(),
  customers[i % CUSTOMERS],
  new Date(t0 - i * 1000).toISOString(),
  new Date(t0 + 30 * 86_400_000 + i).toISOString(),
  randomUUID().replace(/-/g, ''),
  'bench',
  new Date(t0 + i).toISOString(),
  data,
]);

console.log(`${ROWS.toLocaleString('en')} rows, ${CUSTOMERS.toLocaleString('en')} customers, groups of ${GROUP}; ${os.cpus()[0]?.model}; load ${os.loadavg()[0].toFixed(1)}`);
console.log('| table and indexes | CPU µs/row | wall µs/row |\n|:--|--:|--:|');
for (const v of VARIANTS) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kindred-index-cost-'));
  const db = new Database(path.join(dir, 'x.db'));
  try {
    // As the real-time writer: WAL, synchronous=NORMAL (it syncs the WAL itself after commit).
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(v.table);
    for (const s of v.indexes) db.exec(s);
    const insert = db.prepare('INSERT INTO ra VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const group = db.transaction((from: number) => {
      for (let i = from; i < Math.min(from + GROUP, ROWS); i++) insert.run(rows[i]);
    });
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    for (let i = 0; i < ROWS; i += GROUP) group(i);
    const cpu = process.cpuUsage(cpu0);
    const wall = performance.now() - wall0;
    console.log(`| ${v.name} | ${((cpu.user + cpu.system) / ROWS).toFixed(1)} | ${((wall * 1000) / ROWS).toFixed(1)} |`);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
