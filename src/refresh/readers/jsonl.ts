// Streaming reader for JSON Lines files: one JSON object per line, blank lines skipped.
import { SourceFileError } from './errors.js';
import { DEFAULT_MAX_RECORD_CHARS, TextSource, type TextOptions } from './text.js';

export interface JsonlRecord {
  /** 1-based line number. */
  line: number;
  record: Record<string, unknown>;
}

export interface JsonlOptions extends TextOptions {
  /**
   * Called with a SourceFileError for a line that is not valid JSON or not a JSON object; the
   * line is skipped and reading continues. Without it such a line throws (after the records
   * before it have been yielded). Lines are parsed a chunk at a time, so the call can come before
   * the records that precede the bad line have been yielded; use `err.line` to place it.
   */
  onError?: (err: SourceFileError) => void;
  /** Longest line accepted, in characters (default 16 Mi). */
  maxRecordChars?: number;
}

export async function* readJsonl(file: string, options: JsonlOptions = {}): AsyncGenerator<JsonlRecord, void, undefined> {
  const { onError } = options;
  const maxChars = options.maxRecordChars ?? DEFAULT_MAX_RECORD_CHARS;
  const src = await TextSource.open(file, options);
  let line = 1;
  // Text of the current, incomplete line, in pieces (a long line can span many chunks).
  let pending: string[] = [];
  let pendingLen = 0;

  const fail = (reason: string, at: number): void => {
    const err = new SourceFileError(reason, file, at);
    if (onError === undefined) throw err;
    onError(err);
  };
  const parseLine = (text: string, at: number): JsonlRecord | undefined => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      if (isBlank(text)) return undefined;
      fail(`invalid JSON: ${err instanceof Error ? err.message : String(err)}`, at);
      return undefined;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      fail(`expected a JSON object, found ${value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`}`, at);
      return undefined;
    }
    return { line: at, record: value as Record<string, unknown> };
  };

  try {
    for await (const chunk of src.chunks()) {
      let pos = 0;
      let lf = chunk.indexOf('\n');
      if (lf < 0) {
        pending.push(chunk);
        pendingLen += chunk.length;
        if (pendingLen > maxChars) throw new SourceFileError(`line longer than ${maxChars} characters`, file, line);
        continue;
      }
      const batch: JsonlRecord[] = [];
      try {
        if (pendingLen > 0) {
          pending.push(chunk.slice(0, lf));
          const rec = parseLine(pending.join(''), line);
          if (rec !== undefined) batch.push(rec);
          pending = [];
          pendingLen = 0;
          line++;
          pos = lf + 1;
          lf = chunk.indexOf('\n', pos);
        }
        for (; lf >= 0; lf = chunk.indexOf('\n', pos)) {
          if (lf > pos) {
            const rec = parseLine(chunk.slice(pos, lf), line);
            if (rec !== undefined) batch.push(rec);
          }
          line++;
          pos = lf + 1;
        }
      } catch (err) {
        // Yield what precedes the bad line, then fail.
        for (const rec of batch) yield rec;
        throw err;
      }
      if (pos < chunk.length) {
        pending.push(chunk.slice(pos));
        pendingLen += chunk.length - pos;
      }
      for (const rec of batch) yield rec;
    }
    if (pendingLen > 0) {
      const rec = parseLine(pending.join(''), line);
      if (rec !== undefined) yield rec;
    }
  } finally {
    src.close();
  }
}

function isBlank(text: string): boolean {
  return text.trim().length === 0;
}
