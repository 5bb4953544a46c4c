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
      const ms = parseTimestamp(t);
      if (Number.isNaN(ms)) return { ok: false, reason: 'is not a date-time (ISO 8601)' };
      return { ok: true, value: new Date(ms).toISOString() };
    }
  }
}

function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** ISO 8601 date or date-time (no zone = UTC) to ms since epoch; NaN when it is neither. */
const CANONICAL_TIME = /^(\d{4})-(\d{2})-(\d{2})T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;

/**
 * A timestamp as canonical ISO 8601 (UTC, milliseconds), or null if it is not a valid date or
 * date-time. Values the normalize stage wrote are canonical already and come back as they are:
 * no parsing and formatting again for every activity of a refresh.
 */
export function isoTimestamp(text: string): string | null {
  const c = CANONICAL_TIME.exec(text);
  if (c && validDate(+c[1], +c[2], +c[3])) return text;
  const ms = parseTimestamp(text);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

export function parseTimestamp(text: string): number {
  const m = DATE.exec(text);
  if (m) return validDate(+m[1], +m[2], +m[3]) ? Date.UTC(+m[1], +m[2] - 1, +m[3]) : NaN;
  const dt = DATE_TIME.exec(text);
  // Date.parse rolls impossible values over (Nov 31 becomes Dec 1); refuse them instead.
  if (!dt || !validDate(+dt[1], +dt[2], +dt[3]) || +dt[4] > 23 || +dt[5] > 59 || (dt[6] !== undefined && +dt[6] > 59)) return NaN;
  const hasZone = /([zZ]|[+-]\d{2}:?\d{2})$/.test(text);
  return Date.parse(hasZone ? text : `${text.replace(' ', 'T')}Z`);
}
