import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../../src/api/errors.js';
import {
  DEFAULT_FILTER_LIMITS,
  ODataError,
  formatFilter,
  parseDateTime,
  parseFilter,
  type FilterLimits,
  type FilterNode,
  type Literal,
  type ValueExpression,
} from '../../../src/api/odata/filter.js';

// A compact rendering of the tree, to check structure (and so precedence) at a glance.
function operand(e: ValueExpression): string {
  return e.kind === 'tolower' ? `(tolower ${e.attribute.name})` : e.name;
}
function lit(l: Literal): string {
  switch (l.type) {
    case 'string':
      return JSON.stringify(l.value);
    case 'datetime':
      return `@${l.value}${l.truncated ? '~' : ''}`;
    default:
      return String(l.value);
  }
}
function sx(n: FilterNode): string {
  switch (n.kind) {
    case 'and':
    case 'or':
      return `(${n.kind} ${n.operands.map(sx).join(' ')})`;
    case 'not':
      return `(not ${sx(n.operand)})`;
    case 'comparison':
      return `(${n.operator} ${operand(n.left)} ${lit(n.right)})`;
    case 'in':
      return `(in ${operand(n.operand)} ${n.values.map(lit).join(' ')})`;
    case 'function':
      return `(${n.name} ${operand(n.operand)} ${lit(n.argument)})`;
    case 'segment':
      return `(segment ${JSON.stringify(n.name)})`;
  }
}
const p = (text: string, limits?: Partial<FilterLimits>): string => sx(parseFilter(text, limits));

function fails(text: string, position: number, message: RegExp, limits?: Partial<FilterLimits>): ODataError {
  let error: unknown;
  try {
    parseFilter(text, limits);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ODataError, `expected an ODataError for ${JSON.stringify(text)}, got ${String(error)}`);
  assert.equal(error.option, '$filter');
  assert.equal(error.position, position, `position for ${JSON.stringify(text)}: ${error.message}`);
  assert.match(error.message, message);
  assert.match(error.message, new RegExp(`^\\$filter: .* at position ${position}(;|$)`));
  return error;
}

describe('$filter parser: the reference examples', () => {
  test("CustomerId eq 'X'", () => {
    const ast = parseFilter("CustomerId eq 'X'");
    assert.deepEqual(ast, {
      kind: 'comparison',
      operator: 'eq',
      left: { kind: 'attribute', name: 'CustomerId', position: 0 },
      right: { kind: 'literal', type: 'string', value: 'X', raw: "'X'", position: 14 },
      position: 0,
      operatorPosition: 11,
    });
  });
  test('a source key column', () => {
    assert.equal(p("eCommerce_eCommerceContacts_ContactId eq 'K'"), '(eq eCommerce_eCommerceContacts_ContactId "K")');
  });
  test('in', () => {
    const ast = parseFilter("CustomerId in ('a','b')");
    assert.equal(sx(ast), '(in CustomerId "a" "b")');
    assert.equal(ast.kind === 'in' && ast.values[1].position, 19);
  });
  test('IsMemberOfSegment', () => {
    assert.deepEqual(parseFilter("IsMemberOfSegment('Name')"), { kind: 'segment', name: 'Name', position: 0 });
    assert.equal(p("IsMemberOfSegment('Big ''spenders''') and Age gt 1"), '(and (segment "Big \'spenders\'") (gt Age 1))');
  });
});

describe('$filter parser: comparisons', () => {
  test('every comparison operator', () => {
    for (const op of ['eq', 'ne', 'gt', 'ge', 'lt', 'le']) assert.equal(p(`Age ${op} 5`), `(${op} Age 5)`);
  });
  test('value on the left is normalised to attribute on the left, flipping the operator', () => {
    assert.equal(p("'X' eq CustomerId"), '(eq CustomerId "X")');
    assert.equal(p('5 ne Age'), '(ne Age 5)');
    assert.equal(p('5 lt Age'), '(gt Age 5)');
    assert.equal(p('5 le Age'), '(ge Age 5)');
    assert.equal(p('5 gt Age'), '(lt Age 5)');
    assert.equal(p('5 ge Age'), '(le Age 5)');
    assert.equal(p("'x' eq tolower(Name)"), '(eq (tolower Name) "x")');
    assert.equal(p('null eq Name'), '(eq Name null)');
  });
  test('whitespace is free around tokens', () => {
    assert.equal(p("  ( Age  eq\t5 )and(Name eq'x')  "), '(and (eq Age 5) (eq Name "x"))');
    assert.equal(p('not(Age eq 5)'), '(not (eq Age 5))');
  });
  test('attribute names that start like keywords are attributes', () => {
    assert.equal(p("notes eq 'x' and order eq 1 and android eq true and inbound eq false and eqx eq null"),
      '(and (eq notes "x") (eq order 1) (eq android true) (eq inbound false) (eq eqx null))');
    assert.equal(p('_a1 eq 1'), '(eq _a1 1)');
  });
});

describe('$filter parser: logic and precedence', () => {
  test('not > and > or', () => {
    assert.equal(p('not A eq 1 and B eq 2 or C eq 3'), '(or (and (not (eq A 1)) (eq B 2)) (eq C 3))');
    assert.equal(p('A eq 1 or B eq 2 and C eq 3'), '(or (eq A 1) (and (eq B 2) (eq C 3)))');
    assert.equal(p('A eq 1 or not B eq 2 and C eq 3'), '(or (eq A 1) (and (not (eq B 2)) (eq C 3)))');
    assert.equal(p('not not A eq 1'), '(not (not (eq A 1)))');
  });
  test('parentheses override precedence', () => {
    assert.equal(p('(A eq 1 or B eq 2) and C eq 3'), '(and (or (eq A 1) (eq B 2)) (eq C 3))');
    assert.equal(p('not (A eq 1 or B eq 2)'), '(not (or (eq A 1) (eq B 2)))');
    assert.equal(p('((A eq 1))'), '(eq A 1)');
    assert.equal(p('A eq 1 and (B eq 2 and C eq 3)'), '(and (eq A 1) (and (eq B 2) (eq C 3)))');
  });
  test('chains of and / or are n-ary', () => {
    assert.equal(p('A eq 1 and B eq 2 and C eq 3'), '(and (eq A 1) (eq B 2) (eq C 3))');
    assert.equal(p('A eq 1 or B eq 2 or C eq 3 or D eq 4'), '(or (eq A 1) (eq B 2) (eq C 3) (eq D 4))');
  });
});

describe('$filter parser: in, functions', () => {
  test('in with strings, numbers, null and spacing', () => {
    assert.equal(p("Name in ( 'a' , 'b''c' ,'' )"), '(in Name "a" "b\'c" "")');
    assert.equal(p('Age in (1,2.5,-3)'), '(in Age 1 2.5 -3)');
    assert.equal(p("Name in ('a', null)"), '(in Name "a" null)');
    assert.equal(p("tolower(Name) in ('a')"), '(in (tolower Name) "a")');
    assert.equal(p("not Name in ('a') or Age in (1)"), '(or (not (in Name "a")) (in Age 1))');
  });
  test('string functions, tolower', () => {
    assert.equal(p("contains(Name,'x')"), '(contains Name "x")');
    assert.equal(p("startswith( Name , 'x' )"), '(startswith Name "x")');
    assert.equal(p("endswith(Name,'x')"), '(endswith Name "x")');
    assert.equal(p("contains(tolower(Name),'50%_off')"), '(contains (tolower Name) "50%_off")');
    assert.equal(p("tolower(Name) eq 'a'"), '(eq (tolower Name) "a")');
    assert.equal(p("not contains(Name,'a') and startswith(City,'P')"), '(and (not (contains Name "a")) (startswith City "P"))');
  });
});

describe('$filter parser: literals', () => {
  test("strings: '' is a quote, everything else is literal text", () => {
    assert.equal(p("Name eq 'O''Brien'"), '(eq Name "O\'Brien")');
    assert.equal(p("Name eq ''"), '(eq Name "")');
    assert.equal(p("Name eq ''''"), '(eq Name "\'")');
    assert.equal(p("Name eq 'a and b or (c) eq \\ %_ \"'"), '(eq Name "a and b or (c) eq \\\\ %_ \\"")');
  });
  test('SQL-injection-looking input is just a string', () => {
    const ast = parseFilter("Name eq 'x'' OR 1=1 --'");
    assert.equal(sx(ast), '(eq Name "x\' OR 1=1 --")');
    assert.equal(p("Name eq '; DROP TABLE customers; --'"), '(eq Name "; DROP TABLE customers; --")');
  });
  test('numbers', () => {
    assert.equal(p('A eq 0 or A eq -17 or A eq 3.25 or A eq -0.5 or A eq 1e3 or A eq 2.5E-2'), '(or (eq A 0) (eq A -17) (eq A 3.25) (eq A -0.5) (eq A 1000) (eq A 0.025))');
    assert.equal(p(`A eq ${Number.MAX_SAFE_INTEGER}`), `(eq A ${Number.MAX_SAFE_INTEGER})`);
  });
  test('true, false, null', () => {
    assert.equal(p('A eq true or A eq false or A eq null or A ne null'), '(or (eq A true) (eq A false) (eq A null) (ne A null))');
  });
  test('date-times: normalised to UTC milliseconds', () => {
    assert.equal(p('T gt 2026-01-01T00:00:00Z'), '(gt T @2026-01-01T00:00:00.000Z)');
    assert.equal(p('T gt 2026-01-01T01:30:00+01:30'), '(gt T @2026-01-01T00:00:00.000Z)');
    assert.equal(p('T gt 2025-12-31T20:00:00-04:00'), '(gt T @2026-01-01T00:00:00.000Z)');
    // '+' arrives as a space when the client forgot to percent-encode it
    assert.equal(p('T gt 2026-01-01T01:00:00 01:00'), '(gt T @2026-01-01T00:00:00.000Z)');
    assert.equal(p('T gt 2026-01-01T00:00:00.5Z'), '(gt T @2026-01-01T00:00:00.500Z)');
    assert.equal(p('T gt 2026-01-01T00:00:00.1234567Z'), '(gt T @2026-01-01T00:00:00.123Z~)');
    assert.equal(p('T gt 2026-01-01T00:00:00.1230000Z'), '(gt T @2026-01-01T00:00:00.123Z)');
    assert.equal(p('T gt 2026-01-01T10:00Z'), '(gt T @2026-01-01T10:00:00.000Z)');
    assert.equal(p('T lt 2026-01-01'), '(lt T @2026-01-01T00:00:00.000Z)');
    assert.equal(p('T lt 2024-02-29T00:00:00'), '(lt T @2024-02-29T00:00:00.000Z)');
    assert.equal(p('T in (2026-01-01T00:00:00Z, 2026-01-02)'), '(in T @2026-01-01T00:00:00.000Z @2026-01-02T00:00:00.000Z)');
    assert.equal(p('(T gt 2026-01-01T00:00:00Z)'), '(gt T @2026-01-01T00:00:00.000Z)');
  });
  test('parseDateTime', () => {
    assert.deepEqual(parseDateTime('2026-03-01T00:30:00+01:00'), { value: '2026-02-28T23:30:00.000Z', truncated: false });
    assert.deepEqual(parseDateTime('0099-01-01T00:00:00Z'), { value: '0099-01-01T00:00:00.000Z', truncated: false });
    for (const bad of ['2026-02-29', '2026-13-01', '2026-01-32', '2026-01-01T24:00:00Z', '2026-01-01T10:60:00Z', '2026-01-01T10:00:60Z', '9999-12-31T23:00:00-02:00', 'x', '2026-1-1'])
      assert.equal(parseDateTime(bad), undefined, bad);
  });
  test('unquoted GUIDs read as strings', () => {
    assert.equal(p('CustomerId eq 3f2504e0-4f89-11d3-9a0c-0305e82c3301'), '(eq CustomerId "3f2504e0-4f89-11d3-9a0c-0305e82c3301")');
    assert.equal(p('CustomerId eq F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6'), '(eq CustomerId "F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6")');
  });
});

describe('$filter parser: errors and their positions', () => {
  test('the missing-value example from the brief', () => {
    const e = fails('CustomerId eq ', 14, /expected a value after 'eq'/);
    assert.equal(e.message, "$filter: expected a value after 'eq' at position 14");
  });
  test('errors are 400 InvalidParameter ApiErrors targeting the option', () => {
    const e = fails('A eq', 4, /expected a value/);
    assert.ok(e instanceof ApiError);
    assert.equal(e.status, 400);
    assert.equal(e.code, 'InvalidParameter');
    assert.equal(e.target, '$filter');
    assert.equal(e.toBody().error.target, '$filter');
  });
  test('unbalanced parentheses', () => {
    fails('(A eq 1', 7, /expected '\)' to close the '\(' at position 0, found the end of the filter/);
    fails('((A eq 1) or B eq 2', 19, /'\(' at position 0/);
    fails('A eq 1)', 6, /unbalanced parentheses: '\)' has no matching '\('/);
    fails('(A eq 1))', 8, /no matching/);
    fails("contains(Name,'x'", 17, /expected '\)' after the arguments of contains/);
    fails("Name in ('a','b'", 16, /expected ',' or '\)' in the 'in' list/);
    fails('(A eq 1 B)', 8, /expected 'and', 'or' or '\)' to close the '\(' at position 0, found 'B'/);
    fails('(A eq 1 AND B eq 2)', 8, /found 'AND'.*lower case: 'and'/);
    fails('()', 1, /expected an expression after '\(', found '\)'/);
    fails(')', 0, /expected an expression, found '\)'/);
  });
  test('unterminated string: the position of its opening quote', () => {
    fails("Name eq 'abc", 8, /unterminated string/);
    fails("Name eq 'it''s", 8, /unterminated string/);
    fails("Name eq 'a' or City eq 'b", 23, /unterminated string/);
  });
  test('unknown operator', () => {
    fails("Name foo 'x'", 5, /unknown operator 'foo'.*expected one of eq, ne, gt, ge, lt, le, in/);
    fails("Name EQ 'x'", 5, /unknown operator 'EQ'.*lower case: 'eq'/);
    fails("Name == 'x'", 5, /unknown operator '==' at position 5; use 'eq'/);
    fails("Name != 'x'", 5, /use 'ne'/);
    fails('Age >= 5', 4, /use 'ge'/);
    fails("Name eq 'x' && Age gt 1", 12, /unexpected '&&'.*use 'and'/);
    fails("Name eq 'x' AND Age gt 1", 12, /unexpected 'AND'.*lower case: 'and'/);
    fails("'x' foo Name", 4, /unknown operator 'foo'/);
  });
  test('missing value / operator / operand', () => {
    fails("Name eq and Age gt 1", 8, /expected a value after 'eq', found 'and'/);
    fails('Name eq )', 8, /expected a value after 'eq', found '\)'/);
    fails('A eq B', 5, /found attribute 'B'.*comparing two attributes is not supported/);
    fails('Name', 4, /expected an operator after 'Name', found the end of the filter/);
    fails("Name 'x'", 5, /expected an operator after 'Name', found string 'x'/);
    fails("'x' eq 'y'", 7, /expected an attribute name after 'eq'.*comparing two values is not supported/);
    fails('A eq 1 and', 10, /expected an expression after 'and'/);
    fails('A eq 1 or or B eq 2', 10, /expected an expression after 'or', found 'or'/);
    fails('not', 3, /expected an expression after 'not'/);
    fails('', 0, /expected an expression/);
    fails('   ', 3, /expected an expression/);
    fails("and Name eq 'x'", 0, /expected an expression, found 'and'/);
    fails("Name in 'a'", 8, /expected '\(' after 'in'/);
    fails('Name in ()', 9, /expected a value in the 'in' list, found '\)'/);
    fails('Name in (Other)', 9, /expected a value in the 'in' list/);
    fails("'a' in (Name)", 4, /'in' needs an attribute on its left/);
    fails('Age gt null', 7, /null can only be compared with eq or ne, not 'gt'/);
    fails('null le Age', 0, /null can only be compared with eq or ne, not 'le'/);
  });
  test('trailing garbage', () => {
    fails('A eq 1 B', 7, /unexpected 'B' after a complete expression at position 7; expected 'and', 'or' or the end/);
    fails("Name eq 'x' 'y'", 12, /unexpected string 'y'/);
    fails("IsMemberOfSegment('S') eq true", 23, /unexpected 'eq'/);
    fails('A eq 1,', 6, /unexpected ','/);
  });
  test('functions', () => {
    fails("foo(A) eq 1", 0, /unknown function 'foo' at position 0; supported functions: contains, startswith, endswith, tolower, IsMemberOfSegment/);
    fails("Contains(Name,'x')", 0, /case-sensitive: 'contains'/);
    fails("ismemberofsegment('x')", 0, /case-sensitive: 'IsMemberOfSegment'/);
    fails('contains(Name, 1)', 15, /second argument of contains must be a quoted string, found number 1/);
    fails("contains(Name 'x')", 14, /expected ',' after the first argument of contains/);
    fails("contains('x', Name)", 9, /expected an attribute name as the first argument of contains/);
    fails('IsMemberOfSegment(Name)', 18, /IsMemberOfSegment takes a quoted segment name/);
    fails("tolower('x') eq 'x'", 8, /argument of tolower/);
    fails("tolower(Name eq 'x'", 13, /expected '\)' after the argument of tolower/);
    fails("'x' eq contains(Name,'x')", 7, /'contains' cannot be used here/);
  });
  test('bad characters and literals', () => {
    fails('Name eq "x"', 8, /unexpected character '"'.*single quotes/);
    fails("Name eq 'x' ; drop", 12, /unexpected character ';'/);
    fails("Address/City eq 'x'", 7, /unexpected character '\/'/);
    fails('Age eq 12abc', 7, /invalid number '12abc'/);
    fails('Age eq 1.', 7, /invalid number/);
    fails('Age eq 99999999999999999999', 7, /integer 99999999999999999999 is out of range/);
    fails('T gt 2026-02-30T00:00:00Z', 5, /invalid date-time literal '2026-02-30T00:00:00Z'/);
    fails('T gt 2026-01-01T10:00:00Zx', 5, /invalid date-time literal/);
    fails('T gt 2026-1-1', 5, /invalid date-time literal '2026-1-1'/);
    fails('T gt 2026-01-01T25:00:00Z', 5, /invalid date-time literal/);
  });
});

describe('$filter parser: limits', () => {
  test('defaults', () => {
    assert.deepEqual({ ...DEFAULT_FILTER_LIMITS }, { maxLength: 2000, maxDepth: 20, maxInItems: 100, maxTerms: 100 });
  });
  test('too long', () => {
    const base = "Name eq '";
    const ok = base + 'x'.repeat(2000 - base.length - 1) + "'";
    assert.equal(ok.length, 2000);
    parseFilter(ok);
    const e = fails(ok + ' ', 2000, /the filter is too long \(2001 characters; the maximum is 2000\)/);
    assert.equal(e.message, '$filter: the filter is too long (2001 characters; the maximum is 2000) at position 2000');
    fails('A eq 1', 5, /the maximum is 5/, { maxLength: 5 });
  });
  test('too deep: parentheses and not both count', () => {
    const nest = (n: number): string => '('.repeat(n) + 'A eq 1' + ')'.repeat(n);
    assert.equal(p(nest(20)), '(eq A 1)');
    fails(nest(21), 20, /nested too deeply \(more than 20 levels/);
    assert.equal(p('not '.repeat(20) + 'A eq 1').split('not').length - 1, 20);
    fails('not '.repeat(21) + 'A eq 1', 80, /nested too deeply/);
    fails('not (not (A eq 1))', 5, /more than 2 levels/, { maxDepth: 2 });
    fails('((A eq 1) and (not B eq 1))', 15, /more than 2 levels/, { maxDepth: 2 });
    assert.equal(p('(A eq 1) and (B eq 1 or (C eq 1))', { maxDepth: 2 }), '(and (eq A 1) (or (eq B 1) (eq C 1)))');
  });
  test("too many 'in' values", () => {
    const list = (n: number): string => `Age in (${Array.from({ length: n }, (_, i) => i).join(',')})`;
    parseFilter(list(100));
    const text = list(101);
    fails(text, text.lastIndexOf(',') + 1, /too many values in the 'in' list \(the maximum is 100\)/);
    fails("Name in ('a','b','c')", 17, /the maximum is 2/, { maxInItems: 2 });
  });
  test('too many conditions', () => {
    const terms = (n: number): string => Array.from({ length: n }, (_, i) => `A eq ${i}`).join(' or ');
    parseFilter(terms(100));
    const text = terms(101);
    fails(text, text.lastIndexOf('A eq'), /too many conditions \(the maximum is 100\)/);
    fails('(A eq 1) and not (B eq 2 or C eq 3)', 28, /the maximum is 2/, { maxTerms: 2 });
  });
});

describe('formatFilter', () => {
  const strip = (n: FilterNode): string => sx(n);
  for (const text of [
    "CustomerId eq 'X'",
    'not A eq 1 and B eq 2 or C eq 3',
    '(A eq 1 or B eq 2) and not (C eq 3 and D eq 4)',
    'A eq 1 and (B eq 2 and C eq 3)',
    'A eq 1 or (B eq 2 or C eq 3)',
    'not not A eq 1',
    "Name in ('a''b', null, 3)",
    "contains(tolower(Name),'50%_off') or startswith(Name,'x') or endswith(Name,'y')",
    "IsMemberOfSegment('It''s') and T ge 2026-01-01T01:00:00 01:00",
    '5 lt Age',
    'Id eq 3f2504e0-4f89-11d3-9a0c-0305e82c3301',
  ]) {
    test(`round trip: ${text}`, () => {
      const ast = parseFilter(text);
      const formatted = formatFilter(ast);
      assert.equal(strip(parseFilter(formatted)), strip(ast), formatted);
      assert.equal(formatFilter(parseFilter(formatted)), formatted);
    });
  }
});
