// Stage 1, pull: read every file of every used entity into rows of raw text values.
import path from 'node:path';
import type { ResolvedEntity } from '../config/resolve.js';
import type { FieldValue } from '../domain/profile.js';
import { openDelimited } from './readers/delimited.js';
import { SourceFileError } from './readers/errors.js';
import { expandSourcePath } from './readers/files.js';
import { readJsonl } from './readers/jsonl.js';
import { Origins, throwIfCancelled, yieldToEventLoop, type EntityRows, type StageEnv } from './context.js';

/** A source problem that makes the whole refresh meaningless (missing file, missing column). */
export class SourceUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceUnavailableError';
  }
}

const YIELD_EVERY = 20_000;

export async function pull(env: StageEnv): Promise<Map<string, EntityRows>> {
  const out = new Map<string, EntityRows>();
  // Entities that are neither customers nor activities are read when a measure aggregates them.
  const measured = new Set((env.instance.definition.measures ?? []).flatMap((m) => (m.source.entity ? [m.source.entity] : [])));
  const used = [...env.instance.entities.values()].filter((e) => e.role !== 'unused' || measured.has(e.ref));
  let total = 0;
  for (const entity of used) {
    throwIfCancelled(env.signal);
    const files = await expandSourcePath(env.instance.baseDir, entity.path).catch((err: unknown) => {
      throw new SourceUnavailableError(`${entity.ref}: ${(err as Error).message}`);
    });
    if (!files.length) throw new SourceUnavailableError(`${entity.ref}: no file matches ${entity.path}`);
    const data: EntityRows = { entity, rows: [], origin: new Origins(files.map((f) => path.basename(f))) };
    for (let f = 0; f < files.length; f++) {
      if (entity.format === 'csv') await readCsv(entity, files[f], f, data, env);
      else await readJsonLines(entity, files[f], f, data, env);
    }
    env.report.counts[`${entity.ref}.files`] = files.length;
    env.report.counts[`${entity.ref}.rows`] = data.rows.length;
    total += data.rows.length;
    out.set(entity.ref, data);
  }
  env.report.counts.rowsRead = total;
  return out;
}

/** Reports progress, honours cancellation and lets the event loop run. */
async function pause(env: StageEnv, data: EntityRows): Promise<void> {
  env.progress('pull', data.rows.length, 0);
  throwIfCancelled(env.signal);
  await yieldToEventLoop();
}

async function readCsv(entity: ResolvedEntity, file: string, fileIndex: number, data: EntityRows, env: StageEnv): Promise<void> {
  const onError = (err: SourceFileError) => env.report.issues.add(`${entity.ref}: malformed rows skipped`, err.message);
  let opened;
  try {
    opened = await openDelimited(file, { delimiter: entity.delimiter, encoding: entity.encoding, header: entity.header, onError });
  } catch (err) {
    throw new SourceUnavailableError(`${entity.ref}: ${(err as Error).message}`);
  }
  // Map declared columns to positions in the file.
  let positions: number[];
  if (opened.header) {
    const header = opened.header;
    positions = entity.columns.map((c) => header.indexOf(c.sourceName ?? c.name));
    const missing = entity.columns.filter((_, i) => positions[i] < 0).map((c) => c.sourceName ?? c.name);
    if (missing.length) {
      opened.close();
      throw new SourceUnavailableError(
        `${entity.ref}: ${path.basename(file)} has no column ${missing.map((m) => `'${m}'`).join(', ')} (header: ${header.join(', ')})`,
      );
    }
  } else {
    positions = entity.columns.map((_, i) => i);
  }
  let n = 0;
  try {
    for await (const row of opened.rows) {
      const values: FieldValue[] = new Array(positions.length);
      for (let i = 0; i < positions.length; i++) {
        const v = row.fields[positions[i]];
        values[i] = v === undefined || v === '' ? null : v;
      }
      data.rows.push(values);
      data.origin.add(fileIndex, row.line);
      if (++n % YIELD_EVERY === 0) await pause(env, data);
    }
  } catch (err) {
    if (err instanceof SourceFileError) throw new SourceUnavailableError(`${entity.ref}: ${err.message}`);
    throw err;
  }
}

async function readJsonLines(entity: ResolvedEntity, file: string, fileIndex: number, data: EntityRows, env: StageEnv): Promise<void> {
  const names = entity.columns.map((c) => c.sourceName ?? c.name);
  const onError = (err: SourceFileError) => env.report.issues.add(`${entity.ref}: malformed lines skipped`, err.message);
  let n = 0;
  try {
    for await (const { line, record } of readJsonl(file, { encoding: entity.encoding, onError })) {
      const values: FieldValue[] = new Array(names.length);
      for (let i = 0; i < names.length; i++) values[i] = toText(record[names[i]]);
      data.rows.push(values);
      data.origin.add(fileIndex, line);
      if (++n % YIELD_EVERY === 0) await pause(env, data);
    }
  } catch (err) {
    if (err instanceof SourceFileError) throw new SourceUnavailableError(`${entity.ref}: ${err.message}`);
    throw err;
  }
}

function toText(v: unknown): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}
