// Compiles a $filter AST (and $orderby) to a parameterised SQL fragment against a whitelist of
// attributes, and evaluates the same AST in memory with the same semantics.
//
// Semantics (identical in SQL and in matchesFilter):
// - Two-valued logic, as OData's comparisons: every predicate is true or false, never unknown, so
//   `not X` is exactly the complement of `X`. A null (or missing) attribute:
//     eq null -> true, ne null -> false, eq/gt/ge/lt/le <value> -> false, ne <value> -> true,
//     in (...) -> true only when the list has null, contains/startswith/endswith -> false.
//   SQL gets there with `(E IS NULL OR E <> ?)` for ne and `NOT COALESCE(X, FALSE)` for not.
// - Values compare as SQLite compares json_extract results: numbers numerically, strings by code point
//   (BINARY collation), booleans as 1/0, and of mixed kinds number < string.
// - contains/startswith/endswith are SQL LIKE: case-insensitive for ASCII letters only (SQLite's LIKE);
//   `%`, `_` and `\` in the user's text match literally. tolower() lowers ASCII letters only (SQLite's
//   LOWER without ICU).
// - Date-time values are ISO 8601 UTC strings `YYYY-MM-DDTHH:mm:ss.sssZ` and compare as strings; literals
//   are normalised to that form (a quoted string is accepted for a date-time attribute when it parses
//   as one). Literals with sub-millisecond digits are compared exactly against millisecond values.
import { distance } from 'fastest-levenshtein';
import { ODataError } from './errors.js';
import {
  parseDateTime,
  type ComparisonOperator,
  type FilterNode,
  type Literal,
  type StringFunctionName,
  type ValueExpression,
} from './filter.js';
import type { OrderByItem } from './options.js';

export type AttributeType = 'string' | 'number' | 'boolean' | 'datetime';

export interface AttributeDefinition {
  /** A trusted SQL expression, e.g. "json_extract(data, '$.FullName')" or a column name. */
  sql: string;
  type: AttributeType;
}

/** The whitelist: OData attribute name -> SQL expression and type. Names are case-sensitive. */
export interface AttributeMap {
  [name: string]: AttributeDefinition;
}

/** The whitelist of attributes and their types with each attribute's name as its SQL: for the checks, which make no SQL. */
export function attributesByName(types: Record<string, AttributeType>): AttributeMap {
  return Object.fromEntries(Object.entries(types).map(([name, type]) => [name, { sql: name, type }]));
}

export interface SegmentSqlContext {
  /** Adds a parameter and returns its placeholder (`?` or `$n`), in order with the rest of the fragment. */
  param(value: unknown): string;
  /** Where IsMemberOfSegment(...) is in the $filter. */
  position: number;
}

export interface SqlCompileOptions {
  /** `?` (SQLite, default) or `$1, $2, ...` (PostgreSQL). */
  placeholder?: '?' | '$n';
  /** First number for `$n` placeholders (default 1), for fragments that follow other parameters. */
  firstParameterIndex?: number;
  /** How boolean literals are bound: 1/0 ('integer', default: SQLite, JSON true/false read as 1/0) or true/false. */
  booleanStyle?: 'integer' | 'boolean';
  /**
   * SQL dialect for case rules (default 'sqlite'). 'postgres' keeps SQLite's semantics: LIKE folds
   * ASCII letters only (PostgreSQL's LIKE is case-sensitive and ILIKE folds by locale), and
   * tolower() lowers ASCII letters only; both through translate().
   */
  dialect?: 'sqlite' | 'postgres';
  /**
   * SQL for IsMemberOfSegment('Name'): return a boolean SQL expression; bind values through ctx.param.
   * Without it, IsMemberOfSegment is an error (not supported for the entity).
   */
  segment?: (name: string, ctx: SegmentSqlContext) => string;
}

export interface CompiledFilter {
  /** A boolean SQL expression, safe to AND with other conditions as it is. */
  where: string;
  params: unknown[];
}

export interface MatchOptions {
  /** Reads an attribute from a record; default `record[name]`. */
  get?: (record: Readonly<Record<string, unknown>>, name: string) => unknown;
  /** Membership test for IsMemberOfSegment('Name'); without it, IsMemberOfSegment is an error. */
  isMemberOfSegment?: (name: string, record: Readonly<Record<string, unknown>>) => boolean;
}

// ---------------------------------------------------------------------------------------------
// Binding: names resolved against the whitelist, literals checked and converted to the attribute's type.
// Both the SQL compiler and the in-memory matcher work from the bound tree, so they accept and reject
// exactly the same filters.

type Scalar = string | number | boolean;

interface Target {
  name: string;
  sql: string;
  type: AttributeType;
  lower: boolean;
}

type Bound =
  | { k: 'and' | 'or'; items: Bound[] }
  | { k: 'not'; item: Bound }
  | { k: 'const'; value: boolean }
  | { k: 'cmp'; target: Target; op: ComparisonOperator; value: Scalar }
  | { k: 'null'; target: Target; isNull: boolean }
  | { k: 'in'; target: Target; values: Scalar[]; orNull: boolean }
  | { k: 'like'; target: Target; fn: StringFunctionName; text: string }
  | { k: 'segment'; name: string; position: number };

const TYPE_NAMES: Record<AttributeType, string> = { string: 'a string', number: 'a number', boolean: 'a boolean', datetime: 'a date-time' };

function lookup(attributes: AttributeMap, name: string): AttributeDefinition | undefined {
  return Object.hasOwn(attributes, name) ? attributes[name] : undefined;
}

function suggestions(name: string, attributes: AttributeMap, noun: string): string {
  const names = Object.keys(attributes);
  if (!names.length) return `there are no ${noun}s`;
  const lower = name.toLowerCase();
  const ranked = names
    .map((n) => ({ n, d: distance(lower, n.toLowerCase()) }))
    .sort((a, b) => a.d - b.d || (a.n < b.n ? -1 : a.n > b.n ? 1 : 0));
  const best = ranked[0];
  const close = best.d < name.length && best.d <= Math.max(2, Math.floor(name.length / 3));
  const list = ranked.slice(0, 5).map((r) => r.n);
  const more = names.length > list.length ? `, ... (${names.length} in all)` : '';
  return `${close ? `did you mean '${best.n}'? ` : ''}valid ${noun}s include: ${list.join(', ')}${more}`;
}

function unknownAttribute(option: string, name: string, position: number | undefined, attributes: AttributeMap): never {
  throw new ODataError(option, `unknown attribute '${name}'`, position, suggestions(name, attributes, 'attribute'));
}

function resolveAttribute(option: string, name: string, position: number | undefined, attributes: AttributeMap): AttributeDefinition {
  return lookup(attributes, name) ?? unknownAttribute(option, name, position, attributes);
}

function resolveTarget(expr: ValueExpression, attributes: AttributeMap): Target {
  const ref = expr.kind === 'tolower' ? expr.attribute : expr;
  const def = resolveAttribute('$filter', ref.name, ref.position, attributes);
  if (expr.kind === 'tolower' && def.type !== 'string') {
    throw new ODataError('$filter', `tolower needs a string attribute; '${ref.name}' is ${TYPE_NAMES[def.type]}`, expr.position);
  }
  return { name: ref.name, sql: def.sql, type: def.type, lower: expr.kind === 'tolower' };
}

function describeTarget(t: Target): string {
  return t.lower ? `tolower(${t.name})` : `'${t.name}'`;
}

function literalDescription(lit: Literal): string {
  switch (lit.type) {
    case 'string':
      return `the string ${lit.raw.startsWith("'") ? lit.raw : `'${lit.raw}'`}`;
    case 'number':
      return `the number ${lit.raw}`;
    case 'boolean':
      return `the boolean ${lit.raw}`;
    case 'datetime':
      return `the date-time ${lit.raw}`;
    case 'null':
      return 'null';
  }
}

const MISMATCH_HINTS: Record<AttributeType, string> = {
  string: "string values are quoted, e.g. '123'",
  number: 'numbers are written without quotes, e.g. 42 or 4.5',
  boolean: 'use true or false',
  datetime: 'write a date-time such as 2026-01-01T00:00:00Z',
};

type Coerced = { kind: 'null' } | { kind: 'value'; value: Scalar } | { kind: 'datetime'; value: string; truncated: boolean };

function coerce(lit: Literal, target: Target): Coerced {
  if (lit.type === 'null') return { kind: 'null' };
  const mismatch = (): never => {
    throw new ODataError(
      '$filter',
      `${describeTarget(target)} is ${TYPE_NAMES[target.type]} and cannot be compared with ${literalDescription(lit)}`,
      lit.position,
      MISMATCH_HINTS[target.type],
    );
  };
  switch (target.type) {
    case 'string':
      return lit.type === 'string' ? { kind: 'value', value: lit.value } : mismatch();
    case 'number':
      return lit.type === 'number' ? { kind: 'value', value: lit.value } : mismatch();
    case 'boolean':
      return lit.type === 'boolean' ? { kind: 'value', value: lit.value } : mismatch();
    case 'datetime': {
      if (lit.type === 'datetime') return { kind: 'datetime', value: lit.value, truncated: lit.truncated };
      if (lit.type === 'string') {
        const parsed = parseDateTime(lit.value.trim());
        if (parsed) return { kind: 'datetime', value: parsed.value, truncated: parsed.truncated };
      }
      return mismatch();
    }
  }
}

function nextMillisecond(iso: string): string {
  return new Date(Date.parse(iso) + 1).toISOString();
}

function bindComparison(target: Target, op: ComparisonOperator, lit: Literal, operatorPosition: number): Bound {
  const c = coerce(lit, target);
  if (c.kind === 'null') return { k: 'null', target, isNull: op === 'eq' };
  if (target.type === 'boolean' && op !== 'eq' && op !== 'ne') {
    throw new ODataError('$filter', `'${op}' cannot be used with the boolean attribute '${target.name}'`, operatorPosition, 'use eq or ne');
  }
  if (c.kind === 'datetime') {
    if (!c.truncated) return { k: 'cmp', target, op, value: c.value };
    // The literal lies strictly between two millisecond values: no stored value equals it, and the
    // ordered comparisons are exact against the millisecond below (gt, le) or above (ge, lt).
    switch (op) {
      case 'eq':
        return { k: 'const', value: false };
      case 'ne':
        return { k: 'const', value: true };
      case 'gt':
      case 'le':
        return { k: 'cmp', target, op, value: c.value };
      case 'ge':
      case 'lt':
        return { k: 'cmp', target, op, value: nextMillisecond(c.value) };
    }
  }
  return { k: 'cmp', target, op, value: c.value };
}

function bind(node: FilterNode, attributes: AttributeMap): Bound {
  switch (node.kind) {
    case 'and':
    case 'or':
      return { k: node.kind, items: node.operands.map((n) => bind(n, attributes)) };
    case 'not':
      return { k: 'not', item: bind(node.operand, attributes) };
    case 'comparison':
      return bindComparison(resolveTarget(node.left, attributes), node.operator, node.right, node.operatorPosition);
    case 'in': {
      const target = resolveTarget(node.operand, attributes);
      const values: Scalar[] = [];
      let orNull = false;
      for (const lit of node.values) {
        const c = coerce(lit, target);
        if (c.kind === 'null') orNull = true;
        else if (c.kind === 'value') values.push(c.value);
        else if (!c.truncated) values.push(c.value); // a sub-millisecond date-time equals no stored value
      }
      if (!values.length) return orNull ? { k: 'null', target, isNull: true } : { k: 'const', value: false };
      return { k: 'in', target, values, orNull };
    }
    case 'function': {
      const target = resolveTarget(node.operand, attributes);
      if (target.type !== 'string') {
        throw new ODataError('$filter', `${node.name} needs a string attribute; '${target.name}' is ${TYPE_NAMES[target.type]}`, node.operand.position);
      }
      return { k: 'like', target, fn: node.name, text: node.argument.value };
    }
    case 'segment':
      return { k: 'segment', name: node.name, position: node.position };
  }
}

/**
 * Checks a filter against the whitelist (unknown attributes, type mismatches) without producing
 * anything; compileFilter and compileMatcher do the same checks.
 */
export function checkFilter(ast: FilterNode, attributes: AttributeMap): void {
  bind(ast, attributes);
}

// ---------------------------------------------------------------------------------------------
// SQL

const SQL_OPERATORS: Record<ComparisonOperator, string> = { eq: '=', ne: '<>', gt: '>', ge: '>=', lt: '<', le: '<=' };

/** Escapes LIKE wildcards (and the escape character itself) in user text, for ESCAPE '\'. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function likePattern(fn: StringFunctionName, text: string): string {
  const body = escapeLike(text);
  return fn === 'contains' ? `%${body}%` : fn === 'startswith' ? `${body}%` : `%${body}`;
}

/** True when `sql` can take an operator without parentheses: a name, or name(...) whose ')' is the last character. */
function isSimpleSql(sql: string): boolean {
  const s = sql.trim();
  if (/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(s)) return true;
  if (/^"[^"]*"(\."[^"]*")?$/.test(s)) return true;
  const m = /^[A-Za-z_][A-Za-z0-9_]*\(/.exec(s);
  if (!m) return false;
  let depth = 0;
  let quote: string | undefined;
  for (let i = m[0].length - 1; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = undefined;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i === s.length - 1;
  }
  return false;
}

const ASCII_UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const ASCII_LOWER = 'abcdefghijklmnopqrstuvwxyz';

/** SQLite's LOWER (without ICU) lowers ASCII letters only; so does this PostgreSQL expression. */
function asciiLower(sql: string): string {
  return `translate(${sql}, '${ASCII_UPPER}', '${ASCII_LOWER}')`;
}

function sqlExpressionOf(t: Target, dialect: 'sqlite' | 'postgres' = 'sqlite'): string {
  if (t.lower) return dialect === 'postgres' ? asciiLower(t.sql) : `LOWER(${t.sql})`;
  return isSimpleSql(t.sql) ? t.sql.trim() : `(${t.sql})`;
}

/**
 * Compiles a filter to `{ where, params }`. Values are only ever bound as parameters; the SQL text comes
 * from the whitelist and fixed keywords. Throws ODataError for unknown attributes, type mismatches and
 * IsMemberOfSegment without `options.segment`.
 */
export function compileFilter(ast: FilterNode | undefined, attributes: AttributeMap, options: SqlCompileOptions = {}): CompiledFilter {
  const params: unknown[] = [];
  if (!ast) return { where: '1 = 1', params };
  const bound = bind(ast, attributes);
  const numbered = options.placeholder === '$n';
  let next = options.firstParameterIndex ?? 1;
  const param = (value: unknown): string => {
    params.push(value);
    return numbered ? `$${next++}` : '?';
  };
  const value = (v: Scalar): unknown => (typeof v === 'boolean' && options.booleanStyle !== 'boolean' ? (v ? 1 : 0) : v);
  const dialect = options.dialect ?? 'sqlite';
  const sqlExpression = (t: Target) => sqlExpressionOf(t, dialect);

  const emit = (b: Bound): string => {
    switch (b.k) {
      case 'and':
      case 'or':
        return `(${b.items.map(emit).join(b.k === 'and' ? ' AND ' : ' OR ')})`;
      case 'not':
        return `NOT COALESCE(${emit(b.item)}, FALSE)`;
      case 'const':
        return b.value ? '1 = 1' : '1 = 0';
      case 'null':
        return `${sqlExpression(b.target)} ${b.isNull ? 'IS NULL' : 'IS NOT NULL'}`;
      case 'cmp': {
        const e = sqlExpression(b.target);
        if (b.op === 'ne') return `(${e} IS NULL OR ${e} <> ${param(value(b.value))})`;
        return `${e} ${SQL_OPERATORS[b.op]} ${param(value(b.value))}`;
      }
      case 'in': {
        const e = sqlExpression(b.target);
        const list = `${e} IN (${b.values.map((v) => param(value(v))).join(', ')})`;
        return b.orNull ? `(${list} OR ${e} IS NULL)` : list;
      }
      case 'like':
        // SQLite's LIKE folds ASCII letters; on PostgreSQL both sides are folded the same way.
        if (dialect === 'postgres') return `${asciiLower(sqlExpression(b.target))} LIKE ${param(foldAscii(likePattern(b.fn, b.text)))} ESCAPE '\\'`;
        return `${sqlExpression(b.target)} LIKE ${param(likePattern(b.fn, b.text))} ESCAPE '\\'`;
      case 'segment': {
        if (!options.segment) throw new ODataError('$filter', 'IsMemberOfSegment is not supported for this entity', b.position);
        return `(${options.segment(b.name, { param, position: b.position })})`;
      }
    }
  };
  return { where: emit(bound), params };
}

/**
 * `ORDER BY ...` for $orderby items (or '' when there are none and no tiebreaker). Nulls sort first
 * ascending and last descending (OData's and SQLite's order), written out so PostgreSQL agrees.
 * `tiebreaker` is trusted SQL appended last (e.g. a primary key, for stable paging).
 */
export function compileOrderBy(orderby: readonly OrderByItem[], attributes: AttributeMap, options: { tiebreaker?: string } = {}): string {
  const parts = orderby.map((item) => {
    const def = resolveAttribute('$orderby', item.attribute, item.position, attributes);
    const e = isSimpleSql(def.sql) ? def.sql.trim() : `(${def.sql})`;
    return item.direction === 'desc' ? `${e} DESC NULLS LAST` : `${e} ASC NULLS FIRST`;
  });
  if (options.tiebreaker) parts.push(options.tiebreaker);
  return parts.length ? `ORDER BY ${parts.join(', ')}` : '';
}

/** Throws ODataError('$select') naming the first attribute not in the whitelist. */
export function checkSelect(select: readonly string[] | undefined, attributes: AttributeMap): void {
  for (const name of select ?? []) resolveAttribute('$select', name, undefined, attributes);
}

// ---------------------------------------------------------------------------------------------
// In memory

type SqlValue = null | number | string;

/** A JS value as SQLite's json_extract would return it: booleans as 1/0, objects as JSON text. */
function toSqlValue(v: unknown): SqlValue {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
      return Number.isFinite(v) ? v : null;
    case 'boolean':
      return v ? 1 : 0;
    case 'bigint':
      return Number(v);
    default:
      if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
      return JSON.stringify(v) ?? null;
  }
}

/** Code point order, which is SQLite's BINARY collation on UTF-8 text. */
function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // UTF-16 order and code point order differ only when a surrogate meets a unit in U+E000..U+FFFF.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** SQLite's ordering of two non-null values: numbers before text. */
function compareValues(a: number | string, b: number | string): number {
  if (typeof a === 'number') return typeof b === 'number' ? (a < b ? -1 : a > b ? 1 : 0) : -1;
  return typeof b === 'number' ? 1 : compareStrings(a, b);
}

function foldAscii(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

function asText(v: number | string): string {
  return typeof v === 'number' ? String(v) : v;
}

export type Matcher = (record: Readonly<Record<string, unknown>>) => boolean;

/**
 * Builds a predicate equivalent to compileFilter's SQL for records held in memory (the real-time overlay).
 * Validation happens once, here, with the same errors as compileFilter.
 */
export function compileMatcher(ast: FilterNode | undefined, attributes: AttributeMap, options: MatchOptions = {}): Matcher {
  if (!ast) return () => true;
  const get = options.get ?? ((record, name) => record[name]);
  const read = (t: Target, record: Readonly<Record<string, unknown>>): SqlValue => {
    const v = toSqlValue(get(record, t.name));
    if (!t.lower || v === null) return v;
    return foldAscii(asText(v));
  };
  const build = (b: Bound): Matcher => {
    switch (b.k) {
      case 'and': {
        const items = b.items.map(build);
        return (r) => items.every((m) => m(r));
      }
      case 'or': {
        const items = b.items.map(build);
        return (r) => items.some((m) => m(r));
      }
      case 'not': {
        const item = build(b.item);
        return (r) => !item(r);
      }
      case 'const': {
        const value = b.value;
        return () => value;
      }
      case 'null':
        return (r) => (read(b.target, r) === null) === b.isNull;
      case 'cmp': {
        const lit = toSqlValue(b.value) as number | string;
        const test: (c: number) => boolean = {
          eq: (c: number) => c === 0,
          ne: (c: number) => c !== 0,
          gt: (c: number) => c > 0,
          ge: (c: number) => c >= 0,
          lt: (c: number) => c < 0,
          le: (c: number) => c <= 0,
        }[b.op];
        const whenNull = b.op === 'ne';
        return (r) => {
          const v = read(b.target, r);
          return v === null ? whenNull : test(compareValues(v, lit));
        };
      }
      case 'in': {
        const values = b.values.map((v) => toSqlValue(v) as number | string);
        const orNull = b.orNull;
        return (r) => {
          const v = read(b.target, r);
          return v === null ? orNull : values.some((x) => compareValues(v, x) === 0);
        };
      }
      case 'like': {
        const needle = foldAscii(b.text);
        const fn = b.fn;
        return (r) => {
          const v = read(b.target, r);
          if (v === null) return false;
          const hay = foldAscii(asText(v));
          return fn === 'contains' ? hay.includes(needle) : fn === 'startswith' ? hay.startsWith(needle) : hay.endsWith(needle);
        };
      }
      case 'segment': {
        const test = options.isMemberOfSegment;
        if (!test) throw new ODataError('$filter', 'IsMemberOfSegment is not supported for this entity', b.position);
        const name = b.name;
        return (r) => test(name, r);
      }
    }
  };
  return build(bind(ast, attributes));
}

/** One-off form of compileMatcher. For many records, build the matcher once with compileMatcher. */
export function matchesFilter(
  ast: FilterNode | undefined,
  record: Readonly<Record<string, unknown>>,
  attributes: AttributeMap,
  options: MatchOptions = {},
): boolean {
  return compileMatcher(ast, attributes, options)(record);
}

/**
 * A comparator with compileOrderBy's order (nulls first ascending, last descending; SQLite's value
 * order), for sorting records in memory. Ties return 0: add your own tiebreaker.
 */
export function compareByOrderBy(
  orderby: readonly OrderByItem[],
  attributes: AttributeMap,
  options: Pick<MatchOptions, 'get'> = {},
): (a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>) => number {
  const get = options.get ?? ((record, name) => record[name]);
  const keys = orderby.map((item) => {
    resolveAttribute('$orderby', item.attribute, item.position, attributes);
    return { name: item.attribute, sign: item.direction === 'desc' ? -1 : 1 };
  });
  return (a, b) => {
    for (const { name, sign } of keys) {
      const x = toSqlValue(get(a, name));
      const y = toSqlValue(get(b, name));
      const c = x === null ? (y === null ? 0 : -1) : y === null ? 1 : compareValues(x, y);
      if (c !== 0) return sign * c;
    }
    return 0;
  };
}
