// $filter: a tokenizer and a recursive-descent parser producing a typed AST. No OData library.
//
// Grammar (keywords and function names are case-sensitive, as in OData):
//   filter     := or EOF
//   or         := and ('or' and)*
//   and        := unary ('and' unary)*
//   unary      := 'not' unary | primary
//   primary    := '(' or ')'
//               | operand COMPARE literal | literal COMPARE operand
//               | operand 'in' '(' literal (',' literal)* ')'
//               | ('contains' | 'startswith' | 'endswith') '(' operand ',' string ')'
//               | 'IsMemberOfSegment' '(' string ')'
//   operand    := attribute | 'tolower' '(' attribute ')'
//   COMPARE    := 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le'
//   literal    := 'string' (with '' for a quote) | integer | decimal | true | false | null
//               | date-time (unquoted, e.g. 2026-01-01T00:00:00Z) | GUID (unquoted, read as a string)
//   attribute  := [A-Za-z_][A-Za-z0-9_]*
// Precedence: not > and > or. Comparisons are normalised so that the operand is on the left
// ('X' eq CustomerId becomes CustomerId eq 'X'; 5 lt Age becomes Age gt 5).
import { ODataError } from './errors.js';

export { ODataError } from './errors.js';

export type ComparisonOperator = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';
export type StringFunctionName = 'contains' | 'startswith' | 'endswith';

export const COMPARISON_OPERATORS: readonly ComparisonOperator[] = ['eq', 'ne', 'gt', 'ge', 'lt', 'le'];
export const STRING_FUNCTIONS: readonly StringFunctionName[] = ['contains', 'startswith', 'endswith'];
const FUNCTIONS = ['contains', 'startswith', 'endswith', 'tolower', 'IsMemberOfSegment'] as const;

export interface AttributeRef {
  kind: 'attribute';
  name: string;
  position: number;
}

export interface ToLowerExpression {
  kind: 'tolower';
  attribute: AttributeRef;
  position: number;
}

/** What a comparison, an `in` or a string function applies to. */
export type ValueExpression = AttributeRef | ToLowerExpression;

interface LiteralBase {
  kind: 'literal';
  position: number;
  /** The literal as written. */
  raw: string;
}
export interface StringLiteral extends LiteralBase {
  type: 'string';
  value: string;
}
export interface NumberLiteral extends LiteralBase {
  type: 'number';
  value: number;
}
export interface BooleanLiteral extends LiteralBase {
  type: 'boolean';
  value: boolean;
}
export interface NullLiteral extends LiteralBase {
  type: 'null';
  value: null;
}
export interface DateTimeLiteral extends LiteralBase {
  type: 'datetime';
  /** Normalised to UTC, `YYYY-MM-DDTHH:mm:ss.sssZ`: the form stored values have. */
  value: string;
  /** True when the literal had non-zero digits below the millisecond; `value` is then cut down (floor). */
  truncated: boolean;
}
export type Literal = StringLiteral | NumberLiteral | BooleanLiteral | NullLiteral | DateTimeLiteral;

export interface AndNode {
  kind: 'and';
  operands: FilterNode[];
  position: number;
}
export interface OrNode {
  kind: 'or';
  operands: FilterNode[];
  position: number;
}
export interface NotNode {
  kind: 'not';
  operand: FilterNode;
  position: number;
}
export interface ComparisonNode {
  kind: 'comparison';
  operator: ComparisonOperator;
  left: ValueExpression;
  right: Literal;
  position: number;
  operatorPosition: number;
}
export interface InNode {
  kind: 'in';
  operand: ValueExpression;
  values: Literal[];
  position: number;
}
export interface StringFunctionNode {
  kind: 'function';
  name: StringFunctionName;
  operand: ValueExpression;
  argument: StringLiteral;
  position: number;
}
export interface SegmentMembershipNode {
  kind: 'segment';
  /** The segment name given to IsMemberOfSegment('...'). */
  name: string;
  position: number;
}
export type FilterNode = AndNode | OrNode | NotNode | ComparisonNode | InNode | StringFunctionNode | SegmentMembershipNode;

export interface FilterLimits {
  /** Longest accepted $filter, in characters. */
  maxLength: number;
  /** Deepest nesting of parentheses and `not`. */
  maxDepth: number;
  /** Most values in one `in (...)` list. */
  maxInItems: number;
  /** Most conditions (comparisons, `in`, functions) in one filter. */
  maxTerms: number;
}

export const DEFAULT_FILTER_LIMITS: Readonly<FilterLimits> = Object.freeze({ maxLength: 2000, maxDepth: 20, maxInItems: 100, maxTerms: 100 });

// ---------------------------------------------------------------------------------------------
// Date-time literals

const DATE_TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:([Zz])|([+ -])(\d{2}):(\d{2}))?)?$/;

/**
 * Parses an ISO 8601 / RFC 3339 date-time (`2026-01-01T10:00:00Z`, `2026-01-01T11:00:00.5+01:00`,
 * `2026-01-01`) and normalises it to UTC `YYYY-MM-DDTHH:mm:ss.sssZ`. Without an offset the time is read as
 * UTC; a date alone means midnight UTC. A space in place of the offset's '+' is accepted, because an
 * unencoded '+' in a query string arrives as a space. Returns undefined for anything else.
 */
export function parseDateTime(text: string): { value: string; truncated: boolean } | undefined {
  const m = DATE_TIME_RE.exec(text);
  if (!m) return undefined;
  const [, ys, mos, ds, hs, mis, ss, frac, zulu, sign, ohs, oms] = m;
  const year = Number(ys);
  const month = Number(mos);
  const day = Number(ds);
  const hour = hs === undefined ? 0 : Number(hs);
  const minute = mis === undefined ? 0 : Number(mis);
  const second = ss === undefined ? 0 : Number(ss);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (sign !== undefined && !zulu) {
    const oh = Number(ohs);
    const om = Number(oms);
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (sign === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const millis = frac === undefined ? 0 : Number(frac.slice(0, 3).padEnd(3, '0'));
  const truncated = frac !== undefined && /[1-9]/.test(frac.slice(3));
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute - offsetMinutes, second, millis);
  const time = date.getTime();
  // toISOString() only has the plain four-digit form for years 0000..9999.
  if (!Number.isFinite(time) || date.getUTCFullYear() < 0 || date.getUTCFullYear() > 9999) return undefined;
  return { value: date.toISOString(), truncated };
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

// ---------------------------------------------------------------------------------------------
// Tokenizer

type TokenType = 'lparen' | 'rparen' | 'comma' | 'ident' | 'literal' | 'symbol' | 'eof';

interface Token {
  type: TokenType;
  /** 0-based offset of the token's first character. */
  pos: number;
  text: string;
  literal?: Literal;
}

const IDENT_RE = /[A-Za-z_][A-Za-z0-9_]*/y;
const GUID_RE = /[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![A-Za-z0-9_])/y;
// Broad on purpose (it takes in bad dates too) so that parseDateTime can say what is wrong with them;
// the space alternative of the offset only applies after a time with seconds.
const DATE_TIME_TOKEN_RE =
  /\d{4}-\d{1,2}-\d{1,2}(?:[Tt]\d{1,2}:\d{1,2}(?::\d{1,2}(?:\.\d+)?(?: \d{2}:\d{2})?)?(?:[Zz]|[+-]\d{1,2}:\d{1,2})?)?/y;
const NUMBER_RE = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WORD_TAIL_RE = /[A-Za-z0-9_.:+-]*/y;
const SYMBOL_RE = /[=!<>&|]+/y;

const OPTION = '$filter';

function fail(position: number, detail: string, hint?: string): never {
  throw new ODataError(OPTION, detail, position, hint);
}

function matchAt(re: RegExp, text: string, pos: number): string | undefined {
  re.lastIndex = pos;
  const m = re.exec(text);
  return m ? m[0] : undefined;
}

class Lexer {
  private pos = 0;
  private readonly buffer: Token[] = [];

  constructor(private readonly text: string) {}

  peek(ahead = 0): Token {
    while (this.buffer.length <= ahead) this.buffer.push(this.scan());
    return this.buffer[ahead];
  }

  next(): Token {
    const token = this.peek();
    this.buffer.shift();
    return token;
  }

  private scan(): Token {
    const text = this.text;
    while (this.pos < text.length && /\s/.test(text[this.pos])) this.pos++;
    const start = this.pos;
    if (start >= text.length) return { type: 'eof', pos: text.length, text: '' };
    const c = text[start];
    const single = (type: TokenType): Token => {
      this.pos++;
      return { type, pos: start, text: c };
    };
    if (c === '(') return single('lparen');
    if (c === ')') return single('rparen');
    if (c === ',') return single('comma');
    if (c === "'") return this.scanString(start);

    const guid = /[0-9A-Fa-f]/.test(c) ? matchAt(GUID_RE, text, start) : undefined;
    if (guid !== undefined) {
      this.pos += guid.length;
      return { type: 'literal', pos: start, text: guid, literal: { kind: 'literal', type: 'string', value: guid, raw: guid, position: start } };
    }
    if (/[A-Za-z_]/.test(c)) {
      const word = matchAt(IDENT_RE, text, start)!;
      this.pos += word.length;
      if (word === 'true' || word === 'false') {
        return { type: 'literal', pos: start, text: word, literal: { kind: 'literal', type: 'boolean', value: word === 'true', raw: word, position: start } };
      }
      if (word === 'null') {
        return { type: 'literal', pos: start, text: word, literal: { kind: 'literal', type: 'null', value: null, raw: word, position: start } };
      }
      return { type: 'ident', pos: start, text: word };
    }
    if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(text[start + 1] ?? ''))) return this.scanNumberOrDate(start);
    const symbol = matchAt(SYMBOL_RE, text, start);
    if (symbol !== undefined) {
      this.pos += symbol.length;
      return { type: 'symbol', pos: start, text: symbol };
    }
    if (c === '"') fail(start, `unexpected character '"'`, "string values are written in single quotes: 'text'");
    fail(start, `unexpected character '${c}'`);
  }

  private scanString(start: number): Token {
    const text = this.text;
    let value = '';
    let i = start + 1;
    for (;;) {
      const close = text.indexOf("'", i);
      if (close < 0) fail(start, 'unterminated string starting', "a string ends with a single quote; write '' for a quote inside it");
      value += text.slice(i, close);
      if (text[close + 1] === "'") {
        value += "'";
        i = close + 2;
        continue;
      }
      i = close + 1;
      break;
    }
    this.pos = i;
    const raw = text.slice(start, i);
    return { type: 'literal', pos: start, text: raw, literal: { kind: 'literal', type: 'string', value, raw, position: start } };
  }

  private scanNumberOrDate(start: number): Token {
    const text = this.text;
    const tail = matchAt(WORD_TAIL_RE, text, start) ?? '';
    const dateText = matchAt(DATE_TIME_TOKEN_RE, text, start);
    if (dateText !== undefined && !/[A-Za-z0-9_.:]/.test(text[start + dateText.length] ?? '')) {
      const parsed = parseDateTime(dateText);
      if (!parsed) fail(start, `invalid date-time literal '${dateText}'`, 'expected e.g. 2026-01-01T00:00:00Z');
      this.pos = start + dateText.length;
      const literal: DateTimeLiteral = { kind: 'literal', type: 'datetime', value: parsed.value, truncated: parsed.truncated, raw: dateText, position: start };
      return { type: 'literal', pos: start, text: dateText, literal };
    }
    if (/^-?\d{4}-/.test(tail)) fail(start, `invalid date-time literal '${tail}'`, 'expected e.g. 2026-01-01T00:00:00Z');
    const numText = matchAt(NUMBER_RE, text, start);
    if (numText === undefined || /[A-Za-z0-9_.]/.test(text[start + numText.length] ?? '')) fail(start, `invalid number '${tail}'`);
    const value = Number(numText);
    const isInteger = /^-?\d+$/.test(numText);
    if (isInteger && !Number.isSafeInteger(value)) {
      fail(start, `integer ${numText} is out of range`, `integers must lie between -${Number.MAX_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}`);
    }
    if (!Number.isFinite(value)) fail(start, `number ${numText} is out of range`);
    this.pos = start + numText.length;
    return { type: 'literal', pos: start, text: numText, literal: { kind: 'literal', type: 'number', value, raw: numText, position: start } };
  }
}

// ---------------------------------------------------------------------------------------------
// Parser

const SYMBOL_HINTS: Record<string, string> = {
  '=': 'eq',
  '==': 'eq',
  '===': 'eq',
  '!=': 'ne',
  '!==': 'ne',
  '<>': 'ne',
  '>': 'gt',
  '>=': 'ge',
  '<': 'lt',
  '<=': 'le',
  '&&': 'and',
  '&': 'and',
  '||': 'or',
  '|': 'or',
  '!': 'not',
};
const FLIPPED: Record<ComparisonOperator, ComparisonOperator> = { eq: 'eq', ne: 'ne', gt: 'lt', ge: 'le', lt: 'gt', le: 'ge' };
const KEYWORDS = new Set(['and', 'or', 'not', 'in', ...COMPARISON_OPERATORS]);

function isOperator(token: Token): token is Token & { text: ComparisonOperator } {
  return token.type === 'ident' && (COMPARISON_OPERATORS as readonly string[]).includes(token.text);
}

function isKeyword(token: Token, word: string): boolean {
  return token.type === 'ident' && token.text === word;
}

function describe(token: Token): string {
  switch (token.type) {
    case 'eof':
      return 'the end of the filter';
    case 'literal': {
      const lit = token.literal!;
      if (lit.type === 'null' || lit.type === 'boolean') return `'${lit.raw}'`;
      return `${lit.type === 'datetime' ? 'date-time' : lit.type} ${lit.raw}`;
    }
    default:
      return `'${token.text}'`;
  }
}

/** A hint for words that would be keywords or functions in the right letter case. */
function caseHint(word: string): string | undefined {
  const lower = word.toLowerCase();
  if (word !== lower && KEYWORDS.has(lower)) return `operators and keywords are lower case: '${lower}'`;
  const fn = FUNCTIONS.find((f) => f.toLowerCase() === lower && f !== word);
  if (fn) return `function names are case-sensitive: '${fn}'`;
  return undefined;
}

function formatOperand(operand: ValueExpression): string {
  return operand.kind === 'tolower' ? `tolower(${operand.attribute.name})` : operand.name;
}

class Parser {
  private readonly lexer: Lexer;
  private terms = 0;

  constructor(
    text: string,
    private readonly limits: FilterLimits,
  ) {
    this.lexer = new Lexer(text);
  }

  parse(): FilterNode {
    const node = this.parseOr(0, undefined);
    const t = this.lexer.peek();
    if (t.type === 'eof') return node;
    if (t.type === 'rparen') fail(t.pos, "unbalanced parentheses: ')' has no matching '('");
    const hint = t.type === 'ident' ? caseHint(t.text) : t.type === 'symbol' ? symbolHint(t.text) : undefined;
    fail(t.pos, `unexpected ${describe(t)} after a complete expression`, hint ?? "expected 'and', 'or' or the end of the filter");
  }

  private parseOr(depth: number, after: string | undefined): FilterNode {
    const first = this.parseAnd(depth, after);
    const operands = [first];
    while (isKeyword(this.lexer.peek(), 'or')) {
      this.lexer.next();
      operands.push(this.parseAnd(depth, 'or'));
    }
    return operands.length === 1 ? first : { kind: 'or', operands, position: first.position };
  }

  private parseAnd(depth: number, after: string | undefined): FilterNode {
    const first = this.parseUnary(depth, after);
    const operands = [first];
    while (isKeyword(this.lexer.peek(), 'and')) {
      this.lexer.next();
      operands.push(this.parseUnary(depth, 'and'));
    }
    return operands.length === 1 ? first : { kind: 'and', operands, position: first.position };
  }

  private checkDepth(depth: number, token: Token): void {
    if (depth > this.limits.maxDepth) {
      fail(token.pos, `the filter is nested too deeply (more than ${this.limits.maxDepth} levels of parentheses and 'not')`);
    }
  }

  private parseUnary(depth: number, after: string | undefined): FilterNode {
    const t = this.lexer.peek();
    if (isKeyword(t, 'not')) {
      this.checkDepth(depth + 1, t);
      this.lexer.next();
      return { kind: 'not', operand: this.parseUnary(depth + 1, 'not'), position: t.pos };
    }
    return this.parsePrimary(depth, after);
  }

  private parsePrimary(depth: number, after: string | undefined): FilterNode {
    const lexer = this.lexer;
    const t = lexer.peek();
    const expected = after === undefined ? 'expected an expression' : `expected an expression after '${after}'`;
    if (t.type !== 'lparen' && ++this.terms > this.limits.maxTerms) {
      fail(t.pos, `the filter has too many conditions (the maximum is ${this.limits.maxTerms})`);
    }
    switch (t.type) {
      case 'lparen': {
        this.checkDepth(depth + 1, t);
        lexer.next();
        const node = this.parseOr(depth + 1, '(');
        const close = lexer.peek();
        if (close.type !== 'rparen') {
          if (close.type === 'eof') fail(close.pos, `unbalanced parentheses: expected ')' to close the '(' at position ${t.pos}, found ${describe(close)}`);
          const hint = close.type === 'ident' ? caseHint(close.text) : close.type === 'symbol' ? symbolHint(close.text) : undefined;
          fail(close.pos, `expected 'and', 'or' or ')' to close the '(' at position ${t.pos}, found ${describe(close)}`, hint);
        }
        lexer.next();
        return node;
      }
      case 'literal':
        return this.parseLiteralFirstComparison();
      case 'ident': {
        if (KEYWORDS.has(t.text)) fail(t.pos, `${expected}, found '${t.text}'`);
        if (lexer.peek(1).type === 'lparen') {
          switch (t.text) {
            case 'contains':
            case 'startswith':
            case 'endswith':
              return this.parseStringFunction(t.text);
            case 'IsMemberOfSegment':
              return this.parseSegment();
            case 'tolower':
              break;
            default:
              fail(t.pos, `unknown function '${t.text}'`, caseHint(t.text) ?? `supported functions: ${FUNCTIONS.join(', ')}`);
          }
        }
        const operand = this.parseOperand('expected an attribute name');
        return this.parseComparisonRest(operand);
      }
      case 'eof':
        return fail(t.pos, expected);
      case 'symbol':
        return fail(t.pos, `${expected}, found '${t.text}'`, symbolHint(t.text));
      default:
        return fail(t.pos, `${expected}, found ${describe(t)}`);
    }
  }

  /** attribute | tolower(attribute) */
  private parseOperand(expected: string): ValueExpression {
    const lexer = this.lexer;
    const t = lexer.peek();
    if (t.type !== 'ident' || KEYWORDS.has(t.text)) {
      const extra = t.type === 'literal' ? 'comparing two values is not supported' : undefined;
      fail(t.pos, `${expected}, found ${describe(t)}`, extra);
    }
    lexer.next();
    if (t.text === 'tolower' && lexer.peek().type === 'lparen') {
      lexer.next();
      const a = lexer.peek();
      if (a.type !== 'ident' || KEYWORDS.has(a.text) || lexer.peek(1).type === 'lparen') {
        fail(a.pos, `expected an attribute name as the argument of tolower, found ${describe(a)}`);
      }
      lexer.next();
      this.expect('rparen', "expected ')' after the argument of tolower");
      return { kind: 'tolower', attribute: { kind: 'attribute', name: a.text, position: a.pos }, position: t.pos };
    }
    if (lexer.peek().type === 'lparen') {
      fail(t.pos, `'${t.text}' cannot be used here`, `only tolower(attribute) can be compared`);
    }
    return { kind: 'attribute', name: t.text, position: t.pos };
  }

  private expect(type: TokenType, message: string): Token {
    const t = this.lexer.peek();
    if (t.type !== type) fail(t.pos, `${message}, found ${describe(t)}`);
    return this.lexer.next();
  }

  private parseComparisonRest(operand: ValueExpression): FilterNode {
    const lexer = this.lexer;
    const t = lexer.peek();
    const what = formatOperand(operand);
    if (isKeyword(t, 'in')) return this.parseIn(operand);
    if (isOperator(t)) {
      lexer.next();
      const value = this.parseValue(t.text);
      return { kind: 'comparison', operator: t.text, left: operand, right: value, position: operand.position, operatorPosition: t.pos };
    }
    const operators = `${COMPARISON_OPERATORS.join(', ')}, in`;
    if (t.type === 'ident') fail(t.pos, `unknown operator '${t.text}'`, caseHint(t.text) ?? `expected one of ${operators}`);
    if (t.type === 'symbol') fail(t.pos, `unknown operator '${t.text}'`, symbolHint(t.text) ?? `expected one of ${operators}`);
    fail(t.pos, `expected an operator after '${what}', found ${describe(t)}`, `expected one of ${operators}`);
  }

  private parseValue(operator: ComparisonOperator): Literal {
    const t = this.lexer.peek();
    if (t.type === 'literal') {
      this.lexer.next();
      const literal = t.literal!;
      if (literal.type === 'null' && operator !== 'eq' && operator !== 'ne') {
        fail(t.pos, `null can only be compared with eq or ne, not '${operator}'`);
      }
      return literal;
    }
    if (t.type === 'eof') fail(t.pos, `expected a value after '${operator}'`);
    if (t.type === 'ident' && !KEYWORDS.has(t.text)) {
      fail(t.pos, `expected a value after '${operator}', found attribute '${t.text}'`, 'comparing two attributes is not supported (string values are quoted)');
    }
    fail(t.pos, `expected a value after '${operator}', found ${describe(t)}`);
  }

  private parseLiteralFirstComparison(): FilterNode {
    const lexer = this.lexer;
    const valueToken = lexer.next();
    const value = valueToken.literal!;
    const op = lexer.peek();
    if (isKeyword(op, 'in')) fail(op.pos, "'in' needs an attribute on its left");
    if (!isOperator(op)) {
      if (op.type === 'ident') fail(op.pos, `unknown operator '${op.text}'`, caseHint(op.text) ?? `expected one of ${COMPARISON_OPERATORS.join(', ')}`);
      if (op.type === 'symbol') fail(op.pos, `unknown operator '${op.text}'`, symbolHint(op.text));
      fail(op.pos, `expected an operator after ${describe(valueToken)}, found ${describe(op)}`);
    }
    lexer.next();
    if (value.type === 'null' && op.text !== 'eq' && op.text !== 'ne') fail(valueToken.pos, `null can only be compared with eq or ne, not '${op.text}'`);
    const operand = this.parseOperand(`expected an attribute name after '${op.text}'`);
    return {
      kind: 'comparison',
      operator: FLIPPED[op.text],
      left: operand,
      right: value,
      position: valueToken.pos,
      operatorPosition: op.pos,
    };
  }

  private parseIn(operand: ValueExpression): InNode {
    const lexer = this.lexer;
    lexer.next(); // 'in'
    this.expect('lparen', "expected '(' after 'in'");
    const values: Literal[] = [];
    for (;;) {
      const t = lexer.peek();
      if (t.type !== 'literal') fail(t.pos, `expected a value in the 'in' list, found ${describe(t)}`);
      if (values.length >= this.limits.maxInItems) fail(t.pos, `too many values in the 'in' list (the maximum is ${this.limits.maxInItems})`);
      values.push(lexer.next().literal!);
      const sep = lexer.peek();
      if (sep.type === 'comma') {
        lexer.next();
        continue;
      }
      if (sep.type === 'rparen') {
        lexer.next();
        break;
      }
      fail(sep.pos, `expected ',' or ')' in the 'in' list, found ${describe(sep)}`);
    }
    return { kind: 'in', operand, values, position: operand.position };
  }

  private parseStringFunction(name: StringFunctionName): StringFunctionNode {
    const lexer = this.lexer;
    const nameToken = lexer.next();
    lexer.next(); // '('
    const operand = this.parseOperand(`expected an attribute name as the first argument of ${name}`);
    this.expect('comma', `expected ',' after the first argument of ${name}`);
    const arg = lexer.peek();
    if (arg.type !== 'literal' || arg.literal!.type !== 'string') {
      fail(arg.pos, `the second argument of ${name} must be a quoted string, found ${describe(arg)}`);
    }
    lexer.next();
    this.expect('rparen', `expected ')' after the arguments of ${name}`);
    return { kind: 'function', name, operand, argument: arg.literal as StringLiteral, position: nameToken.pos };
  }

  private parseSegment(): SegmentMembershipNode {
    const lexer = this.lexer;
    const nameToken = lexer.next();
    lexer.next(); // '('
    const arg = lexer.peek();
    if (arg.type !== 'literal' || arg.literal!.type !== 'string') {
      fail(arg.pos, `IsMemberOfSegment takes a quoted segment name, found ${describe(arg)}`);
    }
    lexer.next();
    this.expect('rparen', "expected ')' after the segment name");
    return { kind: 'segment', name: (arg.literal as StringLiteral).value, position: nameToken.pos };
  }
}

function symbolHint(symbol: string): string | undefined {
  const word = SYMBOL_HINTS[symbol];
  return word ? `use '${word}'` : undefined;
}

/**
 * Parses a $filter expression. Throws ODataError (option '$filter', with the 0-based position) for
 * every syntax error and for exceeding the limits.
 */
export function parseFilter(text: string, limits: Partial<FilterLimits> = {}): FilterNode {
  const effective: FilterLimits = { ...DEFAULT_FILTER_LIMITS, ...limits };
  if (text.length > effective.maxLength) {
    fail(effective.maxLength, `the filter is too long (${text.length} characters; the maximum is ${effective.maxLength})`);
  }
  return new Parser(text, effective).parse();
}

// ---------------------------------------------------------------------------------------------
// Formatting (for logs, next links and tests): a canonical $filter that parses back to the same tree.

const PRECEDENCE: Record<FilterNode['kind'], number> = { or: 1, and: 2, not: 3, comparison: 4, in: 4, function: 4, segment: 4 };

function formatLiteral(literal: Literal): string {
  switch (literal.type) {
    case 'string':
      return `'${literal.value.replace(/'/g, "''")}'`;
    case 'datetime':
      return literal.raw.replace(' ', '+');
    default:
      return literal.raw;
  }
}

/** The attributes a filter refers to. */
export function filterAttributeNames(node: FilterNode, into = new Set<string>()): Set<string> {
  switch (node.kind) {
    case 'and':
    case 'or':
      for (const n of node.operands) filterAttributeNames(n, into);
      break;
    case 'not':
      filterAttributeNames(node.operand, into);
      break;
    case 'comparison':
    case 'in':
    case 'function': {
      const target = node.kind === 'comparison' ? node.left : node.operand;
      into.add(target.kind === 'attribute' ? target.name : target.attribute.name);
      break;
    }
    case 'segment':
      break;
  }
  return into;
}

export function formatFilter(node: FilterNode): string {
  const child = (c: FilterNode, parent: FilterNode): string => {
    const text = formatFilter(c);
    const wrap = parent.kind === 'not' ? PRECEDENCE[c.kind] < PRECEDENCE.not : PRECEDENCE[c.kind] <= PRECEDENCE[parent.kind];
    return wrap ? `(${text})` : text;
  };
  switch (node.kind) {
    case 'and':
    case 'or':
      return node.operands.map((c) => child(c, node)).join(` ${node.kind} `);
    case 'not':
      return `not ${child(node.operand, node)}`;
    case 'comparison':
      return `${formatOperand(node.left)} ${node.operator} ${formatLiteral(node.right)}`;
    case 'in':
      return `${formatOperand(node.operand)} in (${node.values.map(formatLiteral).join(',')})`;
    case 'function':
      return `${node.name}(${formatOperand(node.operand)},${formatLiteral(node.argument)})`;
    case 'segment':
      return `IsMemberOfSegment('${node.name.replace(/'/g, "''")}')`;
  }
}
