// Shared by the PostgreSQL adapter's files: the query helpers, transactions, bulk inserts and SQL fragments.
import type pg from 'pg';

export type Row = Record<string, unknown>;

/** A pool (one statement, autocommit) or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

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
