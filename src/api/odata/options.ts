// The OData system query options of GET /instances/{id}/data/{entity}: $filter, $select, $orderby, $top,
// $skip, $count, $search, $expand, $skiptoken. Parameters without a '$' (api-version, ...) are left to
// the caller; an unknown '$' option is an error.
import { ODataError } from './errors.js';
import { DEFAULT_FILTER_LIMITS, parseFilter, type FilterLimits, type FilterNode } from './filter.js';

export interface OrderByItem {
  attribute: string;
  direction: 'asc' | 'desc';
  /** 0-based offset of the attribute name in the $orderby value (absent for items built in code). */
  position?: number;
}

export interface QueryOptions {
  /** Parsed $filter; absent when not given. */
  filter?: FilterNode;
  /** Attribute names from $select (in order, without repeats); absent when not given or `*`. */
  select?: string[];
  /** $orderby items; empty when not given. */
  orderby: OrderByItem[];
  /** Page size: $top, or the default when not given. */
  top: number;
  /** $skip, 0 when not given. */
  skip: number;
  /** $count=true asks for "@odata.count". */
  count: boolean;
  /** $search text, trimmed. */
  search?: string;
  /** Names from $expand; empty when not given. */
  expand: string[];
  /** $skiptoken, opaque. */
  skiptoken?: string;
}

export interface QueryLimits {
  /** Page size when $top is not given. */
  defaultTop: number;
  /** Largest accepted $top. */
  maxTop: number;
  maxSearchLength: number;
  maxSkipTokenLength: number;
  /** Most $orderby items (SQLite refuses more than 2000 ORDER BY terms; no one needs 32). */
  maxOrderBy: number;
  filter: Partial<FilterLimits>;
}

export const DEFAULT_QUERY_LIMITS: Readonly<QueryLimits> = Object.freeze({
  defaultTop: 100,
  maxTop: 1000,
  maxSearchLength: 200,
  maxSkipTokenLength: 2048,
  maxOrderBy: 32,
  filter: DEFAULT_FILTER_LIMITS,
});

export const SUPPORTED_QUERY_OPTIONS = ['$filter', '$select', '$orderby', '$top', '$skip', '$count', '$search', '$expand', '$skiptoken'] as const;
export type SupportedQueryOption = (typeof SUPPORTED_QUERY_OPTIONS)[number];

/** A parsed query string: URLSearchParams, or an object such as Fastify's request.query. */
export type QueryInput = URLSearchParams | Readonly<Record<string, unknown>>;

const IDENT_RE = /[A-Za-z_][A-Za-z0-9_]*/y;

function identAt(text: string, pos: number): string | undefined {
  IDENT_RE.lastIndex = pos;
  return IDENT_RE.exec(text)?.[0];
}

function skipSpaces(text: string, pos: number): number {
  while (pos < text.length && /\s/.test(text[pos])) pos++;
  return pos;
}

function describeAt(text: string, pos: number): string {
  return pos >= text.length ? 'the end of the value' : `'${text[pos]}'`;
}

interface NamePos {
  name: string;
  position: number;
}

/** A comma-separated list of names; `star` lets an item be '*'. */
function parseNameList(option: '$select' | '$expand', text: string, star: boolean): NamePos[] {
  const items: NamePos[] = [];
  let i = 0;
  for (;;) {
    i = skipSpaces(text, i);
    const what = option === '$select' ? 'an attribute name' : 'a name';
    if (star && text[i] === '*') {
      items.push({ name: '*', position: i });
      i++;
    } else {
      const name = identAt(text, i);
      if (name === undefined) throw new ODataError(option, `expected ${what}${items.length ? " after ','" : ''}, found ${describeAt(text, i)}`, i);
      items.push({ name, position: i });
      i += name.length;
    }
    i = skipSpaces(text, i);
    if (i >= text.length) return items;
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (option === '$expand' && text[i] === '(') throw new ODataError(option, 'options inside $expand (e.g. ($select=...)) are not supported', i);
    if (text[i] === '/') throw new ODataError(option, 'navigation paths are not supported', i);
    throw new ODataError(option, `expected ',' or the end of the value, found ${describeAt(text, i)}`, i);
  }
}

/** $select: `A,B,C` or `*`. Returns undefined for "all attributes". */
export function parseSelect(text: string): string[] | undefined {
  const items = parseNameList('$select', text, true);
  if (items.some((item) => item.name === '*')) return undefined;
  return [...new Set(items.map((item) => item.name))];
}

/** $expand: `UnifiedActivity,Customer_Measure`. */
export function parseExpand(text: string): string[] {
  return [...new Set(parseNameList('$expand', text, false).map((item) => item.name))];
}

/** $orderby: `A`, `A asc`, `A desc, B`. */
export function parseOrderBy(text: string, maxItems: number = DEFAULT_QUERY_LIMITS.maxOrderBy): OrderByItem[] {
  const items: OrderByItem[] = [];
  let i = 0;
  for (;;) {
    i = skipSpaces(text, i);
    if (items.length >= maxItems) throw new ODataError('$orderby', `too many items (the maximum is ${maxItems})`, i);
    const name = identAt(text, i);
    if (name === undefined) {
      throw new ODataError('$orderby', `expected an attribute name${items.length ? " after ','" : ''}, found ${describeAt(text, i)}`, i);
    }
    const item: OrderByItem = { attribute: name, direction: 'asc', position: i };
    items.push(item);
    i += name.length;
    const afterName = i;
    i = skipSpaces(text, i);
    const word = i > afterName ? identAt(text, i) : undefined;
    if (word !== undefined) {
      if (word !== 'asc' && word !== 'desc') {
        const lower = word.toLowerCase();
        const hint = lower === 'asc' || lower === 'desc' ? `directions are lower case: '${lower}'` : undefined;
        throw new ODataError('$orderby', `expected 'asc' or 'desc' after '${name}', found '${word}'`, i, hint);
      }
      item.direction = word;
      i = skipSpaces(text, i + word.length);
    }
    if (i >= text.length) return items;
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] === '/') throw new ODataError('$orderby', 'navigation paths are not supported', i);
    if (text[i] === '(') throw new ODataError('$orderby', 'functions are not supported in $orderby', i);
    throw new ODataError('$orderby', `expected 'asc', 'desc', ',' or the end of the value, found ${describeAt(text, i)}`, i);
  }
}

function parseInteger(option: '$top' | '$skip', text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
    throw new ODataError(option, `expected ${range}, got '${text}'`);
  }
  return value;
}

function collect(query: QueryInput): Map<string, string> {
  const out = new Map<string, string>();
  const add = (key: string, value: unknown): void => {
    if (!key.startsWith('$')) return;
    if (value === undefined) return;
    if (out.has(key) || Array.isArray(value)) throw new ODataError(key, 'is given more than once');
    if (typeof value !== 'string') throw new ODataError(key, 'must be a single text value');
    out.set(key, value);
  };
  if (query instanceof URLSearchParams) {
    for (const [key, value] of query) add(key, value);
  } else {
    for (const key of Object.keys(query)) add(key, query[key]);
  }
  return out;
}

/**
 * Validates and parses the '$' options of a query string. Throws ODataError naming the option (and the
 * position or value) for anything it does not accept, including an unknown '$' option.
 */
export function parseQueryOptions(query: QueryInput, limits: Partial<QueryLimits> = {}): QueryOptions {
  const l: QueryLimits = { ...DEFAULT_QUERY_LIMITS, ...limits };
  if (!(Number.isInteger(l.maxTop) && l.maxTop >= 1 && Number.isInteger(l.defaultTop) && l.defaultTop >= 1 && l.defaultTop <= l.maxTop)) {
    throw new RangeError(`query limits: need 1 <= defaultTop (${l.defaultTop}) <= maxTop (${l.maxTop})`);
  }
  const given = collect(query);
  for (const key of given.keys()) {
    if (!(SUPPORTED_QUERY_OPTIONS as readonly string[]).includes(key)) {
      const sameIgnoringCase = SUPPORTED_QUERY_OPTIONS.find((o) => o.toLowerCase() === key.toLowerCase());
      const hint = sameIgnoringCase
        ? `option names are case-sensitive: '${sameIgnoringCase}'`
        : `supported options: ${SUPPORTED_QUERY_OPTIONS.join(', ')}`;
      throw new ODataError(key, `unknown query option '${key}'`, undefined, hint);
    }
  }
  const options: QueryOptions = { orderby: [], top: l.defaultTop, skip: 0, count: false, expand: [] };

  const filter = given.get('$filter');
  if (filter !== undefined) options.filter = parseFilter(filter, { ...DEFAULT_FILTER_LIMITS, ...l.filter });

  const select = given.get('$select');
  if (select !== undefined) options.select = parseSelect(select);

  const orderby = given.get('$orderby');
  if (orderby !== undefined) options.orderby = parseOrderBy(orderby, l.maxOrderBy);

  const top = given.get('$top');
  if (top !== undefined) options.top = parseInteger('$top', top, 1, l.maxTop);

  const skip = given.get('$skip');
  if (skip !== undefined) options.skip = parseInteger('$skip', skip, 0, Number.MAX_SAFE_INTEGER);

  const count = given.get('$count');
  if (count !== undefined) {
    if (count !== 'true' && count !== 'false') throw new ODataError('$count', `expected true or false, got '${count}'`);
    options.count = count === 'true';
  }

  const search = given.get('$search');
  if (search !== undefined) {
    const text = search.trim();
    if (!text) throw new ODataError('$search', 'must not be empty');
    if (text.length > l.maxSearchLength) {
      throw new ODataError('$search', `is too long (${text.length} characters; the maximum is ${l.maxSearchLength})`);
    }
    options.search = text;
  }

  const expand = given.get('$expand');
  if (expand !== undefined) options.expand = parseExpand(expand);

  const skiptoken = given.get('$skiptoken');
  if (skiptoken !== undefined) {
    if (!skiptoken) throw new ODataError('$skiptoken', 'must not be empty');
    if (skiptoken.length > l.maxSkipTokenLength) {
      throw new ODataError('$skiptoken', `is too long (${skiptoken.length} characters; the maximum is ${l.maxSkipTokenLength})`);
    }
    options.skiptoken = skiptoken;
  }
  return options;
}
