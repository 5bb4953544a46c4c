// COPY bulk loading (src/storage/postgres/statements.ts copyRows): every value arrives as it was
// sent, whatever characters it holds, and a failed COPY leaves nothing behind.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { copyRows } from '../../src/storage/postgres/statements.js';
import { quoteIdentifier } from '../../src/storage/postgres/store.js';
import { freshSchema, postgresUnavailable, POSTGRES_URL } from './postgres-helpers.js';

const unavailable = await postgresUnavailable();
if (unavailable) console.log(`skipping the PostgreSQL COPY tests: ${unavailable}`);

describe('PostgreSQL COPY bulk loading', { skip: unavailable ?? false }, () => {
  let pool: pg.Pool;
  let drop: () => Promise<void>;
  before(async () => {
    const s = await freshSchema();
    drop = s.drop;
    pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2, options: `-c search_path=${quoteIdentifier(s.schema)}` });
    await pool.query(`CREATE SCHEMA ${quoteIdentifier(s.schema)}`);
    await pool.query('CREATE TABLE t (instance_id TEXT NOT NULL, generation INT NOT NULL, id TEXT PRIMARY KEY, note TEXT, data JSONB, n INT)');
  });
  after(async () => {
    await pool?.end();
    await drop?.();
  });

  const constants = [
    { column: 'instance_id', type: 'text', value: 'shop\tone' },
    { column: 'generation', type: 'int', value: 7 },
  ];
  const columns = [
    { column: 'id', type: 'text' },
    { column: 'note', type: 'text' },
    { column: 'data', type: 'jsonb' },
    { column: 'n', type: 'int' },
  ];

  it('loads awkward text, NULLs, JSON and numbers unchanged, across many chunks', async () => {
    const awkward = ['tab\there', 'new\nline', 'cr\rhere', 'back\\slash', '\\N', 'ünïcødé ✓ 𝄞', '', "quote's \"double\""];
    const values: unknown[][] = [];
    for (let i = 0; i < 20_000; i++) {
      const note = i % 10 === 9 ? null : awkward[i % awkward.length]!;
      values.push([`id-${i}`, note, JSON.stringify({ i, text: awkward[(i + 3) % awkward.length], nested: { list: [1, 'a\\b'] } }), i]);
    }
    await copyRows(pool, 't', constants, columns, values);
    const { rows } = await pool.query('SELECT instance_id, generation, id, note, data, n FROM t ORDER BY n');
    assert.equal(rows.length, values.length);
    for (let i = 0; i < values.length; i++) {
      const r = rows[i];
      assert.equal(r.instance_id, 'shop\tone');
      assert.equal(r.generation, 7);
      assert.equal(r.id, values[i]![0]);
      assert.equal(r.note, values[i]![1], `row ${i}`);
      assert.deepEqual(r.data, JSON.parse(values[i]![2] as string));
      assert.equal(r.n, i);
    }
  });

  it('a COPY that fails loads nothing, and the pool keeps working', async () => {
    await pool.query('DELETE FROM t');
    const values = [
      ['a', 'x', '{}', 1],
      ['b', 'y', '{}', 2],
      ['a', 'duplicate key', '{}', 3],
    ];
    await assert.rejects(copyRows(pool, 't', constants, columns, values), /duplicate key|unique/);
    assert.equal((await pool.query('SELECT count(*)::int AS n FROM t')).rows[0].n, 0);
    await assert.rejects(copyRows(pool, 't', constants, columns, [['c', 'x', 'not json', 1]]), /json/i);
    await copyRows(pool, 't', constants, columns, [['c', 'fine', '{"ok":true}', 4]]);
    assert.deepEqual((await pool.query('SELECT id, data FROM t')).rows, [{ id: 'c', data: { ok: true } }]);
  });

  it('writes on a client inside a transaction that rolls back', async () => {
    await pool.query('DELETE FROM t');
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await copyRows(client, 't', constants, columns, [['inside', null, null, null]]);
      assert.equal((await client.query('SELECT count(*)::int AS n FROM t')).rows[0].n, 1);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    assert.equal((await pool.query('SELECT count(*)::int AS n FROM t')).rows[0].n, 0);
  });
});
