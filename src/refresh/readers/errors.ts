/**
 * Error raised by the source-file readers. `message` is formatted like a compiler diagnostic,
 * `path/to/file.csv:12: unterminated quoted field`, so it can be printed as is; the parts are
 * also available separately (`file`, `line`, `reason`).
 */
export class SourceFileError extends Error {
  override readonly name = 'SourceFileError';
  /** The message without the `file:line: ` prefix. */
  readonly reason: string;

  constructor(
    message: string,
    readonly file: string,
    readonly line?: number,
    options?: { cause?: unknown },
  ) {
    super(line === undefined ? `${file}: ${message}` : `${file}:${line}: ${message}`, options);
    this.reason = message;
  }
}

/** Wraps an fs error (ENOENT, EACCES, EISDIR, ...) in a SourceFileError naming the file. */
export function fsError(err: unknown, file: string): SourceFileError {
  if (err instanceof SourceFileError) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  let reason: string;
  switch (code) {
    case 'ENOENT':
      reason = 'no such file';
      break;
    case 'EACCES':
    case 'EPERM':
      reason = 'permission denied';
      break;
    case 'EISDIR':
      reason = 'is a directory, expected a file';
      break;
    default:
      reason = `cannot read file: ${err instanceof Error ? err.message : String(err)}`;
  }
  return new SourceFileError(reason, file, undefined, { cause: err });
}
