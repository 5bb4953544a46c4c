// Streaming reader for delimited text files (CSV, TSV, FEBRL's ", "-separated files, ...).
//
// RFC 4180 quoting: a field that starts with `"` is quoted; inside it the delimiter and line
// breaks are data and `""` is a literal quote. A quote anywhere else is an ordinary character.
// Text between a closing quote and the next delimiter is appended to the field (lenient, like
// Python's csv module) rather than rejected. Line endings are LF or CRLF; a line break inside a
// quoted field is kept as it is in the file. Blank lines are skipped (their line numbers are
// still counted). Every row carries the physical line on which its record starts.
//
// Speed: the decoded text is scanned with indexOf. A line that contains no quote at all (the
// usual case) is split on the delimiter with indexOf; only records containing a quote take the
// slower field-by-field path.
import { SourceFileError } from './errors.js';
import { DEFAULT_MAX_RECORD_CHARS, TextSource, type TextOptions } from './text.js';

export interface DelimitedRow {
  /** 1-based physical line on which the record starts. */
  line: number;
  fields: string[];
}

export interface DelimitedOptions extends TextOptions {
  /** Field separator, default ','. May be several characters, e.g. ', ' (FEBRL). */
  delimiter?: string;
  /** true (default): the first record names the columns; it is returned as `header`, not as a row. */
  header?: boolean;
  /** Trim whitespace around every field (quoted content is kept as is). Default false. Header names are always trimmed. */
  trim?: boolean;
  /**
   * With `header: false`, the number of fields every row must have (default: the length of the
   * first row). With a header, rows must have as many fields as the header.
   */
  expectedFields?: number;
  /**
   * Called with a SourceFileError for a row whose field count is wrong; the row is skipped and
   * reading continues. Without it such a row throws. Unrecoverable problems (unterminated quote,
   * undecodable bytes, I/O errors) always throw. Rows are parsed in batches, so the call can come
   * before the rows that precede the bad one have been yielded; use `err.line` to place it.
   */
  onError?: (err: SourceFileError) => void;
  /**
   * Longest record accepted, in characters (default 16 Mi). Guards against an unbalanced quote
   * swallowing the rest of a large file into one field.
   */
  maxRecordChars?: number;
}

export interface DelimitedFile {
  /** Trimmed column names; null with `header: false`. */
  header: string[] | null;
  /** The data rows. Closes the file when finished, on error, or when the loop is left early. */
  rows: AsyncGenerator<DelimitedRow, void, undefined>;
  /** Closes the file without reading the rows (only needed when `rows` is never iterated). */
  close(): void;
}

const QUOTE = 34;
const CR = 13;
const SPACE = 32;
const TAB = 9;

/**
 * Opens a delimited file and reads its header (when `header` is true). Errors in the data rows
 * surface while iterating `rows`, after the rows that precede them.
 */
export async function openDelimited(file: string, options: DelimitedOptions = {}): Promise<DelimitedFile> {
  const delimiter = options.delimiter ?? ',';
  if (delimiter.length === 0 || /["\r\n]/.test(delimiter)) {
    throw new RangeError(`invalid delimiter ${JSON.stringify(delimiter)}: must be non-empty and contain no quote or line break`);
  }
  const wantHeader = options.header ?? true;
  const maxRecordChars = options.maxRecordChars ?? DEFAULT_MAX_RECORD_CHARS;
  if (!Number.isInteger(maxRecordChars) || maxRecordChars < 1) throw new RangeError('maxRecordChars must be a positive integer');
  if (options.expectedFields !== undefined && (!Number.isInteger(options.expectedFields) || options.expectedFields < 1)) {
    throw new RangeError('expectedFields must be a positive integer');
  }
  const parser = new RecordParser(
    file,
    delimiter,
    options.trim ?? false,
    wantHeader,
    options.expectedFields ?? -1,
    options.onError,
  );
  const src = await TextSource.open(file, options);
  const reader = new RecordReader(src, parser, maxRecordChars);

  let initial: DelimitedRow[] = [];
  if (wantHeader) {
    try {
      const first = await reader.fill(true);
      if (parser.header === null) throw new SourceFileError('empty file: expected a header line', file);
      initial = first ?? [];
    } catch (err) {
      src.close();
      throw err;
    }
  }

  async function* rows(): AsyncGenerator<DelimitedRow, void, undefined> {
    try {
      for (const row of initial) yield row;
      initial = [];
      for (;;) {
        const batch = await reader.fill(false);
        if (batch === null) return;
        for (const row of batch) yield row;
      }
    } finally {
      src.close();
    }
  }

  return { header: parser.header, rows: rows(), close: () => src.close() };
}

/** The data rows of a delimited file (the header, if any, is consumed: use openDelimited to see it). */
export async function* readDelimited(
  file: string,
  options: DelimitedOptions = {},
): AsyncGenerator<DelimitedRow, void, undefined> {
  const opened = await openDelimited(file, options);
  yield* opened.rows;
}

/** Feeds decoded chunks to the parser and hands out batches of rows. */
class RecordReader {
  private readonly chunks: AsyncGenerator<string, void, undefined>;
  /** Unparsed text: the beginning of an incomplete record. */
  private carry = '';
  /** Chunks received since the last parse attempt. */
  private pending: string[] = [];
  private pendingLen = 0;
  private eof = false;

  constructor(
    src: TextSource,
    private readonly parser: RecordParser,
    private readonly maxRecordChars: number,
  ) {
    this.chunks = src.chunks();
  }

  /**
   * The next non-empty batch of rows, or null at the end of the file. With `untilHeader`, returns
   * (possibly an empty batch) as soon as the header has been parsed. A parse failure is thrown
   * only after the rows before it have been returned.
   */
  async fill(untilHeader: boolean): Promise<DelimitedRow[] | null> {
    const out: DelimitedRow[] = [];
    const parser = this.parser;
    for (;;) {
      if (out.length > 0) return out;
      if (untilHeader && parser.header !== null) return out;
      if (parser.failure !== null) throw parser.failure;
      if (this.eof) return null;

      const next = await this.chunks.next();
      if (next.done) {
        this.eof = true;
        const buf = this.take();
        if (buf.length > 0) parser.parse(buf, true, out);
        continue;
      }
      this.pending.push(next.value);
      this.pendingLen += next.value.length;
      // An incomplete record is only re-parsed from its start once the text received since the
      // last attempt is at least as long as it: keeps records spanning many chunks linear.
      if (this.pendingLen < this.carry.length) continue;
      const buf = this.take();
      const used = parser.parse(buf, false, out);
      this.carry = used === 0 ? buf : used >= buf.length ? '' : buf.slice(used);
      if (parser.failure === null && this.carry.length > this.maxRecordChars) {
        parser.failure = new SourceFileError(
          `record longer than ${this.maxRecordChars} characters (unbalanced quote?)`,
          parser.file,
          parser.line,
        );
      }
    }
  }

  private take(): string {
    const { carry, pending } = this;
    const buf = carry.length === 0 && pending.length === 1 ? pending[0] : carry + pending.join('');
    this.carry = '';
    this.pending = [];
    this.pendingLen = 0;
    return buf;
  }
}

/** Incremental record parser; `parse` is called with successive pieces of text. */
class RecordParser {
  /** Physical line number at the start of the text not consumed yet. */
  line = 1;
  header: string[] | null = null;
  /** First unrecoverable problem; parsing stops there. */
  failure: SourceFileError | null = null;
  /** Cached position of the next delimiter / line feed in the current buffer (stale when < the scan position). */
  private nextDelim = -1;
  private nextLf = -1;
  /** Set by parseQuotedRecord: line breaks inside quoted fields of the record just parsed. */
  private innerLines = 0;

  constructor(
    readonly file: string,
    private readonly delim: string,
    private readonly trim: boolean,
    private wantHeader: boolean,
    private expected: number,
    private readonly onError: ((err: SourceFileError) => void) | undefined,
  ) {}

  /**
   * Parses the complete records at the start of `buf` into `out` and returns how many characters
   * were consumed; the rest is the beginning of an incomplete record. With `final`, the text is
   * the end of the file and everything is consumed (or `failure` is set).
   */
  parse(buf: string, final: boolean, out: DelimitedRow[]): number {
    const delim = this.delim;
    const dl = delim.length;
    const trim = this.trim;
    const len = buf.length;
    let pos = 0;
    let line = this.line;
    let nextQuote = -1;
    this.nextDelim = -1;
    this.nextLf = -1;

    while (pos < len) {
      const lf = buf.indexOf('\n', pos);
      if (nextQuote < pos) {
        nextQuote = buf.indexOf('"', pos);
        if (nextQuote < 0) nextQuote = len;
      }
      let end: number;
      let next: number;
      if (lf >= 0 && nextQuote > lf) {
        end = lf;
        next = lf + 1;
      } else if (lf < 0 && nextQuote === len) {
        if (!final) break;
        end = len;
        next = len;
      } else {
        // The record contains a quote: field by field, possibly over several lines.
        const after = this.parseQuotedRecord(buf, pos, line, final, out);
        if (after < 0) break; // incomplete, or failed
        line += this.innerLines + 1;
        pos = after;
        if (this.failure !== null) break;
        continue;
      }
      // Fast path: a whole line without quotes.
      if (end > pos && buf.charCodeAt(end - 1) === CR) end--;
      if (end > pos) {
        const fields: string[] = [];
        let s = pos;
        for (;;) {
          // The next delimiter is cached: for the last field of a line the search runs into the
          // following lines, and must not be repeated for every line (single-column files).
          let nd = this.nextDelim;
          if (nd < s) {
            nd = buf.indexOf(delim, s);
            if (nd < 0) nd = len;
            this.nextDelim = nd;
          }
          if (nd >= end) {
            fields.push(trim ? buf.slice(s, end).trim() : buf.slice(s, end));
            break;
          }
          fields.push(trim ? buf.slice(s, nd).trim() : buf.slice(s, nd));
          s = nd + dl;
        }
        this.emit(fields, line, line, out);
      }
      line++;
      pos = next;
      if (this.failure !== null) break;
    }
    this.line = line;
    return pos;
  }

  /**
   * Parses one record starting at `start` that contains a quote. Returns the position after it
   * (after its line feed), or -1 when the record is incomplete (needs more text) or the parse
   * failed (`failure` set).
   */
  private parseQuotedRecord(buf: string, start: number, line: number, final: boolean, out: DelimitedRow[]): number {
    const delim = this.delim;
    const dl = delim.length;
    const trim = this.trim;
    const len = buf.length;
    const fields: string[] = [];
    let inner = 0;
    let i = start;
    for (;;) {
      // At the start of a field.
      let f = i;
      if (trim) {
        for (let c = buf.charCodeAt(f); (c === SPACE || c === TAB) && !buf.startsWith(delim, f); c = buf.charCodeAt(++f));
      }
      let quoted: string | null = null;
      if (buf.charCodeAt(f) === QUOTE) {
        const openLine = line + inner;
        let s = f + 1;
        quoted = '';
        for (;;) {
          const q = buf.indexOf('"', s);
          if (q < 0) {
            if (!final) return -1;
            this.failure = new SourceFileError('unterminated quoted field', this.file, openLine);
            return -1;
          }
          if (q + 1 === len && !final) return -1; // `"` + `"` split between chunks?
          let lf = this.nextLf;
          if (lf < s) {
            lf = buf.indexOf('\n', s);
            if (lf < 0) lf = len;
            this.nextLf = lf;
          }
          if (lf < q) inner += countLf(buf, lf, q);
          if (buf.charCodeAt(q + 1) === QUOTE) {
            quoted += buf.slice(s, q + 1);
            s = q + 2;
          } else {
            quoted += buf.slice(s, q);
            i = q + 1;
            break;
          }
        }
      }
      // Find the end of the field (or of the text after a closing quote).
      let nd = this.nextDelim;
      if (nd < i) {
        nd = buf.indexOf(delim, i);
        if (nd < 0) nd = len;
        this.nextDelim = nd;
      }
      let lf = this.nextLf;
      if (lf < i) {
        lf = buf.indexOf('\n', i);
        if (lf < 0) lf = len;
        this.nextLf = lf;
      }
      let end: number;
      let next: number;
      let last = false;
      if (nd < lf) {
        end = nd;
        next = nd + dl;
      } else {
        if (lf === len && !final) return -1;
        end = lf;
        next = lf === len ? len : lf + 1;
        if (end > i && buf.charCodeAt(end - 1) === CR) end--;
        last = true;
      }
      const text = buf.slice(i, end);
      if (quoted === null) fields.push(trim ? text.trim() : text);
      else fields.push(text.length === 0 ? quoted : quoted + (trim ? text.trim() : text));
      if (last) {
        this.innerLines = inner;
        this.emit(fields, line, line + inner, out);
        return next;
      }
      i = next;
    }
  }

  private emit(fields: string[], line: number, endLine: number, out: DelimitedRow[]): void {
    if (this.wantHeader) {
      this.wantHeader = false;
      this.header = fields.map((name) => name.trim());
      this.expected = fields.length;
      return;
    }
    if (this.expected < 0) this.expected = fields.length;
    else if (fields.length !== this.expected) {
      const where = endLine > line ? ` (the record spans lines ${line}-${endLine}: unbalanced quote?)` : '';
      const err = new SourceFileError(`expected ${this.expected} fields, found ${fields.length}${where}`, this.file, line);
      if (this.onError === undefined) this.failure = err;
      else this.onError(err);
      return;
    }
    out.push({ line, fields });
  }
}

function countLf(buf: string, from: number, to: number): number {
  let n = 0;
  for (let k = buf.indexOf('\n', from); k >= 0 && k < to; k = buf.indexOf('\n', k + 1)) n++;
  return n;
}
