import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { ODataError, parseFilter } from '../../../src/api/odata/filter.js';
import { parseOrderBy } from '../../../src/api/odata/options.js';
import { FILTER_EXPECTATIONS } from './filter-cases.js';
import {
  checkFilter,
  checkSelect,
  compareByOrderBy,
  compileFilter,
  compileMatcher,
  compileOrderBy,
  escapeLike,
  matchesFilter,
  type AttributeMap,
  type SqlCompileOptions,
} from '../../../src/api/odata/sql.js';

const json = (name: string): string => `json_extract(data, '$.${name}')`;

const ATTRIBUTES: AttributeMap = {
  Id: { sql: 'id', type: 'number' },
  CustomerId: { sql: json('CustomerId'), type: 'string' },
  Name: { sql: json('Name'), type: 'string' },
  City: { sql: json('City'), type: 'string' },
  Age: { sql: json('Age'), type: 'number' },
  Score: { sql: json('Score'), type: 'number' },
  Active: { sql: json('Active'), type: 'boolean' },
  Created: { sql: json('Created'), type: 'datetime' },
  eCommerce_eCommerceContacts_ContactId: { sql: json('eCommerce_eCommerceContacts_ContactId'), type: 'string' },
};

const ROWS: Record<string, unknown>[] = [
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

const db = new Database(':memory:');
after(() => db.close());
db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, data TEXT NOT NULL)');
{
  const insert = db.prepare('INSERT INTO t (id, data) VALUES (?, ?)');
  ROWS.forEach((row, i) => insert.run(i + 1, JSON.stringify(row)));
}
// What the in-memory side sees: the same JSON, plus the id column under its attribute name.
const RECORDS: Record<string, unknown>[] = ROWS.map((row, i) => ({ ...(JSON.parse(JSON.stringify(row)) as Record<string, unknown>), Id: i + 1 }));

function sqlIds(filter: string, options?: SqlCompileOptions): number[] {
  const { where, params } = compileFilter(parseFilter(filter), ATTRIBUTES, options);
  return db
    .prepare(`SELECT id FROM t WHERE ${where} ORDER BY id`)
    .all(...params)
    .map((r) => (r as { id: number }).id);
}

function memoryIds(filter: string): number[] {
  const match = compileMatcher(parseFilter(filter), ATTRIBUTES);
  return RECORDS.filter(match).map((r) => r.Id as number);
}

function sameIds(filter: string, expected?: number[]): void {
  const fromSql = sqlIds(filter);
  const fromMemory = memoryIds(filter);
  assert.deepEqual(fromMemory, fromSql, `SQL and matchesFilter disagree on ${filter}`);
  if (expected) assert.deepEqual(fromSql, expected, filter);
}

function fails(filter: string, position: number, message: RegExp, options?: SqlCompileOptions): void {
  const ast = parseFilter(filter);
  for (const run of [() => compileFilter(ast, ATTRIBUTES, options), () => compileMatcher(ast, ATTRIBUTES)]) {
    let error: unknown;
    try {
      run();
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof ODataError, `expected an ODataError for ${filter}, got ${String(error)}`);
    assert.equal(error.option, '$filter');
    assert.equal(error.position, position, error.message);
    assert.match(error.message, message);
  }
}

describe('compileFilter: SQL text and parameters', () => {
  const c = (filter: string, options?: SqlCompileOptions) => compileFilter(parseFilter(filter), ATTRIBUTES, options);

  test('reference examples', () => {
    assert.deepEqual(c("CustomerId eq 'X'"), { where: "json_extract(data, '$.CustomerId') = ?", params: ['X'] });
    assert.deepEqual(c("eCommerce_eCommerceContacts_ContactId eq 'K'"), {
      where: "json_extract(data, '$.eCommerce_eCommerceContacts_ContactId') = ?",
      params: ['K'],
    });
    assert.deepEqual(c("CustomerId in ('a','b')"), { where: "json_extract(data, '$.CustomerId') IN (?, ?)", params: ['a', 'b'] });
  });

  test('operators', () => {
    assert.deepEqual(c('Id gt 1'), { where: 'id > ?', params: [1] });
    assert.deepEqual(c('Id ge 1'), { where: 'id >= ?', params: [1] });
    assert.deepEqual(c('Id lt 1'), { where: 'id < ?', params: [1] });
    assert.deepEqual(c('Id le 1'), { where: 'id <= ?', params: [1] });
    assert.deepEqual(c('Id ne 1'), { where: '(id IS NULL OR id <> ?)', params: [1] });
    assert.deepEqual(c('Id eq null'), { where: 'id IS NULL', params: [] });
    assert.deepEqual(c('Id ne null'), { where: 'id IS NOT NULL', params: [] });
    assert.deepEqual(c('not (Id eq 1)'), { where: 'NOT COALESCE(id = ?, FALSE)', params: [1] });
    assert.deepEqual(c('Id eq 1 and Id eq 2 or Id eq 3'), { where: '((id = ? AND id = ?) OR id = ?)', params: [1, 2, 3] });
    assert.deepEqual(c('Id in (1, null)'), { where: '(id IN (?) OR id IS NULL)', params: [1] });
    assert.deepEqual(c('Id in (null)'), { where: 'id IS NULL', params: [] });
    assert.deepEqual(c("tolower(Name) eq 'a'"), { where: "LOWER(json_extract(data, '$.Name')) = ?", params: ['a'] });
    assert.deepEqual(compileFilter(undefined, ATTRIBUTES), { where: '1 = 1', params: [] });
  });

  test('LIKE with escaped wildcards, never concatenated', () => {
    assert.deepEqual(c("contains(Name,'50%_off')"), { where: "json_extract(data, '$.Name') LIKE ? ESCAPE '\\'", params: ['%50\\%\\_off%'] });
    assert.deepEqual(c("startswith(Name,'a\\b')").params, ['a\\\\b%']);
    assert.deepEqual(c("endswith(Name,'x')").params, ['%x']);
    assert.equal(escapeLike('100%_\\'), '100\\%\\_\\\\');
  });

  test('SQL-injection-looking values stay parameters', () => {
    const { where, params } = c("Name eq 'x'' OR 1=1 --'");
    assert.equal(where, "json_extract(data, '$.Name') = ?");
    assert.deepEqual(params, ["x' OR 1=1 --"]);
    assert.deepEqual(sqlIds("Name eq 'x'' OR 1=1 --'"), [6]);
    assert.deepEqual(sqlIds("Name eq ''');DROP TABLE t;--'"), []);
    assert.equal((db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, ROWS.length);
  });

  test('$n placeholders, numbered in order, from a chosen start', () => {
    const filter = "Id eq 1 and Name in ('a','b') or contains(City,'x') or not (Active ne true)";
    assert.deepEqual(c(filter, { placeholder: '$n' }), {
      where:
        "((id = $1 AND json_extract(data, '$.Name') IN ($2, $3)) OR json_extract(data, '$.City') LIKE $4 ESCAPE '\\' OR NOT COALESCE((json_extract(data, '$.Active') IS NULL OR json_extract(data, '$.Active') <> $5), FALSE))",
      params: [1, 'a', 'b', '%x%', 1],
    });
    assert.equal(c('Id eq 1 and Id eq 2', { placeholder: '$n', firstParameterIndex: 3 }).where, '(id = $3 AND id = $4)');
  });

  test('booleans as 1/0 (SQLite) or true/false', () => {
    assert.deepEqual(c('Active eq true').params, [1]);
    assert.deepEqual(c('Active in (false, true)').params, [0, 1]);
    assert.deepEqual(c('Active eq false', { booleanStyle: 'boolean' }).params, [false]);
  });

  test('date-times are normalised to the stored form', () => {
    assert.deepEqual(c('Created gt 2026-01-01T01:00:00+01:00').params, ['2026-01-01T00:00:00.000Z']);
    assert.deepEqual(c("Created le '2026-01-01T01:00:00+01:00'").params, ['2026-01-01T00:00:00.000Z']);
    assert.deepEqual(c("Created lt '2026-01-01'").params, ['2026-01-01T00:00:00.000Z']);
    // sub-millisecond literals: exact comparisons against millisecond values
    assert.deepEqual(c('Created gt 2026-01-01T00:00:00.0005Z'), { where: "json_extract(data, '$.Created') > ?", params: ['2026-01-01T00:00:00.000Z'] });
    assert.deepEqual(c('Created ge 2026-01-01T00:00:00.0005Z').params, ['2026-01-01T00:00:00.001Z']);
    assert.deepEqual(c('Created eq 2026-01-01T00:00:00.0005Z'), { where: '1 = 0', params: [] });
    assert.deepEqual(c('Created ne 2026-01-01T00:00:00.0005Z'), { where: '1 = 1', params: [] });
  });

  test('a non-trivial SQL expression is parenthesised', () => {
    const attrs: AttributeMap = { Total: { sql: 'a + b', type: 'number' }, F: { sql: 'f(a) + g(b)', type: 'number' }, G: { sql: "f(a, ')')", type: 'number' } };
    assert.equal(compileFilter(parseFilter('Total gt 1'), attrs).where, '(a + b) > ?');
    assert.equal(compileFilter(parseFilter('F gt 1'), attrs).where, '(f(a) + g(b)) > ?');
    assert.equal(compileFilter(parseFilter('G gt 1'), attrs).where, "f(a, ')') > ?");
  });
});

describe('compileFilter: whitelist and type errors', () => {
  test('unknown attribute: named, with its position and some valid names', () => {
    fails("Nmae eq 'x'", 0, /unknown attribute 'Nmae' at position 0; did you mean 'Name'\? valid attributes include: Name, /);
    fails("Name eq 'x' and customerid eq 'y'", 16, /unknown attribute 'customerid'.*did you mean 'CustomerId'/);
    fails("contains(tolower(Nope),'x')", 17, /unknown attribute 'Nope'.*valid attributes include: .*\(9 in all\)/);
    fails("Nope in ('a')", 0, /unknown attribute 'Nope'/);
    // no prototype leaks
    fails('constructor eq 1', 0, /unknown attribute 'constructor'/);
    fails('__proto__ eq 1', 0, /unknown attribute '__proto__'/);
  });

  test('type mismatches', () => {
    fails("Age eq '30'", 7, /'Age' is a number and cannot be compared with the string '30'.*without quotes/);
    fails('Name eq 30', 8, /'Name' is a string and cannot be compared with the number 30.*quoted/);
    fails("Active eq 'true'", 10, /'Active' is a boolean.*use true or false/);
    fails('Active eq 1', 10, /'Active' is a boolean/);
    fails("Created gt 'soon'", 11, /'Created' is a date-time and cannot be compared with the string 'soon'/);
    fails('Created gt 5', 11, /date-time/);
    fails('Name gt 2026-01-01T00:00:00Z', 8, /'Name' is a string and cannot be compared with the date-time 2026-01-01T00:00:00Z/);
    fails("Age in (1, 'x')", 11, /'Age' is a number/);
    fails("contains(Age,'3')", 9, /contains needs a string attribute; 'Age' is a number/);
    fails("startswith(Created,'2026')", 11, /startswith needs a string attribute; 'Created' is a date-time/);
    fails("tolower(Age) eq '3'", 0, /tolower needs a string attribute; 'Age' is a number/);
    fails('Active gt false', 7, /'gt' cannot be used with the boolean attribute 'Active'/);
    fails("Id eq 3f2504e0-4f89-11d3-9a0c-0305e82c3301", 6, /'Id' is a number/);
    assert.doesNotThrow(() => checkFilter(parseFilter('Active eq null and Age ne null and Created eq null'), ATTRIBUTES));
  });

  test('IsMemberOfSegment needs a handler, on both sides', () => {
    fails("IsMemberOfSegment('VIP')", 0, /IsMemberOfSegment is not supported for this entity/);
    const ast = parseFilter("Age gt 1 and IsMemberOfSegment('VIP') and Name eq 'x'");
    const compiled = compileFilter(ast, ATTRIBUTES, {
      placeholder: '$n',
      segment: (name, ctx) => `customer_id IN (SELECT customer_id FROM segment_members WHERE segment = ${ctx.param(name)})`,
    });
    assert.deepEqual(compiled, {
      where:
        "(json_extract(data, '$.Age') > $1 AND (customer_id IN (SELECT customer_id FROM segment_members WHERE segment = $2)) AND json_extract(data, '$.Name') = $3)",
      params: [1, 'VIP', 'x'],
    });
    const vip = new Set(['c1', 'c4']);
    const match = compileMatcher(parseFilter("IsMemberOfSegment('VIP') and not (Age gt 35)"), ATTRIBUTES, {
      isMemberOfSegment: (name, record) => name === 'VIP' && vip.has(record.CustomerId as string),
    });
    assert.deepEqual(RECORDS.filter(match).map((r) => r.CustomerId), ['c1']);
  });

  test('$select names are checked against the whitelist', () => {
    assert.doesNotThrow(() => checkSelect(['Name', 'Age'], ATTRIBUTES));
    assert.doesNotThrow(() => checkSelect(undefined, ATTRIBUTES));
    assert.throws(() => checkSelect(['Name', 'Agee'], ATTRIBUTES), (e: unknown) => {
      assert.ok(e instanceof ODataError);
      assert.equal(e.option, '$select');
      assert.match(e.message, /^\$select: unknown attribute 'Agee'; did you mean 'Age'\?/);
      return true;
    });
  });
});

describe('SQL (better-sqlite3) and matchesFilter agree', () => {
  const expectations = FILTER_EXPECTATIONS;
  for (const [filter, expected] of expectations) {
    test(filter, () => sameIds(filter, expected));
  }

  test("booleanStyle 'boolean' is for drivers that bind booleans (better-sqlite3 does not)", () => {
    assert.throws(() => sqlIds('Active eq true', { booleanStyle: 'boolean' }));
  });

  test('random combinations of predicates with not / and / or', () => {
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
    for (let i = 0; i < 400; i++) sameIds(gen(0));
  });

  test('matchesFilter, the one-off form', () => {
    const ast = parseFilter("contains(Name,'50%_off') and Active eq true");
    assert.equal(matchesFilter(ast, RECORDS[3], ATTRIBUTES), true);
    assert.equal(matchesFilter(ast, RECORDS[4], ATTRIBUTES), false);
    assert.equal(matchesFilter(undefined, RECORDS[4], ATTRIBUTES), true);
    assert.equal(matchesFilter(parseFilter('Created gt 2026-01-01'), { Created: new Date('2026-01-02T00:00:00Z') }, ATTRIBUTES), true);
    const nested = { profile: { Name: 'Alice' } };
    assert.equal(matchesFilter(parseFilter("Name eq 'Alice'"), nested, ATTRIBUTES, { get: (r, n) => (r.profile as Record<string, unknown>)[n] }), true);
  });
});

describe('$orderby', () => {
  test('compileOrderBy', () => {
    assert.equal(
      compileOrderBy(parseOrderBy('Name desc, Id'), ATTRIBUTES),
      "ORDER BY json_extract(data, '$.Name') DESC NULLS LAST, id ASC NULLS FIRST",
    );
    assert.equal(compileOrderBy([], ATTRIBUTES), '');
    assert.equal(compileOrderBy([], ATTRIBUTES, { tiebreaker: 'id' }), 'ORDER BY id');
    assert.equal(compileOrderBy(parseOrderBy('Age'), ATTRIBUTES, { tiebreaker: 'id' }), "ORDER BY json_extract(data, '$.Age') ASC NULLS FIRST, id");
  });

  test('unknown attribute: option, position and suggestions', () => {
    assert.throws(() => compileOrderBy(parseOrderBy('Name, Agee desc'), ATTRIBUTES), (e: unknown) => {
      assert.ok(e instanceof ODataError);
      assert.equal(e.option, '$orderby');
      assert.equal(e.position, 6);
      assert.match(e.message, /^\$orderby: unknown attribute 'Agee' at position 6; did you mean 'Age'\?/);
      return true;
    });
    assert.throws(() => compareByOrderBy(parseOrderBy('Nope'), ATTRIBUTES), /\$orderby: unknown attribute 'Nope' at position 0/);
  });

  for (const orderby of ['Name', 'Name desc', 'Age desc', 'Age', 'Created', 'Created desc', 'Active desc', 'City, Name desc', 'Score desc, Age', 'CustomerId']) {
    test(`compareByOrderBy sorts as SQLite does: ${orderby}`, () => {
      const items = parseOrderBy(orderby);
      const fromSql = db
        .prepare(`SELECT id FROM t ${compileOrderBy(items, ATTRIBUTES, { tiebreaker: 'id' })}`)
        .all()
        .map((r) => (r as { id: number }).id);
      const compare = compareByOrderBy(items, ATTRIBUTES);
      const fromMemory = [...RECORDS]
        .reverse()
        .sort((a, b) => compare(a, b) || (a.Id as number) - (b.Id as number))
        .map((r) => r.Id);
      assert.deepEqual(fromMemory, fromSql);
    });
  }
});
