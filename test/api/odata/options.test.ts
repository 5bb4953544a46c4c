import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ODataError } from '../../../src/api/odata/filter.js';
import {
  DEFAULT_QUERY_LIMITS,
  parseExpand,
  parseOrderBy,
  parseQueryOptions,
  parseSelect,
  type QueryInput,
  type QueryLimits,
} from '../../../src/api/odata/options.js';

function fails(query: QueryInput, option: string, message: RegExp, position?: number, limits?: Partial<QueryLimits>): ODataError {
  let error: unknown;
  try {
    parseQueryOptions(query, limits);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ODataError, `expected an ODataError, got ${String(error)}`);
  assert.equal(error.option, option);
  assert.equal(error.target, option);
  assert.equal(error.status, 400);
  assert.ok(error.message.startsWith(`${option}: `), error.message);
  assert.match(error.message, message);
  assert.equal(error.position, position, error.message);
  return error;
}

const q = (search: string): URLSearchParams => new URLSearchParams(search);

describe('parseQueryOptions', () => {
  test('defaults', () => {
    assert.deepEqual(parseQueryOptions({}), { orderby: [], top: 100, skip: 0, count: false, expand: [] });
    assert.equal(DEFAULT_QUERY_LIMITS.maxTop, 1000);
  });

  test('the reference example: $expand with $filter', () => {
    const options = parseQueryOptions(q("$expand=UnifiedActivity,Customer_Measure&$filter=CustomerId eq 'X'"));
    assert.deepEqual(options.expand, ['UnifiedActivity', 'Customer_Measure']);
    assert.equal(options.filter?.kind, 'comparison');
  });

  test('every option, from URLSearchParams (percent-decoded) and from a plain object', () => {
    const search =
      '$filter=' + encodeURIComponent("Name eq 'a+b' and T gt 2026-01-01T01:00:00+01:00") +
      '&$select=Name, Age&$orderby=Name desc,Age&$top=50&$skip=10&$count=true&$search=' + encodeURIComponent(' big spender ') +
      '&$expand=UnifiedActivity&$skiptoken=abc%3D%3D&api-version=2021-01-01&caller=me';
    const expected = {
      filterKind: 'and',
      select: ['Name', 'Age'],
      orderby: [
        { attribute: 'Name', direction: 'desc', position: 0 },
        { attribute: 'Age', direction: 'asc', position: 10 },
      ],
      top: 50,
      skip: 10,
      count: true,
      search: 'big spender',
      expand: ['UnifiedActivity'],
      skiptoken: 'abc==',
    };
    const fromParams = parseQueryOptions(q(search));
    const fromObject = parseQueryOptions(Object.fromEntries(q(search)));
    for (const o of [fromParams, fromObject]) {
      const { filter, ...rest } = o;
      assert.equal(filter?.kind, expected.filterKind);
      const { filterKind: _ignored, ...want } = expected;
      assert.deepEqual(rest, want);
    }
  });

  test('parameters without $ are the caller’s business', () => {
    assert.deepEqual(parseQueryOptions({ 'api-version': '1', validUntil: 'x', filter: 'nonsense(' }).top, 100);
  });

  test('unknown $ options are errors naming the option', () => {
    fails(q('$format=json'), '$format', /unknown query option '\$format'.*supported options: \$filter, \$select/);
    fails(q('$Filter=A eq 1'), '$Filter', /option names are case-sensitive: '\$filter'/);
    fails({ $apply: 'x' }, '$apply', /unknown query option/);
  });

  test('an option given twice is an error', () => {
    fails(q('$top=1&$top=2'), '$top', /is given more than once/);
    fails({ $filter: ['A eq 1', 'B eq 2'] }, '$filter', /more than once/);
    fails({ $skip: 3 }, '$skip', /must be a single text value/);
  });

  test('$filter errors and limits pass through', () => {
    fails(q('$filter=A eq'), '$filter', /expected a value after 'eq'/, 4);
    fails({ $filter: '' }, '$filter', /expected an expression/, 0);
    fails({ $filter: 'A eq 1 and B eq 2' }, '$filter', /too long/, 10, { filter: { maxLength: 10 } });
    fails({ $filter: 'A in (1,2,3)' }, '$filter', /the maximum is 2/, 10, { filter: { maxInItems: 2 } });
    // a partial filter limit keeps the other defaults
    assert.ok(parseQueryOptions({ $filter: `A in (${Array.from({ length: 100 }, (_, i) => i)})` }, { filter: { maxLength: 5000 } }).filter);
  });

  test('$top', () => {
    assert.equal(parseQueryOptions({ $top: '1' }).top, 1);
    assert.equal(parseQueryOptions({ $top: '1000' }).top, 1000);
    assert.equal(parseQueryOptions({ $top: '007' }).top, 7);
    for (const bad of ['0', '1001', '-1', '1.5', 'abc', '', ' 5', '1e3', '99999999999999999999']) {
      fails({ $top: bad }, '$top', new RegExp(`expected an integer from 1 to 1000, got '${bad.replace(/[.+]/g, '\\$&')}'`));
    }
    assert.equal(parseQueryOptions({ $top: '5000' }, { maxTop: 5000 }).top, 5000);
    assert.equal(parseQueryOptions({}, { defaultTop: 25 }).top, 25);
    fails({ $top: '11' }, '$top', /from 1 to 10, got '11'/, undefined, { maxTop: 10, defaultTop: 10 });
    assert.throws(() => parseQueryOptions({}, { maxTop: 10 }), RangeError); // default 100 > max 10
  });

  test('$skip', () => {
    assert.equal(parseQueryOptions({ $skip: '0' }).skip, 0);
    assert.equal(parseQueryOptions({ $skip: '250' }).skip, 250);
    for (const bad of ['-1', 'x', '', '2.0']) fails({ $skip: bad }, '$skip', /expected an integer >= 0, got/);
  });

  test('$count', () => {
    assert.equal(parseQueryOptions({ $count: 'true' }).count, true);
    assert.equal(parseQueryOptions({ $count: 'false' }).count, false);
    for (const bad of ['TRUE', '1', 'yes', '']) fails({ $count: bad }, '$count', new RegExp(`expected true or false, got '${bad}'`));
  });

  test('$search', () => {
    assert.equal(parseQueryOptions({ $search: '  anna  ' }).search, 'anna');
    assert.equal(parseQueryOptions({ $search: 'x'.repeat(200) }).search?.length, 200);
    fails({ $search: 'x'.repeat(201) }, '$search', /too long \(201 characters; the maximum is 200\)/);
    fails({ $search: '   ' }, '$search', /must not be empty/);
    fails({ $search: 'abcdef' }, '$search', /maximum is 5/, undefined, { maxSearchLength: 5 });
  });

  test('$skiptoken is opaque', () => {
    assert.equal(parseQueryOptions({ $skiptoken: "eyJrIjoiYSJ9 ' ,()" }).skiptoken, "eyJrIjoiYSJ9 ' ,()");
    fails({ $skiptoken: '' }, '$skiptoken', /must not be empty/);
    fails({ $skiptoken: 'x'.repeat(2049) }, '$skiptoken', /too long/);
  });
});

describe('$select', () => {
  test('names, spacing, repeats, *', () => {
    assert.deepEqual(parseSelect('CustomerId'), ['CustomerId']);
    assert.deepEqual(parseSelect(' FullName ,Email,  eCommerce_eCommerceContacts_ContactId '), ['FullName', 'Email', 'eCommerce_eCommerceContacts_ContactId']);
    assert.deepEqual(parseSelect('A,B,A'), ['A', 'B']);
    assert.equal(parseSelect('*'), undefined);
    assert.equal(parseQueryOptions({ $select: '*' }).select, undefined);
  });
  test('errors name the position', () => {
    fails({ $select: 'Name,,Age' }, '$select', /expected an attribute name after ',', found ','/, 5);
    fails({ $select: 'Name Age' }, '$select', /expected ',' or the end of the value, found 'A'/, 5);
    fails({ $select: '' }, '$select', /expected an attribute name, found the end of the value/, 0);
    fails({ $select: 'Name,' }, '$select', /after ','/, 5);
    fails({ $select: 'Address/City' }, '$select', /navigation paths are not supported/, 7);
    fails({ $select: '1abc' }, '$select', /found '1'/, 0);
  });
});

describe('$orderby', () => {
  test('items and directions', () => {
    assert.deepEqual(parseOrderBy('Name'), [{ attribute: 'Name', direction: 'asc', position: 0 }]);
    assert.deepEqual(parseOrderBy('Name asc,Age desc , City'), [
      { attribute: 'Name', direction: 'asc', position: 0 },
      { attribute: 'Age', direction: 'desc', position: 9 },
      { attribute: 'City', direction: 'asc', position: 20 },
    ]);
  });
  test('errors name the position', () => {
    fails({ $orderby: 'Name up' }, '$orderby', /expected 'asc' or 'desc' after 'Name', found 'up'/, 5);
    fails({ $orderby: 'Name DESC' }, '$orderby', /directions are lower case: 'desc'/, 5);
    fails({ $orderby: 'Name,' }, '$orderby', /expected an attribute name after ','/, 5);
    fails({ $orderby: 'Name desc desc' }, '$orderby', /expected 'asc', 'desc', ',' or the end of the value, found 'd'/, 10);
    fails({ $orderby: 'tolower(Name)' }, '$orderby', /functions are not supported/, 7);
    fails({ $orderby: '' }, '$orderby', /expected an attribute name/, 0);
  });
});

describe('$expand', () => {
  test('names', () => {
    assert.deepEqual(parseExpand('UnifiedActivity, Customer_Measure'), ['UnifiedActivity', 'Customer_Measure']);
  });
  test('errors', () => {
    fails({ $expand: 'UnifiedActivity($top=5)' }, '$expand', /options inside \$expand/, 15);
    fails({ $expand: '' }, '$expand', /expected a name/, 0);
    fails({ $expand: 'A;B' }, '$expand', /found ';'/, 1);
  });
});
