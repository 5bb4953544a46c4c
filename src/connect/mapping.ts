// Connection mappings: turn any JSON payload a source system sends (a shop's order webhook, a
// stream message) into the body of a real-time write, step by step, so a failure names the step.
// Pure: no I/O. The write itself goes through src/realtime/ingest.ts like every other write.
import { createHash } from 'node:crypto';
import type { MappingValueDef } from '../config/schema.js';

export type Scalar = string | number | boolean | null;

/** A mapping as declared in a hook or consumer. */
export interface MappingDef {
  entity: string;
  customer?: { entity: string; key: MappingValueDef };
  fields: Record<string, MappingValueDef>;
  each?: string;
}

export interface MappedRecord {
  /** UnifiedActivity, Customer, or a source activity entity DataSource_Entity. */
  entity: string;
  values: Record<string, Scalar>;
  /** Key ring look-up of the customer, when the mapping declares one. */
  customerKey?: { dataSource: string; entity: string; key: string };
}

export type MappingOutcome = { ok: true; record: MappedRecord } | { ok: false; step: string; message: string };

type PathToken = string | number;

/** `order.customer.email`, `$.items[0].sku`, `items.0.sku`, `$['odd key'].x` as tokens; throws on bad syntax. */
export function parsePath(path: string): PathToken[] {
  let rest = path.trim();
  if (rest.startsWith('$')) rest = rest.slice(1);
  const tokens: PathToken[] = [];
  let i = 0;
  while (i < rest.length) {
    const c = rest[i];
    if (c === '.') {
      i++;
      continue;
    }
    if (c === '[') {
      const close = rest.indexOf(']', i);
      if (close < 0) throw new Error(`path '${path}': '[' without ']'`);
      const inner = rest.slice(i + 1, close).trim();
      if (/^\d+$/.test(inner)) tokens.push(Number(inner));
      else if (/^'[^']*'$/.test(inner) || /^"[^"]*"$/.test(inner)) tokens.push(inner.slice(1, -1));
      else throw new Error(`path '${path}': [${inner}] is neither an index nor a quoted name`);
      i = close + 1;
      continue;
    }
    let j = i;
    while (j < rest.length && rest[j] !== '.' && rest[j] !== '[') j++;
    const name = rest.slice(i, j);
    tokens.push(/^\d+$/.test(name) ? Number(name) : name);
    i = j;
  }
  if (!tokens.length) throw new Error(`path '${path}' names nothing`);
  return tokens;
}

/** The value at a path; undefined when any step is missing (own properties only). */
export function valueAt(payload: unknown, tokens: PathToken[]): unknown {
  let cur = payload;
  for (const t of tokens) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (Array.isArray(cur)) {
      if (typeof t !== 'number') return undefined;
      cur = cur[t];
    } else {
      const key = String(t);
      if (!Object.hasOwn(cur, key)) return undefined;
      cur = (cur as Record<string, unknown>)[key];
    }
  }
  return cur;
}

const DATE_PATTERN_TOKENS = /yyyy|MM|dd|HH|mm|ss|SSS/g;
const NAMED_FORMATS = new Set(['unixSeconds', 'unixMillis', 'iso', 'date', 'number', 'integer', 'decimalComma', 'string', 'boolean']);

/** Whether a format is known: a named one or a date pattern with yyyy, MM and dd. */
export function checkFormat(format: string): string | null {
  if (NAMED_FORMATS.has(format)) return null;
  const tokens: string[] = format.match(DATE_PATTERN_TOKENS) ?? [];
  if (tokens.includes('yyyy') && tokens.includes('MM') && tokens.includes('dd')) return null;
  return `unknown format '${format}' (use unixSeconds, unixMillis, iso, date, number, integer, decimalComma, string, boolean, or a date pattern such as dd/MM/yyyy HH:mm)`;
}

function fromPattern(text: string, pattern: string): string | null {
  const parts: string[] = [];
  let regex = '^';
  let last = 0;
  for (const m of pattern.matchAll(DATE_PATTERN_TOKENS)) {
    regex += pattern.slice(last, m.index).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    regex += m[0] === 'yyyy' ? '(\\d{4})' : m[0] === 'SSS' ? '(\\d{3})' : '(\\d{1,2})';
    parts.push(m[0]);
    last = m.index! + m[0].length;
  }
  regex += pattern.slice(last).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&') + '$';
  const match = new RegExp(regex).exec(text.trim());
  if (!match) return null;
  const v: Record<string, number> = { yyyy: 0, MM: 1, dd: 1, HH: 0, mm: 0, ss: 0, SSS: 0 };
  parts.forEach((p, i) => (v[p] = Number(match[i + 1])));
  const d = new Date(Date.UTC(v.yyyy, v.MM - 1, v.dd, v.HH, v.mm, v.ss, v.SSS));
  // Date.UTC rolls 31/02 over into March; a date that does not exist is an error.
  if (d.getUTCFullYear() !== v.yyyy || d.getUTCMonth() !== v.MM - 1 || d.getUTCDate() !== v.dd || v.HH > 23 || v.mm > 59 || v.ss > 59) return null;
  return d.toISOString();
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Converts a payload value by a format; an Error says why it does not fit. */
export function applyFormat(value: unknown, format: string | undefined): Scalar | Error {
  if (value === null) return null;
  if (format === undefined) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
    return new Error(`is ${describe(value)}, not a single value`);
  }
  switch (format) {
    case 'unixSeconds':
    case 'unixMillis': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : NaN;
      if (!Number.isFinite(n)) return new Error(`is ${describe(value)}, not a ${format === 'unixSeconds' ? 'number of seconds' : 'number of milliseconds'} since 1970`);
      const d = new Date(format === 'unixSeconds' ? n * 1000 : n);
      if (Number.isNaN(d.getTime())) return new Error(`${n} is out of the date range`);
      return d.toISOString();
    }
    case 'iso':
    case 'date': {
      if (typeof value !== 'string') return new Error(`is ${describe(value)}, not an ISO date`);
      const t = Date.parse(value);
      if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}/.test(value)) return new Error(`${JSON.stringify(value)} is not an ISO 8601 date`);
      return format === 'date' ? value.slice(0, 10) : new Date(t).toISOString();
    }
    case 'number':
    case 'integer':
    case 'decimalComma': {
      let n: number;
      if (typeof value === 'number') n = value;
      else if (typeof value === 'string') {
        let text = value.trim().replace(/[\s\u00a0']/g, '');
        text = format === 'decimalComma' ? text.replace(/\./g, '').replace(',', '.') : text.replace(/,/g, '');
        n = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) ? Number(text) : NaN;
      } else n = NaN;
      if (!Number.isFinite(n)) return new Error(`is ${describe(value)}, not a number${format === 'decimalComma' ? ' with a decimal comma (1.234,56)' : ''}`);
      if (format === 'integer' && !Number.isSafeInteger(n)) return new Error(`${n} is not an integer`);
      return n;
    }
    case 'string':
      if (typeof value === 'object') return new Error(`is ${describe(value)}, not a single value`);
      return String(value);
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === 1 || value === '1' || value === 'yes') return true;
      if (value === 'false' || value === 0 || value === '0' || value === 'no') return false;
      return new Error(`is ${describe(value)}, not true or false`);
    default: {
      if (typeof value !== 'string') return new Error(`is ${describe(value)}, not a date as ${format}`);
      const iso = fromPattern(value, format);
      return iso ?? new Error(`${JSON.stringify(value)} is not a date as ${format}`);
    }
  }
}

interface CompiledValue {
  describe: string;
  evaluate(payload: unknown): Scalar | undefined | Error;
}

function compileValue(spec: MappingValueDef): CompiledValue {
  const def = typeof spec === 'string' ? { path: spec } : spec;
  const format = def.format;
  if (format) {
    const problem = checkFormat(format);
    if (problem) throw new Error(problem);
  }
  const fallback = def.default;
  const optional = def.optional === true || fallback !== undefined;
  const withDefault = (v: Scalar | undefined | Error): Scalar | undefined | Error =>
    (v === undefined || v === null) && fallback !== undefined ? (applyFormat(fallback, format) as Scalar | Error) : v;
  if (def.value !== undefined) {
    return { describe: `constant ${JSON.stringify(def.value)}`, evaluate: () => applyFormat(def.value, format) };
  }
  if (def.template !== undefined) {
    const placeholders = [...def.template.matchAll(/\{([^{}]+)\}/g)].map((m) => ({ text: m[0], tokens: parsePath(m[1]), path: m[1] }));
    return {
      describe: `template ${JSON.stringify(def.template)}`,
      evaluate(payload) {
        let out = def.template!;
        for (const p of placeholders) {
          const v = valueAt(payload, p.tokens);
          if (v === undefined || v === null) {
            if (optional) return withDefault(undefined);
            return new Error(`placeholder {${p.path}}: the payload has no value there`);
          }
          if (typeof v === 'object') return new Error(`placeholder {${p.path}} is ${describe(v)}`);
          out = out.replace(p.text, String(v));
        }
        return applyFormat(out, format);
      },
    };
  }
  if (def.path === undefined) throw new Error('a value needs path, value or template');
  const tokens = parsePath(def.path);
  return {
    describe: `path ${def.path}${format ? `, format ${format}` : ''}`,
    evaluate(payload) {
      const v = valueAt(payload, tokens);
      if (v === undefined) return optional ? withDefault(undefined) : new Error(`the payload has no value at '${def.path}'`);
      if (v === null) return withDefault(null);
      return applyFormat(v, format);
    },
  };
}

export interface CompiledMapping {
  entity: string;
  /** Whether the mapping makes one record per element of an array (`each`). */
  each: boolean;
  apply(payload: unknown): MappingOutcome;
  /** Every record of a payload: one, or one per element of the `each` array. */
  applyAll(payload: unknown): { ok: true; records: MappedRecord[] } | { ok: false; step: string; message: string };
}

/** Checks and compiles a mapping; throws (naming the step) when the definition itself is wrong. */
export function compileMapping(def: MappingDef): CompiledMapping {
  const steps: { step: string; name: string; value: CompiledValue }[] = [];
  for (const [name, spec] of Object.entries(def.fields ?? {})) {
    try {
      steps.push({ step: `fields.${name}`, name, value: compileValue(spec) });
    } catch (err) {
      throw new Error(`fields.${name}: ${(err as Error).message}`);
    }
  }
  let customer: { dataSource: string; entity: string; key: CompiledValue } | undefined;
  if (def.customer) {
    const [dataSource, entity] = def.customer.entity.split('.');
    try {
      customer = { dataSource, entity, key: compileValue(def.customer.key) };
    } catch (err) {
      throw new Error(`customer.key: ${(err as Error).message}`);
    }
  }
  let eachPath: PathToken[] | undefined;
  if (def.each) {
    try {
      eachPath = parsePath(def.each);
    } catch (err) {
      throw new Error(`each: ${(err as Error).message}`);
    }
  }
  const mapping: CompiledMapping = {
    entity: def.entity,
    each: eachPath !== undefined,
    applyAll(payload) {
      if (!eachPath) {
        const one = mapping.apply(payload);
        return one.ok ? { ok: true, records: [one.record] } : one;
      }
      const list = valueAt(payload, eachPath);
      if (!Array.isArray(list)) return { ok: false, step: `each (path ${def.each})`, message: list === undefined ? `the payload has no value at '${def.each}'` : `'${def.each}' is ${describe(list)}, not an array` };
      const base = payload !== null && typeof payload === 'object' && !Array.isArray(payload) ? (payload as Record<string, unknown>) : {};
      const records: MappedRecord[] = [];
      for (let i = 0; i < list.length; i++) {
        const one = mapping.apply({ ...base, item: list[i], itemIndex: i });
        if (!one.ok) return { ok: false, step: `each[${i}].${one.step}`, message: one.message };
        records.push(one.record);
      }
      return { ok: true, records };
    },
    apply(payload) {
      const values: Record<string, Scalar> = {};
      for (const s of steps) {
        const v = s.value.evaluate(payload);
        if (v instanceof Error) return { ok: false, step: `${s.step} (${s.value.describe})`, message: v.message };
        if (v !== undefined) values[s.name] = v;
      }
      let customerKey: MappedRecord['customerKey'];
      if (customer) {
        const v = customer.key.evaluate(payload);
        if (v instanceof Error) return { ok: false, step: `customer.key (${customer.key.describe})`, message: v.message };
        if (v === undefined || v === null || v === '') return { ok: false, step: `customer.key (${customer.key.describe})`, message: 'the customer key is empty' };
        customerKey = { dataSource: customer.dataSource, entity: customer.entity, key: String(v) };
      }
      return { ok: true, record: { entity: def.entity, values, customerKey } };
    },
  };
  return mapping;
}

/** A stable JSON text (sorted keys) for hashing payloads. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** A deterministic ActivityId: the same parts give the same id, so a redelivery is a replay. */
export function deterministicActivityId(...parts: string[]): string {
  return `k-${createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32)}`;
}
