// kindred push activities|profiles: streams NDJSON or CSV to a server in $batch calls through the
// client (retries included), shows progress, and writes rejected records with their line numbers
// and reasons to a file.
import { createReadStream, createWriteStream, statSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import cliProgress from 'cli-progress';
import { KindredClient, KindredError, type BatchItemResult } from '../../client/index.js';
import { CliError } from '../errors.js';

export interface PushOptions {
  kind: 'activities' | 'profiles';
  instanceId: string;
  /** Activities: UnifiedActivity (default) or a source activity entity DataSource_Entity. */
  entity?: string;
  /** A file, or '-' / undefined for standard input. */
  input?: string;
  format?: 'ndjson' | 'csv';
  url?: string;
  key?: string;
  rejects?: string;
  batchSize?: number;
  validUntil?: string;
  caller?: string;
  stdin?: Readable;
  stderr?: NodeJS.WriteStream;
}

export interface PushSummary {
  records: number;
  succeeded: number;
  rejected: number;
  rejectsFile: string | null;
}

interface Rec {
  line: number;
  value: unknown;
}

/** One CSV record per yield, with the line it starts on (quoted fields may span lines). */
export async function* csvRecords(lines: AsyncIterable<string>): AsyncGenerator<{ line: number; fields: string[] } | { line: number; error: string }> {
  let n = 0;
  let start = 0;
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  for await (const raw of lines) {
    n++;
    const text = n === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (!quoted) {
      start = n;
      fields = [];
      field = '';
      if (!text.trim()) continue;
    } else field += '\n';
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') {
          field += '"';
          i++;
        } else if (c === '"') quoted = false;
        else field += c;
      } else if (c === '"' && field === '') quoted = true;
      else if (c === ',') {
        fields.push(field);
        field = '';
      } else field += c;
    }
    if (!quoted) {
      fields.push(field);
      yield { line: start, fields };
    }
  }
  if (quoted) yield { line: start, error: 'a quoted field is not closed before the end of the file' };
}

function convert(text: string, dataType: string | undefined): unknown {
  if (!dataType) return text;
  if (dataType === 'Edm.Boolean') return text === 'true' ? true : text === 'false' ? false : text;
  if (/^Edm\.(Int\d+|Decimal|Double|Single)$/.test(dataType)) return text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
  return text;
}

export async function push(o: PushOptions): Promise<PushSummary> {
  if (!o.url) throw new CliError('the server address is needed: --url or KINDRED_URL');
  if (!o.key) throw new CliError('an API key is needed: --key or KINDRED_KEY');
  const stderr = o.stderr ?? process.stderr;
  const fromStdin = !o.input || o.input === '-';
  const format = o.format ?? (!fromStdin && /\.csv$/i.test(o.input!) ? 'csv' : 'ndjson');
  if (format !== 'csv' && format !== 'ndjson') throw new CliError(`unknown --format '${format}' (ndjson or csv)`);
  const entity = o.kind === 'profiles' ? 'Customer' : (o.entity ?? 'UnifiedActivity');
  if (o.kind === 'profiles' && o.entity && o.entity !== 'Customer') throw new CliError('profiles go to Customer; --entity is for activities');
  const batchSize = o.batchSize ?? 1000;
  const rejectsFile = o.rejects ?? (fromStdin ? path.resolve('kindred-rejects.ndjson') : `${o.input!.replace(/\.(ndjson|jsonl|json|csv)$/i, '')}.rejects.ndjson`);

  let input: Readable;
  let size = 0;
  if (fromStdin) input = o.stdin ?? process.stdin;
  else {
    try {
      size = statSync(o.input!).size;
    } catch (err) {
      throw new CliError(`cannot read ${o.input}: ${(err as Error).message}`);
    }
    input = createReadStream(o.input!);
  }
  let bytes = 0;

  const client = new KindredClient({ url: o.url, key: o.key, caller: o.caller ?? 'kindred-push', onRetry: (r) => bar ? undefined : stderr.write(`retrying in ${r.delayMs} ms (${r.reason})\n`) });
  // CSV cells are text: the entity's Edm types say which are numbers or booleans.
  let types = new Map<string, string>();
  if (format === 'csv') {
    try {
      const meta = await client.entity(o.instanceId, entity);
      types = new Map(meta.attributes.map((a) => [a.name, a.dataType]));
    } catch (err) {
      const e = err as KindredError;
      throw new CliError(`cannot read the attributes of ${entity}: ${e.message}`);
    }
  }

  let rejectsOut: WriteStream | null = null;
  const summary: PushSummary = { records: 0, succeeded: 0, rejected: 0, rejectsFile: null };
  const reject = (line: number, status: number, reason: string, record: unknown, code?: string, target?: string) => {
    summary.rejected++;
    rejectsOut ??= createWriteStream(rejectsFile);
    summary.rejectsFile = rejectsFile;
    rejectsOut.write(`${JSON.stringify({ line, status, code, target, reason, record })}\n`);
  };

  const tty = Boolean(stderr.isTTY);
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: `push ${entity} [{bar}] {percentage}% | {records} records, {ok} ok, {rejected} rejected`, stream: stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : null;
  bar?.start(size || 1, 0, { records: 0, ok: 0, rejected: 0 });
  const tick = () => bar?.update(Math.min(bytes, size || bytes), { records: summary.records, ok: summary.succeeded, rejected: summary.rejected });

  const lineOf = new WeakMap<object, number>();
  const onResult = (r: BatchItemResult, item: unknown) => {
    if (r.status > 0 && r.status < 400) summary.succeeded++;
    else {
      const e = r.error as { code?: string; message?: string; target?: string; details?: { message: string }[] } | undefined;
      reject(lineOf.get(item as object) ?? 0, r.status, e?.details?.length ? e.details.map((d) => d.message).join('; ') : (e?.message ?? 'rejected'), item, e?.code, e?.target);
    }
    tick();
  };
  const sender = client.sender(o.instanceId, entity, { maxItems: batchSize, maxWaitMs: 1000, validUntil: o.validUntil, onResult });

  const records = async function* (): AsyncGenerator<Rec | { line: number; error: string; text?: string }> {
    // Listening starts the flow: only now, after the look-ups above, or data would be lost.
    input.on('data', (chunk: Buffer | string) => (bytes += chunk.length));
    const lines = createInterface({ input, crlfDelay: Infinity });
    if (format === 'ndjson') {
      let n = 0;
      for await (const text of lines) {
        n++;
        if (!text.trim()) continue;
        try {
          yield { line: n, value: JSON.parse(text) };
        } catch (err) {
          yield { line: n, error: `not valid JSON: ${(err as Error).message}`, text };
        }
      }
      return;
    }
    let header: string[] | null = null;
    for await (const r of csvRecords(lines)) {
      if ('error' in r) {
        yield r;
        continue;
      }
      if (!header) {
        header = r.fields.map((f) => f.trim());
        continue;
      }
      if (r.fields.length !== header.length) {
        yield { line: r.line, error: `has ${r.fields.length} fields; the header has ${header.length}`, text: r.fields.join(',') };
        continue;
      }
      const value: Record<string, unknown> = {};
      header.forEach((h, i) => {
        if (r.fields[i] !== '') value[h] = convert(r.fields[i], types.get(h));
      });
      yield { line: r.line, value };
    }
  };

  for await (const r of records()) {
    summary.records++;
    if ('error' in r) {
      reject(r.line, 400, `line ${r.line} ${r.error}`, r.text ?? null, 'BadRequest');
      continue;
    }
    let item = r.value;
    if (o.kind === 'profiles') {
      // {CustomerId, changes} or a flat record whose other fields are the changes.
      const v = item as Record<string, unknown>;
      if (typeof v === 'object' && v !== null && !Array.isArray(v) && !('changes' in v)) {
        const { CustomerId, ...changes } = v;
        item = { CustomerId, changes };
      }
    }
    if (typeof item !== 'object' || item === null) {
      reject(r.line, 400, `line ${r.line} is not a JSON object`, item, 'BadRequest');
      continue;
    }
    lineOf.set(item, r.line);
    await sender.add(item);
    tick();
  }
  await sender.close();
  bar?.stop();
  await new Promise<void>((resolve) => (rejectsOut ? rejectsOut.end(resolve) : resolve()));
  stderr.write(
    `pushed ${summary.records} record(s) to ${entity}: ${summary.succeeded} accepted, ${summary.rejected} rejected${summary.rejectsFile ? ` (reasons in ${summary.rejectsFile})` : ''}\n`,
  );
  return summary;
}
