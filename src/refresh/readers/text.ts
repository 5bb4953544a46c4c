// Shared plumbing for the text readers: open a file, stream it in chunks through a streaming
// TextDecoder, and turn decoding failures into SourceFileErrors that name the offending line.
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { ReadStream } from 'node:fs';
import { isAscii } from 'node:buffer';
import { TextDecoder } from 'node:util';
import { SourceFileError, fsError } from './errors.js';

export interface TextOptions {
  /** Any label TextDecoder accepts: utf-8 (default), utf-16le, latin1 / windows-1252, iso-8859-15, ... */
  encoding?: string;
  /**
   * true (default): a byte sequence that is invalid in `encoding` throws a SourceFileError with
   * its line (typically a latin1 file read as utf-8). false: it is replaced by U+FFFD.
   */
  fatal?: boolean;
  /** Bytes read per chunk; default 128 KiB (larger chunks measured slower: more GC pressure). */
  chunkSize?: number;
}

/** Default limit on the length of one record, in UTF-16 code units. */
export const DEFAULT_MAX_RECORD_CHARS = 16 * 1024 * 1024;

/** Decodes a byte stream chunk by chunk; `end()` flushes. Both throw on invalid input when fatal. */
export interface ChunkDecoder {
  readonly encoding: string;
  decode(bytes: Uint8Array): string;
  end(): string;
}

export function createDecoder(file: string, encoding: string, fatal: boolean): ChunkDecoder {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(encoding, { fatal });
  } catch {
    throw new SourceFileError(`unsupported encoding "${encoding}"`, file);
  }
  return decoder.encoding === 'utf-8'
    ? new Utf8Decoder(new TextDecoder('utf-8', { fatal, ignoreBOM: true }))
    : new StreamingDecoder(decoder);
}

class StreamingDecoder implements ChunkDecoder {
  constructor(private readonly decoder: TextDecoder) {}
  get encoding(): string {
    return this.decoder.encoding;
  }
  decode(bytes: Uint8Array): string {
    return this.decoder.decode(bytes, { stream: true });
  }
  end(): string {
    return this.decoder.decode();
  }
}

/**
 * UTF-8, tuned for Node 20: each chunk is cut after its last complete character (the incomplete
 * tail, at most 3 bytes, is carried into the next chunk); an all-ASCII piece is converted with
 * toString('latin1'), about twice as fast as TextDecoder on ASCII; anything else goes through the
 * (ICU) streaming TextDecoder, faster than the one-shot decoder on non-ASCII text. The BOM is
 * stripped only at the very start of the file.
 */
class Utf8Decoder implements ChunkDecoder {
  readonly encoding = 'utf-8';
  /** Bytes not decoded yet: an incomplete character, or the first bytes of the file until a BOM can be recognised. */
  private carry: Buffer | null = null;
  private atStart = true;

  constructor(private readonly decoder: TextDecoder) {}

  decode(chunk: Uint8Array): string {
    let bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.carry !== null) {
      bytes = Buffer.concat([this.carry, bytes]);
      this.carry = null;
    }
    if (this.atStart) {
      if (bytes.length < 3 && isBomPrefix(bytes)) {
        this.carry = bytes;
        return '';
      }
      this.atStart = false;
      if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    }
    const complete = utf8CompleteLength(bytes);
    if (complete < bytes.length) this.carry = Buffer.from(bytes.subarray(complete));
    if (complete === 0) return '';
    const part = complete === bytes.length ? bytes : bytes.subarray(0, complete);
    return isAscii(part) ? part.toString('latin1') : this.decoder.decode(part, { stream: true });
  }

  end(): string {
    const carry = this.carry;
    this.carry = null;
    return this.decoder.decode(carry ?? new Uint8Array(0));
  }
}

function isBomPrefix(b: Uint8Array): boolean {
  return (b.length < 1 || b[0] === 0xef) && (b.length < 2 || b[1] === 0xbb);
}

/** Length of the prefix of `b` that does not end in the middle of a UTF-8 sequence. */
function utf8CompleteLength(b: Uint8Array): number {
  const n = b.length;
  for (let i = n - 1; i >= 0 && i >= n - 4; i--) {
    const c = b[i];
    if ((c & 0xc0) !== 0x80) {
      const size = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
      return i + size > n ? i : n;
    }
  }
  return n; // only continuation bytes: invalid anyway, let the decoder report it
}

/** An opened text file; `chunks()` streams its decoded text. */
export class TextSource {
  private stream: ReadStream | null = null;
  private closed = false;

  private constructor(
    readonly file: string,
    private readonly fh: FileHandle,
    private readonly decoder: ChunkDecoder,
    private readonly chunkSize: number,
  ) {}

  /** Opens the file now, so that a missing or unreadable file is reported before any reading. */
  static async open(file: string, options: TextOptions = {}): Promise<TextSource> {
    const decoder = createDecoder(file, options.encoding ?? 'utf-8', options.fatal ?? true);
    const chunkSize = options.chunkSize ?? 128 * 1024;
    if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new RangeError(`chunkSize must be a positive integer`);
    let fh: FileHandle;
    try {
      fh = await open(file, 'r');
    } catch (err) {
      throw fsError(err, file);
    }
    return new TextSource(file, fh, decoder, chunkSize);
  }

  /** Decoded text, chunk by chunk (never an empty string). Can be iterated once. */
  async *chunks(): AsyncGenerator<string, void, undefined> {
    if (this.stream !== null || this.closed) throw new Error('TextSource.chunks() can only be iterated once');
    const stream = this.fh.createReadStream({ highWaterMark: this.chunkSize });
    this.stream = stream;
    const decoder = this.decoder;
    try {
      try {
        for await (const bytes of stream as AsyncIterable<Buffer>) {
          let text: string;
          try {
            text = decoder.decode(bytes);
          } catch (err) {
            throw await this.decodeError(err);
          }
          if (text.length > 0) yield text;
        }
      } catch (err) {
        throw err instanceof SourceFileError ? err : fsError(err, this.file);
      }
      let tail: string;
      try {
        tail = decoder.end();
      } catch (err) {
        throw await this.decodeError(err);
      }
      if (tail.length > 0) yield tail;
    } finally {
      this.close();
    }
  }

  /** Releases the file; safe to call more than once and before/while iterating. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.stream !== null) this.stream.destroy();
    else void this.fh.close().catch(() => undefined);
  }

  private async decodeError(err: unknown): Promise<SourceFileError> {
    const encoding = this.decoder.encoding;
    const line = await locateUndecodableLine(this.file, encoding).catch(() => undefined);
    const hint = encoding === 'utf-8' ? ' (if the file is not UTF-8, set its "encoding", e.g. "latin1")' : '';
    return new SourceFileError(`invalid ${encoding} byte sequence${hint}`, this.file, line, { cause: err });
  }
}

/**
 * Finds the first line (1-based) that cannot be decoded in `encoding` by re-reading the file and
 * decoding it line by line. Only used after a decoding error, so speed does not matter. Line
 * breaks are found on the raw bytes: 0x0A for UTF-8 and ASCII-compatible encodings (where 0x0A
 * is never part of a multi-byte sequence), 0x0A 0x00 / 0x00 0x0A at an even offset for UTF-16.
 */
export async function locateUndecodableLine(file: string, encoding: string): Promise<number | undefined> {
  const decoder = new TextDecoder(encoding, { fatal: true });
  const unit = encoding === 'utf-16le' ? 'le' : encoding === 'utf-16be' ? 'be' : 'byte';
  let line = 1;
  let rest: Buffer = Buffer.alloc(0);
  const bad = (bytes: Buffer): boolean => {
    try {
      decoder.decode(bytes);
      return false;
    } catch {
      return true;
    }
  };
  const stream = createReadStream(file, { highWaterMark: 1024 * 1024 });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const buf: Buffer = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
      let start = 0;
      for (;;) {
        const nl = findNewline(buf, start, unit);
        if (nl < 0) break;
        if (bad(buf.subarray(start, nl))) return line;
        line++;
        start = nl + (unit === 'byte' ? 1 : 2);
      }
      rest = buf.subarray(start);
    }
  } finally {
    stream.destroy();
  }
  return rest.length > 0 && bad(rest) ? line : undefined;
}

function findNewline(buf: Buffer, from: number, unit: 'le' | 'be' | 'byte'): number {
  if (unit === 'byte') return buf.indexOf(0x0a, from);
  // Code units start at even offsets relative to the start of the file; `from` is always even.
  for (let i = from; i + 1 < buf.length; i += 2) {
    if (unit === 'le' ? buf[i] === 0x0a && buf[i + 1] === 0 : buf[i] === 0 && buf[i + 1] === 0x0a) return i;
  }
  return -1;
}
