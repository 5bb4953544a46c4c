// Parsing source text into typed values. Pure; a value that does not parse is reported by the caller.
import type { ColumnType } from '../config/schema.js';
import type { FieldValue } from './profile.js';

export type ParseResult = { ok: true; value: FieldValue } | { ok: false; reason: string };

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2}))?/;
const TRUE = new Set(['true', 't', 'yes', 'y', '1']);
const FALSE = new Set(['false', 'f', 'no', 'n', '0']);

export function parseValue(text: string, type: ColumnType): ParseResult {
  const t = type === 'string' ? text : text.trim();
  switch (type) {
    case 'string':
      return { ok: true, value: text };
    case 'integer': {
      if (!INTEGER.test(t)) return { ok: false, reason: 'is not an integer' };
      const n = Number(t);
      if (!Number.isSafeInteger(n)) return { ok: false, reason: 'is out of the integer range' };
      return { ok: true, value: n };
    }
    case 'decimal': {
      const s = t.replace(/,/g, '');
      if (!DECIMAL.test(s)) return { ok: false, reason: 'is not a number' };
      return { ok: true, value: Number(s) };
    }
    case 'boolean': {
      const l = t.toLowerCase();
      if (TRUE.has(l)) return { ok: true, value: true };
      if (FALSE.has(l)) return { ok: true, value: false };
      return { ok: false, reason: 'is not a boolean' };
    }
    case 'date': {
      const m = DATE.exec(t);
      if (!m || !validDate(+m[1], +m[2], +m[3])) return { ok: false, reason: 'is not a date (YYYY-MM-DD)' };
      return { ok: true, value: t };
    }
    case 'datetime': {
      const iso = isoTimestamp(t);
      if (iso === null) return { ok: false, reason: 'is not a date-time (ISO 8601)' };
      return { ok: true, value: iso };
    }
  }
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  if (d <= 28) return true;
  if (m === 2) return d === 29 && ((y % 4 === 0 && y % 100 !== 0) || y % 400 === 0);
  return d <= DAYS_IN_MONTH[m - 1];
}

// The UTC forms sources and this code write most: …T12:34:56Z and …T12:34:56.789Z.
const UTC_TIME = /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(\.\d{3})?Z$/;

/**
 * Canonical ISO 8601 (UTC, milliseconds) of a timestamp, or null if it is not a valid date or
 * date-time. The common UTC forms are checked and completed as text, without a round trip through
 * Date: this runs for every timestamp of every source record and every activity of a refresh.
 */
export function isoTimestamp(text: string): string | null {
  const c = UTC_TIME.exec(text);
  if (c) {
    if (!validDate(+c[1], +c[2], +c[3])) return null;
    return c[7] === undefined ? `${text.slice(0, 19)}.000Z` : text;
  }
  const ms = parseTimestamp(text);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** ISO 8601 date or date-time (no zone = UTC) to ms since epoch; NaN when it is neither. */
export function parseTimestamp(text: string): number {
  const c = UTC_TIME.exec(text);
  if (c) {
    if (!validDate(+c[1], +c[2], +c[3])) return NaN;
    return Date.UTC(+c[1], +c[2] - 1, +c[3], +c[4], +c[5], +c[6], c[7] === undefined ? 0 : +c[7].slice(1));
  }
  const m = DATE.exec(text);
  if (m) return validDate(+m[1], +m[2], +m[3]) ? Date.UTC(+m[1], +m[2] - 1, +m[3]) : NaN;
  const dt = DATE_TIME.exec(text);
  // Date.parse rolls impossible values over (Nov 31 becomes Dec 1); refuse them instead.
  if (!dt || !validDate(+dt[1], +dt[2], +dt[3]) || +dt[4] > 23 || +dt[5] > 59 || (dt[6] !== undefined && +dt[6] > 59)) return NaN;
  const hasZone = /([zZ]|[+-]\d{2}:?\d{2})$/.test(text);
  return Date.parse(hasZone ? text : `${text.replace(' ', 'T')}Z`);
}
