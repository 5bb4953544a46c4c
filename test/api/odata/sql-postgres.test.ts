// The OData filter compiler's PostgreSQL dialect against a real PostgreSQL: the same rows and cases
// as sql.test.ts (SQLite), over jsonb records read the way the PostgreSQL store reads them. Row
// c14 of sql.test.ts (values of the wrong JSON type) is left out: PostgreSQL reads a non-number in
// a number attribute as null and a number in a string attribute as its text, where SQLite compares
// across types (text after numbers); see jsonAttribute in src/storage/postgres/store.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { parseFilter } from '../../../src/api/odata/filter.js';
import { parseOrderBy } from '../../../src/api/odata/options.js';
import { FILTER_EXPECTATIONS } from './filter-cases.js';
import { compareByOrderBy, compileFilter, compileMatcher, compileOrderBy, type AttributeMap } from '../../../src/api/odata/sql.js';
import { jsonAttribute, quoteIdentifier } from '../../../src/storage/postgres/store.js';
import { freshSchema, postgresUnavailable, POSTGRES_URL } from '../../storage/postgres-helpers.js';

const TYPES = { Id: 'number', CustomerId: 'string', Name: 'string', City: 'string', Age: 'number', Score: 'number', Active: 'boolean', Created: 'datetime', eCommerce_eCommerceContacts_ContactId: 'string' } as const;
const ATTRIBUTES: AttributeMap = Object.fromEntries(
  Object.entries(TYPES).map(([name, type]) => [name, { sql: name === 'Id' ? 'id' : jsonAttribute(name, type), type }]),
);

const ALL_ROWS: Record<string, unknown>[] = [
  { CustomerId: 'c1', Name: 'Alice', City: 'Paris', Age: 30, Score: 4.5, Active: true, Created: '2026-01-01T00:00:00.000Z', eCommerce_eCommerceContacts_ContactId: 'K' },
  { CustomerId: 'c2', Name: 'alice', City: 'paris', Age: 25, Score: 3, Active: false, Created: '2025-12-31T23:59:59.999Z' },
  { CustomerId: 'c3', Name: 'ALICE SMITH', City: null, Age: null, Active: null, Created: '2026-01-01T00:00:00.001Z' },
  { CustomerId: 'c4', Name: '50%_off', City: 'Lyon', Age: 40, Score: -1.25, Active: true, Created: '2026-06-15T12:30:00.000Z' },
  { CustomerId: 'c5', Name: '50 percent off', City: 'Lyon', Age: 41, Score: 0.1, Active: false, Created: '2026-01-01T00:00:00.000Z' },
  { CustomerId: 'c6', Name: "x' OR 1=1 --", Age: 30 },
  { CustomerId: 'c7', Name: "O'Brien", City: 'Zürich', Age: 30.0, Active: true },
  { CustomerId: 'c8', Name: 'back\\slash', City: 'ZÜRICH', Score: 3 },
  { CustomerId: 'c9', Name: 'Émile', City: 'émile', Created: '2027-01-01T00:00:00.000Z' },
  { CustomerId: 'c10' },
  { CustomerId: 'c11', Name: '😀 emoji', City: '\uFFFD' },
  { CustomerId: 'c12', Name: '', Age: 0, Score: 0, Active: false },
  { CustomerId: 'c13', Name: 'a_b', Age: -5 },
  // values that do not have the declared type: both sides must still agree (SQLite's rules)
  { CustomerId: 'c14', Name: 42, Age: '42' },
];

const ROWS = ALL_ROWS.filter((r) => r.CustomerId !== 'c14');
const RECORDS = ROWS.map((row, i) => ({ ...row, Id: i + 1 }));

const unavailable = await postgresUnavailable();
if (unavailable) console.log(`skipping the PostgreSQL filter tests: ${unavailable}`);

describe('OData filters on PostgreSQL agree with SQLite and matchesFilter', { skip: unavailable || false }, () => {
  let client: pg.Client;
  let drop: () => Promise<void>;
  before(async () => {
    const s = await freshSchema();
    drop = s.drop;
    client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.query(`CREATE SCHEMA ${quoteIdentifier(s.schema)}`);
    await client.query(`SET search_path = ${quoteIdentifier(s.schema)}`);
    await client.query('CREATE TABLE t (id INTEGER PRIMARY KEY, data JSONB NOT NULL)');
    for (const [i, row] of ROWS.entries()) await client.query('INSERT INTO t (id, data) VALUES ($1, $2::jsonb)', [i + 1, JSON.stringify(row)]);
  });
  after(async () => {
    await client?.end();
    await drop?.();
  });

  const pgIds = async (filter: string): Promise<number[]> => {
    const { where, params } = compileFilter(parseFilter(filter), ATTRIBUTES, { placeholder: '$n', booleanStyle: 'boolean', dialect: 'postgres' });
    return (await client.query(`SELECT id FROM t WHERE ${where} ORDER BY id`, params)).rows.map((r) => r.id as number);
  };
  const memoryIds = (filter: string): number[] => RECORDS.filter(compileMatcher(parseFilter(filter), ATTRIBUTES)).map((r) => r.Id);

  const expectations = FILTER_EXPECTATIONS;
  for (const [filter, expected] of expectations) {
    test(filter, async () => {
      const ids = await pgIds(filter);
      assert.deepEqual(ids, expected.filter((id) => id !== 14), filter);
      assert.deepEqual(ids, memoryIds(filter), `PostgreSQL and matchesFilter disagree on ${filter}`);
    });
  }

  test('random combinations of predicates with not / and / or', async () => {
    const atoms = expectations.map(([f]) => f).filter((f) => !/^not |^\(| or | and /.test(f));
    atoms.push("tolower(Name) eq '42'", "tolower(Name) gt '4'", 'Age eq null', 'Score ne null', "City in ('Lyon', null)");
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const gen = (depth: number): string => {
      const r = depth >= 4 ? 0 : rand(6);
      if (r <= 1) return atoms[rand(atoms.length)];
      if (r === 2) return `not (${gen(depth + 1)})`;
      const parts = Array.from({ length: 2 + rand(2) }, () => `(${gen(depth + 1)})`);
      return parts.join(r === 3 ? ' and ' : ' or ');
    };
    for (let i = 0; i < 200; i++) {
      const filter = gen(0);
      assert.deepEqual(await pgIds(filter), memoryIds(filter), filter);
    }
  });

  for (const orderby of ['Name', 'Name desc', 'Age desc', 'Age', 'Created', 'Created desc', 'Active desc', 'City, Name desc', 'Score desc, Age', 'CustomerId']) {
    test(`$orderby sorts as SQLite and compareByOrderBy do: ${orderby}`, async () => {
      const items = parseOrderBy(orderby);
      const fromSql = (await client.query(`SELECT id FROM t ${compileOrderBy(items, ATTRIBUTES, { tiebreaker: 'id' })}`)).rows.map((r) => r.id as number);
      const compare = compareByOrderBy(items, ATTRIBUTES);
      const fromMemory = [...RECORDS].reverse().sort((a, b) => compare(a, b) || a.Id - b.Id).map((r) => r.Id);
      assert.deepEqual(fromSql, fromMemory);
    });
  }
});
