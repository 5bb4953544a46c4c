// Stage 2, normalize: type every value, parse last-modified times, and make primary keys usable.
// Bad values become null (counted, located); rows without a key are set aside; duplicate keys
// keep the most recently modified row.
import type { FieldValue } from '../domain/profile.js';
import { parseTimestamp, parseValue } from '../domain/values.js';
import { Origins, throwIfCancelled, yieldToEventLoop, type EntityRows, type StageEnv, type TypedEntityRows } from './context.js';

export async function normalize(env: StageEnv, pulled: Map<string, EntityRows>): Promise<Map<string, TypedEntityRows>> {
  const out = new Map<string, TypedEntityRows>();
  let kept = 0;
  let dropped = 0;
  for (const [ref, data] of pulled) {
    throwIfCancelled(env.signal);
    const { entity } = data;
    const types = entity.columns.map((c) => c.type);
    const names = entity.columns.map((c) => c.name);
    const rows: FieldValue[][] = [];
    const origin = new Origins(data.origin.files);
    const keys: string[] = [];
    const modified: number[] = [];
    const byKey = new Map<string, number>();
    for (let r = 0; r < data.rows.length; r++) {
      const raw = data.rows[r];
      for (let c = 0; c < raw.length; c++) {
        const v = raw[c];
        if (v === null || types[c] === 'string') continue;
        const parsed = parseValue(v as string, types[c]);
        if (parsed.ok) raw[c] = parsed.value;
        else {
          env.report.issues.add(`${ref}.${names[c]}: values that are not ${types[c]} were left empty`, `${data.origin.at(r)}: '${v}' ${parsed.reason}`);
          raw[c] = null;
        }
      }
      const keyValue = raw[entity.primaryKeyIndex];
      if (keyValue === null || String(keyValue).trim() === '') {
        env.report.issues.add(`${ref}: rows without a primary key (${entity.primaryKey}) were set aside`, data.origin.at(r));
        dropped++;
        continue;
      }
      const key = String(keyValue).trim();
      const lm = entity.lastModifiedIndex >= 0 && raw[entity.lastModifiedIndex] !== null ? parseTimestamp(String(raw[entity.lastModifiedIndex])) : NaN;
      const seen = byKey.get(key);
      if (seen !== undefined) {
        dropped++;
        env.report.issues.add(`${ref}: duplicate primary keys; the most recently modified row was kept`, `${data.origin.at(r)}: ${entity.primaryKey} '${key}' also at ${origin.at(seen)}`);
        // Later rows win ties: a file appended to over time lists newer rows last.
        const newer = Number.isNaN(modified[seen]) || (!Number.isNaN(lm) && lm >= modified[seen]);
        if (newer) {
          rows[seen] = raw;
          origin.set(seen, data.origin, r);
          modified[seen] = lm;
        }
        continue;
      }
      byKey.set(key, rows.length);
      rows.push(raw);
      origin.copy(data.origin, r);
      keys.push(key);
      modified.push(lm);
      if (r % 50_000 === 49_999) {
        env.progress('normalize', r, data.rows.length);
        await yieldToEventLoop();
      }
    }
    kept += rows.length;
    out.set(ref, { entity, rows, origin, keys, modified: Float64Array.from(modified) });
    // Free the raw rows as we go; 1M-row refreshes need the memory.
    data.rows = [];
  }
  env.report.counts.rowsKept = kept;
  env.report.counts.rowsSetAside = dropped;
  return out;
}
