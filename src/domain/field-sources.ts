// Which source column each merged field of a profile came from, stored compactly: per customer a
// string with one character per merged field (the index of the winning column in that field's
// source list, '-' when no source had a value), explained by one legend per generation.
import type { ResolvedInstance } from '../config/resolve.js';

export interface FieldSourceLegend {
  fields: { name: string; from: { dataSource: string; entity: string; column: string }[] }[];
}

export interface FieldSource {
  dataSource: string;
  entity: string;
  column: string;
}

const ZERO = 48; // '0'; indices up to 74 stay within printable ASCII ('0'..'z')
export const MAX_SOURCES_PER_FIELD = 75;

export function encodeSourceIndex(index: number): string {
  return index < 0 || index >= MAX_SOURCES_PER_FIELD ? '-' : String.fromCharCode(ZERO + index);
}

/** Field name → where its value came from (null: no source had one), for one customer. */
export function decodeFieldSources(legend: FieldSourceLegend, encoded: string): Map<string, FieldSource | null> {
  const out = new Map<string, FieldSource | null>();
  legend.fields.forEach((f, i) => {
    const ch = encoded.charCodeAt(i);
    const index = Number.isNaN(ch) ? -1 : ch - ZERO;
    out.set(f.name, f.from[index] ?? null);
  });
  return out;
}

/** The legend of an instance's merged fields (stored with each generation). */
export function fieldSourceLegendOf(instance: ResolvedInstance): FieldSourceLegend {
  return {
    fields: instance.mergeFields.map((f) => ({
      name: f.name,
      from: f.from.map((s) => {
        const e = instance.entities.get(s.entity);
        return { dataSource: e?.dataSource ?? s.entity.split('.')[0], entity: e?.name ?? s.entity.split('.').slice(1).join('.'), column: s.column };
      }),
    })),
  };
}
