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

(unavailable ? describe.skip : describe)('OData filters on PostgreSQL agree with SQLite and matchesFilter', () => {
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

  const expectations: [string, number[]][] = [
    ["CustomerId eq 'c1'", [1]],
    ["eCommerce_eCommerceContacts_ContactId eq 'K'", [1]],
    ["CustomerId in ('c1','c3','nope')", [1, 3]],
    ["'c2' eq CustomerId", [2]],
    ["Name eq 'Alice'", [1]],
    ["Name ne 'Alice'", [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]],
    ["not (Name eq 'Alice')", [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]],
    ['Name eq null', [10]],
    ['Name ne null', [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14]],
    ["City eq null or City eq 'Paris'", [1, 3, 6, 10, 12, 13, 14]],
    ['Age gt 30', [4, 5, 14]],
    ['Age ge 30', [1, 4, 5, 6, 7, 14]],
    ['Age lt 30', [2, 12, 13]],
    ['Age le 30', [1, 2, 6, 7, 12, 13]],
    ['Age ne 30', [2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14]],
    ['30 lt Age', [4, 5, 14]],
    ['not (Age gt 30)', [1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13]],
    ['Age in (25, 40)', [2, 4]],
    ['Age in (30.0)', [1, 6, 7]],
    ['Score gt 0.1', [1, 2, 8]],
    ['Score eq 3', [2, 8]],
    ['Score lt -1', [4]],
    ['Active eq true', [1, 4, 7]],
    ['Active eq false', [2, 5, 12]],
    ['Active ne true', [2, 3, 5, 6, 8, 9, 10, 11, 12, 13, 14]],
    ['not (Active eq true)', [2, 3, 5, 6, 8, 9, 10, 11, 12, 13, 14]],
    ['Active eq null', [3, 6, 8, 9, 10, 11, 13, 14]],
    ['Active in (true, null)', [1, 3, 4, 6, 7, 8, 9, 10, 11, 13, 14]],
    ['Created gt 2026-01-01T00:00:00Z', [3, 4, 9]],
    ['Created ge 2026-01-01T00:00:00Z', [1, 3, 4, 5, 9]],
    ['Created lt 2026-01-01T00:00:00Z', [2]],
    ['Created le 2026-01-01T00:00:00Z', [1, 2, 5]],
    ['Created eq 2026-01-01T00:00:00.000Z', [1, 5]],
    ['Created eq 2026-01-01T01:00:00+01:00', [1, 5]],
    ['Created gt 2026-01-01T01:00:00 01:00', [3, 4, 9]],
    ["Created ge '2026-01-01'", [1, 3, 4, 5, 9]],
    ['Created lt 2026-01-01', [2]],
    ['Created ge 2026-01-01T00:00:00.0005Z', [3, 4, 9]],
    ['Created gt 2026-01-01T00:00:00.0005Z', [3, 4, 9]],
    ['Created le 2026-01-01T00:00:00.0005Z', [1, 2, 5]],
    ['Created lt 2026-01-01T00:00:00.0005Z', [1, 2, 5]],
    ['Created eq 2026-01-01T00:00:00.0005Z', []],
    ['Created ne 2026-01-01T00:00:00.0005Z', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]],
    ['Created in (2026-01-01T00:00:00.0005Z, 2026-01-01T00:00:00.001Z)', [3]],
    ['Created in (2026-01-01T00:00:00.0005Z)', []],
    ['Created in (2026-01-01T00:00:00.0005Z, null)', [6, 7, 8, 10, 11, 12, 13, 14]],
    ["contains(Name,'lic')", [1, 2, 3]],
    ["contains(Name,'LIC')", [1, 2, 3]],
    ["startswith(Name,'al')", [1, 2, 3]],
    ["endswith(Name,'smith')", [3]],
    ["contains(Name,'50%_off')", [4]],
    ["contains(Name,'%')", [4]],
    ["contains(Name,'_')", [4, 13]],
    ["contains(Name,'a_b')", [13]],
    ["contains(Name,'\\')", [8]],
    ["startswith(Name,'50%')", [4]],
    ["startswith(Name,'50 ')", [5]],
    ["contains(Name,'')", [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14]],
    ["not contains(Name,'a')", [4, 5, 6, 7, 9, 10, 11, 12, 14]],
    ["contains(Name,'''')", [6, 7]],
    ["contains(City,'zürich')", [7]], // LIKE folds ASCII Z/z only
    ["contains(City,'Zürich')", [7]],
    ["contains(City,'ZÜRICH')", [8]],
    ["contains(City,'zÜrich')", [8]],
    ["startswith(Name,'é')", []],
    ["tolower(Name) eq 'alice'", [1, 2]],
    ["'alice' eq tolower(Name)", [1, 2]],
    ["tolower(City) eq 'zürich'", [7]],
    ["tolower(Name) eq 'émile'", []],
    ["tolower(Name) eq 'Émile'", [9]],
    ["contains(tolower(Name),'alice')", [1, 2, 3]],
    ["tolower(Name) in ('alice smith', 'o''brien')", [3, 7]],
    ["tolower(Name) ne 'alice'", [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]],
    ["tolower(Name) gt 'a'", [1, 2, 3, 6, 7, 8, 9, 11, 13]],
    ["Name in ('Alice', null)", [1, 10]],
    ['Name in (null)', [10]],
    ["not (Name in ('Alice','alice'))", [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]],
    ["Name eq 'x'' OR 1=1 --'", [6]],
    ["Name eq 'O''Brien'", [7]],
    ["Name gt 'a'", [2, 6, 8, 9, 11, 13]],
    ["Name lt 'Z'", [1, 3, 4, 5, 7, 12, 14]],
    ["Name ge '😀'", [11]],
    [`City gt '${'\uFFFD'}' or City eq '${'\uFFFD'}'`, [11]],
    // values of the wrong type: SQLite rules (text sorts after every number, no conversion)
    ['Age gt 100', [14]],
    ["Name eq '42'", []],
    ["contains(Name,'4')", [14]],
    // precedence and logic
    ["not Name eq 'Alice' and Age eq 30 or Id eq 2", [2, 6, 7]],
    ["not (Name eq 'Alice' and Age eq 30 or Id eq 2)", [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]],
    ["Id eq 2 or Age eq 30 and Name eq 'Alice'", [1, 2]],
    ["(Id eq 2 or Age eq 30) and Name eq 'Alice'", [1]],
    ['(Age gt 20 and Age lt 35) or not (City ne null)', [1, 2, 3, 6, 7, 10, 12, 13, 14]],
    ['not not (Age eq 30)', [1, 6, 7]],
    ["not (Age gt 20 and (Name eq 'Alice' or City eq null))", [2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13]],
    ['not (Age gt 40 or Age lt 0)', [1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12]],
    ['not (City eq null or Age gt 30)', [1, 2, 7, 8, 9, 11]],
    ['not (Age ne 30)', [1, 6, 7]],
    ['Id gt 5 and Id le 8', [6, 7, 8]],
  ];
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
