// Simple conditions ({field, operator, value}) and time windows, shared by measures (filters) and
// segments (conditions on profile fields, measures and activities). Pure; no I/O.
import type { ColumnType, ConditionOperator, FieldConditionDef, WindowDef } from '../config/schema.js';
import type { FieldValue } from './profile.js';
import { parseTimestamp } from './values.js';

export interface ConditionProblem {
  /** Relative to the condition, e.g. "value" or "operator". */
  path: string;
  message: string;
}

const COMPARISONS = new Set<ConditionOperator>(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);
const ORDERED = new Set<ConditionOperator>(['gt', 'ge', 'lt', 'le']);
export const isComparison = (op: ConditionOperator) => COMPARISONS.has(op);

const isNumeric = (t: ColumnType) => t === 'integer' || t === 'decimal';

/** A literal converted to the form stored values of that type have; undefined when it cannot be. */
export function literalFor(type: ColumnType, value: unknown): FieldValue | undefined {
  if (value === null) return null;
  switch (type) {
    case 'integer':
    case 'decimal': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      return Number.isFinite(n) ? n : undefined;
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === 'false') return value === 'true';
      return undefined;
    case 'datetime': {
      if (typeof value !== 'string') return undefined;
      const ms = parseTimestamp(value.trim());
      return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
    }
    case 'date':
      if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value.trim())) return undefined;
      return Number.isNaN(parseTimestamp(value.trim())) ? undefined : value.trim();
    case 'string':
      return typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
  }
}

const TYPE_HINT: Record<ColumnType, string> = {
  integer: 'a number',
  decimal: 'a number',
  boolean: 'true or false',
  datetime: 'an ISO 8601 date-time',
  date: 'a date (YYYY-MM-DD)',
  string: 'a string',
};

/** Checks operator and value against the attribute's type. */
export function checkCondition(operator: ConditionOperator, value: unknown, type: ColumnType): ConditionProblem[] {
  const problems: ConditionProblem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  if (operator === 'isNull' || operator === 'isNotNull') {
    if (value !== undefined) add('value', `operator '${operator}' takes no value`);
    return problems;
  }
  if (value === undefined) {
    add('value', `operator '${operator}' needs a value`);
    return problems;
  }
  if (operator === 'in' || operator === 'notIn') {
    if (!Array.isArray(value)) add('value', `operator '${operator}' needs a list of values`);
    else
      value.forEach((v, i) => {
        if (v !== null && literalFor(type, v) === undefined) add(`value/${i}`, `${JSON.stringify(v)} is not ${TYPE_HINT[type]}`);
      });
    return problems;
  }
  if (Array.isArray(value)) {
    add('value', `operator '${operator}' takes one value, not a list (use 'in')`);
    return problems;
  }
  if (operator === 'contains' || operator === 'startsWith') {
    if (typeof value !== 'string') add('value', `operator '${operator}' needs a string`);
    else if (type !== 'string' && type !== 'date') add('operator', `operator '${operator}' is for text attributes; this one is ${type}`);
    return problems;
  }
  if (value === null) {
    if (ORDERED.has(operator)) add('value', `operator '${operator}' cannot compare with null`);
    return problems;
  }
  if (literalFor(type, value) === undefined) add('value', `${JSON.stringify(value)} is not ${TYPE_HINT[type]}`);
  else if (type === 'boolean' && ORDERED.has(operator)) add('operator', `operator '${operator}' does not apply to a boolean`);
  return problems;
}

/** Orders two non-null values: numbers numerically, everything else as text (ISO dates sort as text). */
export function compareValues(a: FieldValue, b: FieldValue): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export type ValuePredicate = (v: FieldValue | undefined) => boolean;

/**
 * A predicate over one attribute's value. Two-valued like OData's $filter: a null value is equal
 * only to null, unequal to everything else, and neither greater nor smaller than anything.
 * contains / startsWith ignore case.
 */
export function compileValuePredicate(operator: ConditionOperator, rawValue: unknown, type: ColumnType): ValuePredicate {
  const lit = (v: unknown) => (v === null ? null : (literalFor(type, v) ?? null));
  switch (operator) {
    case 'isNull':
      return (v) => v == null;
    case 'isNotNull':
      return (v) => v != null;
    case 'in':
    case 'notIn': {
      const list = (rawValue as unknown[]).map(lit);
      const hasNull = list.includes(null);
      const set = new Set(list.filter((v) => v !== null).map((v) => (isNumeric(type) ? Number(v) : v)));
      const inList: ValuePredicate = (v) => (v == null ? hasNull : set.has(isNumeric(type) && typeof v !== 'number' ? Number(v) : v));
      return operator === 'in' ? inList : (v) => !inList(v);
    }
    case 'contains':
    case 'startsWith': {
      const needle = String(rawValue).toLowerCase();
      return operator === 'contains'
        ? (v) => v != null && String(v).toLowerCase().includes(needle)
        : (v) => v != null && String(v).toLowerCase().startsWith(needle);
    }
    default: {
      const b = lit(rawValue);
      if (b === null) return operator === 'eq' ? (v) => v == null : operator === 'ne' ? (v) => v != null : () => false;
      const cmp = (v: FieldValue) => compareValues(v, b);
      switch (operator) {
        case 'eq':
          return (v) => v != null && cmp(v) === 0;
        case 'ne':
          return (v) => v == null || cmp(v) !== 0;
        case 'gt':
          return (v) => v != null && cmp(v) > 0;
        case 'ge':
          return (v) => v != null && cmp(v) >= 0;
        case 'lt':
          return (v) => v != null && cmp(v) < 0;
        default:
          return (v) => v != null && cmp(v) <= 0;
      }
    }
  }
}

/** The AND of simple conditions over a record, given how to read an attribute and its type. */
export function compileFilter<R>(
  conditions: FieldConditionDef[] | undefined,
  getter: (field: string) => (record: R) => FieldValue | undefined,
  typeOf: (field: string) => ColumnType,
): ((record: R) => boolean) | null {
  if (!conditions?.length) return null;
  const parts = conditions.map((c) => {
    const get = getter(c.field);
    const test = compileValuePredicate(c.operator, c.value, typeOf(c.field));
    return (r: R) => test(get(r));
  });
  if (parts.length === 1) return parts[0];
  return (r) => {
    for (const p of parts) if (!p(r)) return false;
    return true;
  };
}

/** Start of a window ending at the refresh time (ms): the last N hours, days, weeks, months or years. */
export function windowStart(window: WindowDef, refreshTime: number): number {
  const n = window.last;
  switch (window.unit ?? 'days') {
    case 'hours':
      return refreshTime - n * 3_600_000;
    case 'days':
      return refreshTime - n * 86_400_000;
    case 'weeks':
      return refreshTime - n * 7 * 86_400_000;
    case 'months': {
      const d = new Date(refreshTime);
      d.setUTCMonth(d.getUTCMonth() - n);
      return d.getTime();
    }
    case 'years': {
      const d = new Date(refreshTime);
      d.setUTCFullYear(d.getUTCFullYear() - n);
      return d.getTime();
    }
  }
}

/** Within (start, refresh time]: rows dated after the refresh do not count. */
export function inWindow(time: number, start: number, refreshTime: number): boolean {
  return time > start && time <= refreshTime;
}

/** Text of a window for messages, e.g. "last 90 days". */
export function describeWindow(w: WindowDef): string {
  return `last ${w.last} ${w.unit ?? 'days'}`;
}
