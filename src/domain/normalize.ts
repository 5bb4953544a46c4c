/**
 * Value normalizers used by the unification engine before values are compared.
 *
 * Every normalizer maps a raw string to a canonical string. The empty string is
 * special: it means "no usable value" and callers must treat it as never matching
 * anything (not even another empty string).
 *
 * These functions run over millions of values per refresh, so:
 *  - all regular expressions are compiled once at module load;
 *  - pure-ASCII input skips Unicode normalization wherever the result would not change;
 *  - `compileNormalizer` resolves the step list once and returns a closure.
 */
import { isSupportedCountry, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/min';
import type { Normalization } from '../config/schema.js';

export interface NormalizeOptions {
  /** ISO 3166 alpha-2 region (e.g. "US") assumed for phone numbers written without a country code. */
  phoneRegion?: string;
}

export type Normalizer = (value: string) => string;

// ---------------------------------------------------------------------------
// Precompiled patterns

const ASCII_ONLY = /^[\x00-\x7F]*$/;
const NON_ASCII = /[^\x00-\x7F]/g;
const NON_BLANK = /\S/;
const WHITESPACE_RUN = /\s+/g;
/** Whitespace that `whitespace` would change: a run of 2+, or any whitespace other than a plain space. */
const NEEDS_COLLAPSE = /\s\s|[^\S ]/;
const NOT_WORD_OR_SPACE_ASCII = /[^A-Za-z0-9\s]/g;
const NOT_WORD_OR_SPACE = /[^\p{L}\p{M}\p{N}\s]/gu;
const UNICODE_DIGIT = /\p{Nd}/gu;
const IS_UNICODE_DIGIT = /^\p{Nd}$/u;
const NON_DIGIT = /\D/g;
/**
 * Combining marks used as diacritics on Latin/Greek/Cyrillic letters. Script-specific marks
 * (e.g. Devanagari vowel signs) are deliberately not listed: removing them would change the name.
 */
const DIACRITIC_MARKS = /[\u0300-\u036F\u1AB0-\u1AFF\u1DC0-\u1DFF\u20D0-\u20FF\uFE20-\uFE2F]/g;
const APOSTROPHES = /['`\u00B4\u2018\u2019\u02BC\u02B9]/g;
const NAME_PUNCTUATION = /[^\p{L}\p{M}\p{N}\s]/gu;
const NAME_PUNCTUATION_ASCII = /[^a-z0-9\s]/g;

/** Letters that NFKD does not decompose into ASCII base letters. */
const FOLD_TABLE: Readonly<Record<string, string>> = {
  ß: 'ss',
  ẞ: 'SS',
  æ: 'ae',
  Æ: 'AE',
  œ: 'oe',
  Œ: 'OE',
  ø: 'o',
  Ø: 'O',
  ł: 'l',
  Ł: 'L',
  đ: 'd',
  Đ: 'D',
  ð: 'd',
  Ð: 'D',
  þ: 'th',
  Þ: 'TH',
  ı: 'i',
  ħ: 'h',
  Ħ: 'H',
  ŧ: 't',
  Ŧ: 'T',
};
const FOLD_TABLE_CHARS = new RegExp(`[${Object.keys(FOLD_TABLE).join('')}]`, 'g');

const foldChar = (ch: string): string => FOLD_TABLE[ch] ?? '';
const foldKnownChar = (ch: string): string => FOLD_TABLE[ch] ?? ch;

// ---------------------------------------------------------------------------
// Individual steps

function collapseWhitespace(value: string): string {
  const trimmed = value.trim();
  return NEEDS_COLLAPSE.test(trimmed) ? trimmed.replace(WHITESPACE_RUN, ' ') : trimmed;
}

function toLower(value: string): string {
  return value.toLowerCase();
}

/** Transliterates to ASCII: NFKD, drop combining marks, fold a few special letters, drop the rest. */
function toAscii(value: string): string {
  if (ASCII_ONLY.test(value)) return value;
  // Combining marks produced by NFKD are non-ASCII, so the same pass removes them.
  return value.normalize('NFKD').replace(NON_ASCII, foldChar);
}

function stripSymbols(value: string): string {
  const pattern = ASCII_ONLY.test(value) ? NOT_WORD_OR_SPACE_ASCII : NOT_WORD_OR_SPACE;
  return collapseWhitespace(value.replace(pattern, ''));
}

/** Decimal value of each Unicode decimal digit (memoized; \p{Nd} digits come in contiguous runs of ten). */
const digitCache = new Map<string, string>();
function unicodeDigitToAscii(ch: string): string {
  let cached = digitCache.get(ch);
  if (cached === undefined) {
    let cp = ch.codePointAt(0)!;
    let offset = 0;
    while (IS_UNICODE_DIGIT.test(String.fromCodePoint(cp - 1))) {
      cp--;
      offset++;
    }
    // Runs of digits are sequences of complete 0-9 blocks (e.g. the mathematical digits).
    cached = String(offset % 10);
    digitCache.set(ch, cached);
  }
  return cached;
}

function asciiNumerals(value: string): string {
  if (ASCII_ONLY.test(value)) return value;
  return value.normalize('NFKC').replace(UNICODE_DIGIT, unicodeDigitToAscii);
}

const NAME_AFFIXES: ReadonlySet<string> = new Set(['mr', 'mrs', 'ms', 'miss', 'dr', 'prof', 'sir', 'jr', 'sr', 'ii', 'iii']);

/** Folds Latin diacritics but keeps letters of other scripts (an all-Cyrillic name must not become ''). */
function foldName(value: string): string {
  if (ASCII_ONLY.test(value)) return value;
  return value.normalize('NFKD').replace(DIACRITIC_MARKS, '').replace(FOLD_TABLE_CHARS, foldKnownChar).normalize('NFC');
}

function nameTokens(part: string, ascii: boolean, out: string[]): void {
  // `part` is already lowercase, so the ASCII pattern only needs a-z.
  const cleaned = part.replace(APOSTROPHES, '').replace(ascii ? NAME_PUNCTUATION_ASCII : NAME_PUNCTUATION, ' ');
  for (const token of cleaned.split(WHITESPACE_RUN)) {
    if (token !== '' && !NAME_AFFIXES.has(token)) out.push(token);
  }
}

/**
 * Person-name canonical form: diacritics folded, lowercase, no punctuation, no titles or
 * generational suffixes, and "Last, First" reordered to "first last".
 */
function normalizeName(value: string): string {
  const folded = foldName(value).toLowerCase();
  const ascii = ASCII_ONLY.test(folded);
  const comma = folded.indexOf(',');
  const tokens: string[] = [];
  if (comma === -1) {
    nameTokens(folded, ascii, tokens);
    return tokens.join(' ');
  }
  // "Last, First[, Suffix]": parts that hold nothing but titles/suffixes do not count.
  const parts: string[][] = [];
  for (const part of folded.split(',')) {
    const partTokens: string[] = [];
    nameTokens(part, ascii, partTokens);
    if (partTokens.length > 0) parts.push(partTokens);
  }
  if (parts.length >= 2) parts.push(parts.shift()!);
  for (const part of parts) tokens.push(...part);
  return tokens.join(' ');
}

const GMAIL_DOMAINS: ReadonlySet<string> = new Set(['gmail.com', 'googlemail.com']);
const DOTS = /\./g;

function normalizeEmail(value: string): string {
  const email = value.trim().toLowerCase();
  const at = email.lastIndexOf('@');
  if (at <= 0 || at === email.length - 1) return '';
  let local = email.slice(0, at);
  let domain = email.slice(at + 1);
  const plus = local.indexOf('+');
  if (plus !== -1) local = local.slice(0, plus);
  if (GMAIL_DOMAINS.has(domain)) {
    local = local.replace(DOTS, '');
    domain = 'gmail.com';
  }
  return local === '' ? '' : `${local}@${domain}`;
}

/** Max entries of the per-normalizer phone memo; cleared wholesale when full (bounded memory). */
const PHONE_CACHE_LIMIT = 100_000;

/** Regions of the North American Numbering Plan (+1), where 10 national digits are the whole number. */
const NANP = new Set(['US', 'CA', 'PR', 'GU', 'VI', 'AS', 'MP', 'BS', 'BB', 'JM', 'TT', 'DO', 'BM', 'AG', 'DM', 'GD', 'KN', 'LC', 'VC', 'KY', 'TC', 'VG', 'AI', 'MS', 'SX']);
const PLAIN_PHONE = /^\s*\+?[\d\s().-]+$/;

/**
 * The common case without the library: a +1 number, or a 10-digit national number in a +1
 * region, written with only digits, spaces, dots, dashes and parentheses. Everything else goes
 * through libphonenumber. Gives the same E.164 as the library for these inputs, about 50x faster.
 */
function plainNanpNumber(value: string, nanpRegion: boolean): string | undefined {
  if (!PLAIN_PHONE.test(value)) return undefined;
  const digits = value.replace(NON_DIGIT, '');
  const plus = value.trimStart().startsWith('+');
  if (digits.length === 11 && digits[0] === '1' && digits[1] >= '2' && digits[4] >= '2' && (plus || nanpRegion)) return `+${digits}`;
  if (!plus && nanpRegion && digits.length === 10 && digits[0] >= '2' && digits[3] >= '2') return `+1${digits}`;
  return undefined;
}

function phoneNormalizer(region: CountryCode | undefined): Normalizer {
  // Parsing costs ~12µs per value (libphonenumber-js compiles regexes per call), and the same
  // numbers recur across sources, so remember recent results.
  const cache = new Map<string, string>();
  const options = region === undefined ? undefined : { defaultCountry: region };
  const nanpRegion = region !== undefined && NANP.has(region);
  return (value: string): string => {
    let result = plainNanpNumber(value, nanpRegion) ?? cache.get(value);
    if (result !== undefined) return result;
    const parsed = parsePhoneNumberFromString(value, options);
    if (parsed !== undefined && parsed.isPossible()) {
      result = parsed.number;
    } else {
      // Not a recognisable number: keep the digits so formatting differences still compare equal.
      const ascii = asciiNumerals(value);
      const digits = ascii.replace(NON_DIGIT, '');
      result = digits === '' ? '' : ascii.trimStart().startsWith('+') ? `+${digits}` : digits;
    }
    if (cache.size >= PHONE_CACHE_LIMIT) cache.clear();
    cache.set(value, result);
    return result;
  };
}

// ---------------------------------------------------------------------------
// Public API

function stepFunction(step: Normalization, options: NormalizeOptions | undefined): Normalizer {
  switch (step) {
    case 'whitespace':
      return collapseWhitespace;
    case 'lowercase':
      return toLower;
    case 'ascii':
      return toAscii;
    case 'symbols':
      return stripSymbols;
    case 'numerals':
      return asciiNumerals;
    case 'name':
      return normalizeName;
    case 'email':
      return normalizeEmail;
    case 'phone': {
      const region = options?.phoneRegion;
      if (region !== undefined && !isSupportedCountry(region)) {
        throw new Error(`Unknown phone region "${region}" (expected an ISO 3166 alpha-2 code such as "US")`);
      }
      return phoneNormalizer(region as CountryCode | undefined);
    }
    default:
      throw new Error(`Unknown normalization "${String(step satisfies never)}"`);
  }
}

/**
 * Builds a function that applies `steps` in order. The result is '' when nothing meaningful
 * remains (empty or whitespace-only); callers must treat '' as "no value, never matches".
 * Throws on an unknown step or an unsupported `phoneRegion`.
 */
export function compileNormalizer(steps: readonly Normalization[], options?: NormalizeOptions): Normalizer {
  const fns = steps.map((step) => stepFunction(step, options));
  const count = fns.length;
  return (value: string): string => {
    // Values come from user data; tolerate numbers/null at runtime despite the type.
    let out: string = typeof value === 'string' ? value : value == null ? '' : String(value);
    for (let i = 0; i < count && out !== ''; i++) out = fns[i](out);
    return NON_BLANK.test(out) ? out : '';
  };
}

const compiledCache = new Map<string, Normalizer>();

/** One-off convenience over `compileNormalizer` (compiled normalizers are memoized per step list and region). */
export function normalizeValue(value: string, steps: readonly Normalization[], options?: NormalizeOptions): string {
  const key = `${steps.join(',')}|${options?.phoneRegion ?? ''}`;
  let fn = compiledCache.get(key);
  if (fn === undefined) {
    fn = compileNormalizer(steps, options);
    compiledCache.set(key, fn);
  }
  return fn(value);
}
