// Shared by the PostgreSQL adapter's files: the query helpers, transactions, bulk inserts and SQL fragments.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { inAttributeOrder, type ActivityRecord } from '../../domain/profile.js';

export type Row = Record<string, unknown>;

/** A pool (one statement, autocommit) or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

/** UnifiedActivity's attributes in the order SQLite returns them (the order they are built in). */
const ACTIVITY_ORDER: Record<keyof ActivityRecord, true> = {
  ActivityId: true,
  CustomerId: true,
  ActivityTime: true,
  ActivityType: true,
  ActivityTypeDisplay: true,
  SourceEntityName: true,
  SourceActivityId: true,
  DataSourceName: true,
  Title: true,
  Description: true,
  Url: true,
  Icon: true,
  ShowInTimeline: true,
  Origin: true,
  ValidUntil: true,
};
const ACTIVITY_ATTRIBUTES = Object.keys(ACTIVITY_ORDER);

/**
 * An activity read from a jsonb column with its attributes in the usual order: jsonb keeps no key
 * order of its own, and callers see the same activity on every store.
 */
export function inActivityOrder<T extends object>(data: T): T {
  return inAttributeOrder(data, ACTIVITY_ATTRIBUTES);
}

/** The generation readers see, for statements that bind the instance id as $n. */
export const current = (n: number) => `(SELECT current_generation FROM instances WHERE id = $${n})`;

export async function rows(q: Queryable, sql: string, params: unknown[] = []): Promise<Row[]> {
  return (await q.query(sql, params)).rows as Row[];
}

export async function one(q: Queryable, sql: string, params: unknown[] = []): Promise<Row | undefined> {
  return (await q.query(sql, params)).rows[0] as Row | undefined;
}

export async function run(q: Queryable, sql: string, params: unknown[] = []): Promise<number> {
  return (await q.query(sql, params)).rowCount ?? 0;
}

/** Runs fn in one transaction on a client of its own; rolls back if fn throws. */
export async function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(begin);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** Rows per multi-row INSERT: each column is one array parameter, so the statement stays small. */
export const INSERT_BATCH = 5000;

/**
 * Bulk insert: INSERT INTO table (columns) SELECT * FROM unnest($1::t1[], $2::t2[], ...), one
 * statement per INSERT_BATCH rows. `types` are the array element types (text, int, jsonb...); jsonb
 * values are passed as JSON text. `constants` are the leading columns shared by every row.
 */
export async function insertUnnest(
  q: Queryable,
  table: string,
  constants: { column: string; type: string; value: unknown }[],
  columns: { column: string; type: string }[],
  values: unknown[][],
): Promise<void> {
  for (let start = 0; start < values.length; start += INSERT_BATCH) {
    const batch = values.slice(start, start + INSERT_BATCH);
    const params: unknown[] = [...constants.map((c) => c.value)];
    const arrays = columns.map((c, i) => {
      params.push(batch.map((r) => r[i]));
      return `$${params.length}::${c.type === 'jsonb' ? 'text' : c.type}[]`;
    });
    const names = columns.map((_, i) => `u${i}`);
    const select = [
      ...constants.map((c, i) => `$${i + 1}::${c.type}`),
      ...columns.map((c, i) => (c.type === 'jsonb' ? `${names[i]}::jsonb` : names[i])),
    ];
    await q.query(
      `INSERT INTO ${table} (${[...constants.map((c) => c.column), ...columns.map((c) => c.column)].join(', ')})
       SELECT ${select.join(', ')} FROM unnest(${arrays.join(', ')}) AS u(${names.join(', ')})`,
      params,
    );
  }
}

/** A value in COPY's text format: \N for NULL; backslash, tab, newline and CR escaped. */
function copyText(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  const text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[\\\t\n\r]/.test(text) ? text.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]!) : text;
}
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** Text handed to the COPY stream at a time: large enough to amortise the writes, small enough to stream. */
const COPY_CHUNK_CHARS = 1 << 18;

/**
 * Bulk load with COPY ... FROM STDIN (text format): the refresh's way to write a generation, several
 * times faster than INSERTs for large row counts. Same arguments as insertUnnest; jsonb values are
 * JSON text. Runs on a client of the pool (COPY needs one connection) unless given a client.
 */
export async function copyRows(
  q: pg.Pool | pg.PoolClient,
  table: string,
  constants: { column: string; type: string; value: unknown }[],
  columns: { column: string; type: string }[],
  values: unknown[][],
): Promise<void> {
  if (!values.length) return;
  const client = 'release' in q ? q : await q.connect();
  const prefix = constants.map((c) => copyText(c.value) + '\t').join('');
  function* chunks(): Generator<string> {
    let text = '';
    for (const row of values) {
      text += prefix + row.map(copyText).join('\t') + '\n';
      if (text.length >= COPY_CHUNK_CHARS) {
        yield text;
        text = '';
      }
    }
    if (text) yield text;
  }
  const names = [...constants, ...columns].map((c) => c.column).join(', ');
  let failed: Error | undefined;
  try {
    await pipeline(Readable.from(chunks()), client.query(copyFrom(`COPY ${table} (${names}) FROM STDIN`)));
  } catch (err) {
    failed = err as Error;
    throw err;
  } finally {
    // A client whose COPY failed half-way is discarded rather than returned to the pool.
    if (client !== q) (client as pg.PoolClient).release(failed);
  }
}
