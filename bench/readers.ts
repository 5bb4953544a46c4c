// Micro-benchmark for the source-file readers: node --import tsx bench/readers.ts [rows]
// Writes a CSV (10 columns, some quoted fields) and a JSONL file to os.tmpdir(), times reading
// each, prints rows/second and deletes the files.
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDelimited } from '../src/refresh/readers/delimited.js';
import { readJsonl } from '../src/refresh/readers/jsonl.js';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const COLUMNS = ['id', 'first_name', 'last_name', 'email', 'phone', 'street', 'city', 'postcode', 'country', 'updated_at'];
const FIRST = ['anna', 'bob', 'chloé', 'dmitri', 'eve', 'françois', 'gina', 'hiro', 'ines', 'jürgen'];
const LAST = ['smith', "o'neil", 'müller', 'nguyen', 'garcia', 'kowalski', 'tanaka', 'rossi', 'dubois', 'khan'];
const CITY = ['Paris', 'Berlin', 'New York', 'São Paulo', 'Tokyo', 'Lagos', 'Sydney', 'Toronto', 'Madrid', 'Oslo'];

function record(i: number): string[] {
  const f = FIRST[i % 10];
  const l = LAST[(i * 7) % 10];
  return [
    `cust-${i}`,
    f,
    l,
    `${f}.${l}${i}@example.com`,
    `+33 6 ${String(10000000 + ((i * 7919) % 89999999)).replace(/(\d\d)(?=\d)/g, '$1 ')}`,
    `${(i % 200) + 1} ${i % 13 === 0 ? 'Rue de la Paix, Bât. B' : 'Main Street'}`,
    CITY[(i * 3) % 10],
    String(10000 + (i % 89999)),
    'FR',
    `2024-0${(i % 9) + 1}-1${i % 10}T12:00:00Z`,
  ];
}

function csvField(v: string): string {
  return /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

async function writeLines(file: string, lines: (i: number) => string): Promise<void> {
  const out = createWriteStream(file);
  let buf = '';
  for (let i = 0; i < ROWS; i++) {
    buf += lines(i);
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
}

async function time(label: string, file: string, run: () => Promise<number>): Promise<void> {
  const mb = statSync(file).size / 1024 / 1024;
  const t0 = performance.now();
  const n = await run();
  const s = (performance.now() - t0) / 1000;
  if (n !== ROWS) throw new Error(`${label}: read ${n} rows, expected ${ROWS}`);
  console.log(
    `${label.padEnd(22)} ${n.toLocaleString('en')} rows, ${mb.toFixed(0)} MB in ${s.toFixed(2)} s: ` +
      `${Math.round(n / s).toLocaleString('en')} rows/s, ${(mb / s).toFixed(0)} MB/s`,
  );
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'kindred-bench-readers-'));
try {
  const csv = path.join(dir, 'customers.csv');
  const jsonl = path.join(dir, 'customers.jsonl');
  console.log(`writing ${ROWS.toLocaleString('en')} rows to ${dir} ...`);
  await writeLines(csv, (i) => (i === 0 ? COLUMNS.join(',') + '\n' : '') + record(i).map(csvField).join(',') + '\n');
  await writeLines(jsonl, (i) => {
    const r = record(i);
    return JSON.stringify(Object.fromEntries(COLUMNS.map((c, k) => [c, r[k]]))) + '\n';
  });

  for (let round = 1; round <= 3; round++) {
    console.log(`round ${round}`);
    await time('csv (openDelimited)', csv, async () => {
      const { header, rows } = await openDelimited(csv);
      if (header?.length !== 10) throw new Error('bad header');
      let n = 0;
      for await (const row of rows) {
        if (row.fields.length !== 10) throw new Error(`line ${row.line}: ${row.fields.length} fields`);
        n++;
      }
      return n;
    });
    await time('jsonl (readJsonl)', jsonl, async () => {
      let n = 0;
      for await (const { record } of readJsonl(jsonl)) if (record.id !== undefined) n++;
      return n;
    });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
