// Resolves a source's `path` (a file or a glob) to the files to read.
//
// Glob syntax, per path segment: `*` (any characters), `?` (one character), `[abc]`, `[a-z]`,
// `[!abc]` / `[^abc]` (a character class), and `**` as a whole segment for any number of
// directories (including none). As in the shell, `*`, `?` and classes do not match a leading
// `.` unless the pattern segment starts with `.`, and `**` does not enter hidden directories or
// follow symbolic links to directories. A `[` without a closing `]` is literal. Only files
// are returned, never directories.
import { readdir, stat } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import path from 'node:path';
import { SourceFileError, fsError } from './errors.js';

type Segment =
  | { kind: 'literal'; name: string }
  | { kind: 'glob'; re: RegExp; dot: boolean }
  | { kind: 'globstar' };

/**
 * Resolves `pattern` (relative to `baseDir` unless absolute) to absolute file paths, sorted.
 * A plain path that does not exist (or is a directory) throws a SourceFileError; a glob that
 * matches nothing returns [].
 */
export async function expandSourcePath(baseDir: string, pattern: string): Promise<string[]> {
  const base = path.resolve(baseDir);
  if (pattern.trim().length === 0) throw new SourceFileError('empty source path', base);
  // Only the pattern is parsed as a glob: glob characters in baseDir are literal.
  const root = path.isAbsolute(pattern) ? path.parse(pattern).root : base;
  const parts = path
    .normalize(pattern.slice(path.isAbsolute(pattern) ? root.length : 0))
    .split(path.sep === '\\' ? /[\\/]+/ : /\/+/)
    .filter((p) => p !== '' && p !== '.');
  const absolute = path.join(root, ...parts);
  let segments: Segment[];
  try {
    segments = parts.map(compileSegment);
  } catch (err) {
    throw new SourceFileError(err instanceof Error ? err.message : String(err), absolute);
  }
  const firstGlob = segments.findIndex((s) => s.kind !== 'literal');

  if (firstGlob < 0) {
    let isDir: boolean;
    try {
      isDir = (await stat(absolute)).isDirectory();
    } catch (err) {
      const e = fsError(err, absolute);
      const from = path.isAbsolute(pattern) ? '' : ` (path "${pattern}" relative to ${base})`;
      throw new SourceFileError(`${e.reason}${from}`, absolute, undefined, { cause: err });
    }
    if (isDir) throw new SourceFileError('is a directory, expected a file or a glob such as "dir/*.csv"', absolute);
    return [absolute];
  }

  // A file whose name merely looks like a glob ("export[1].csv") is taken literally.
  if (await isRegularFile(absolute)) return [absolute];

  // `dir/**` means every file below dir.
  if (segments[segments.length - 1].kind === 'globstar') segments.push(compileSegment('*'));
  const walker = new Walker();
  await walker.walk(path.join(root, ...parts.slice(0, firstGlob)), segments, firstGlob);
  return [...walker.found].sort();
}

class Walker {
  readonly found = new Set<string>();
  private readonly visited = new Set<string>();
  private readonly listings = new Map<string, Promise<Entry[]>>();

  async walk(dir: string, segments: Segment[], index: number): Promise<void> {
    const key = `${index}\0${dir}`;
    if (this.visited.has(key)) return;
    this.visited.add(key);
    const seg = segments[index];
    const last = index === segments.length - 1;

    if (seg.kind === 'globstar') {
      await this.walk(dir, segments, index + 1);
      for (const e of await this.list(dir)) {
        if (e.dir && !e.link && !e.name.startsWith('.')) await this.walk(path.join(dir, e.name), segments, index);
      }
      return;
    }
    if (seg.kind === 'literal') {
      const p = path.join(dir, seg.name);
      if (last) {
        if (await isRegularFile(p)) this.found.add(p);
      } else if (await isDirectory(p)) {
        await this.walk(p, segments, index + 1);
      }
      return;
    }
    for (const e of await this.list(dir)) {
      if (!seg.re.test(e.name) || (e.name.startsWith('.') && !seg.dot)) continue;
      const p = path.join(dir, e.name);
      if (last) {
        if (e.file) this.found.add(p);
      } else if (e.dir) {
        await this.walk(p, segments, index + 1);
      }
    }
  }

  private list(dir: string): Promise<Entry[]> {
    let listing = this.listings.get(dir);
    if (listing === undefined) {
      listing = listDirectory(dir);
      this.listings.set(dir, listing);
    }
    return listing;
  }
}

interface Entry {
  name: string;
  file: boolean;
  dir: boolean;
  /** A symbolic link (file/dir describe its target). */
  link: boolean;
}

async function listDirectory(dir: string): Promise<Entry[]> {
  let dirents: Dirent[];
  try {
    dirents = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw fsError(err, dir);
  }
  const entries: Entry[] = [];
  for (const d of dirents) {
    if (d.isSymbolicLink()) {
      try {
        const s = await stat(path.join(dir, d.name));
        entries.push({ name: d.name, file: s.isFile(), dir: s.isDirectory(), link: true });
      } catch {
        // dangling link: ignore
      }
    } else {
      entries.push({ name: d.name, file: d.isFile(), dir: d.isDirectory(), link: false });
    }
  }
  return entries;
}

async function isRegularFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** Compiles one path segment; plain names (including a `[` with no closing `]`) stay literal. */
function compileSegment(seg: string): Segment {
  if (seg === '**') return { kind: 'globstar' };
  let re = '';
  let glob = false;
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === '*') {
      glob = true;
      re += '.*';
    } else if (c === '?') {
      glob = true;
      re += '.';
    } else if (c === '[') {
      const cls = parseClass(seg, i);
      if (cls === null) {
        re += '\\[';
      } else {
        glob = true;
        re += cls.re;
        i = cls.end;
      }
    } else {
      re += escapeRegExp(c);
    }
  }
  if (!glob) return { kind: 'literal', name: seg };
  let compiled: RegExp;
  try {
    compiled = new RegExp(`^${re}$`, 'su');
  } catch {
    throw new RangeError(`invalid glob segment "${seg}"`);
  }
  return { kind: 'glob', re: compiled, dot: seg.startsWith('.') };
}

/** `[...]` starting at `start`: its regexp and the index of the closing `]`, or null if unclosed. */
function parseClass(seg: string, start: number): { re: string; end: number } | null {
  let i = start + 1;
  let negate = false;
  if (seg[i] === '!' || seg[i] === '^') {
    negate = true;
    i++;
  }
  let body = '';
  // A `]` right after `[` or `[!` is a member, not the end.
  for (let first = true; i < seg.length; i++, first = false) {
    const c = seg[i];
    if (c === ']' && !first) return { re: `[${negate ? '^' : ''}${body}]`, end: i };
    if (c === '-' && !first && i + 1 < seg.length && seg[i + 1] !== ']') body += '-';
    else body += /[\\\][^-]/.test(c) ? `\\${c}` : c;
  }
  return null;
}

function escapeRegExp(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}
