// What the stages of a refresh pass to each other. Each stage is a function in its own file
// that takes the previous stage's output and returns a typed result with counts and issues.
import type { ResolvedEntity, ResolvedInstance } from '../config/resolve.js';
import type { FieldValue } from '../domain/profile.js';
import type { StageName } from '../domain/run.js';

/** A problem that did not stop the run: counted, with a few located samples. */
export class IssueLog {
  private readonly byMessage = new Map<string, { count: number; samples: string[] }>();
  constructor(private readonly maxSamples = 10) {}

  add(message: string, sample?: string): void {
    let e = this.byMessage.get(message);
    if (!e) {
      e = { count: 0, samples: [] };
      this.byMessage.set(message, e);
    }
    e.count++;
    if (sample !== undefined && e.samples.length < this.maxSamples) e.samples.push(sample);
  }

  toJSON(): { message: string; count: number; samples: string[] }[] {
    return [...this.byMessage].map(([message, e]) => ({ message, count: e.count, samples: e.samples }));
  }

  get size(): number {
    return this.byMessage.size;
  }
}

export interface StageReport {
  counts: Record<string, number>;
  issues: IssueLog;
}

export interface StageProgress {
  (stage: StageName, done: number, total: number): void;
}

export interface StageEnv {
  instance: ResolvedInstance;
  signal: AbortSignal;
  progress: StageProgress;
  report: StageReport;
}

/** Where each row came from (file and line), kept as numbers: a string per row costs ~130 bytes. */
export class Origins {
  private readonly fileOf: number[] = [];
  private readonly lineOf: number[] = [];
  constructor(readonly files: string[] = []) {}

  add(file: number, line: number): void {
    this.fileOf.push(file);
    this.lineOf.push(line);
  }

  /** Copies row i of another Origins (same files) to the end of this one. */
  copy(from: Origins, i: number): void {
    this.add(from.fileOf[i], from.lineOf[i]);
  }

  /** Replaces row i with row j of another Origins. */
  set(i: number, from: Origins, j: number): void {
    this.fileOf[i] = from.fileOf[j];
    this.lineOf[i] = from.lineOf[j];
  }

  /** "file.csv:12", for messages. */
  at(i: number): string {
    return `${this.files[this.fileOf[i]]}:${this.lineOf[i]}`;
  }
}

/** Rows of one source entity, values in the entity's column order. */
export interface EntityRows {
  entity: ResolvedEntity;
  /** Raw text values (null: absent) after pull; typed values after normalize. */
  rows: FieldValue[][];
  /** Where each row came from, for messages. */
  origin: Origins;
}

/** After normalize: keys are unique and present, values typed, timestamps parsed. */
export interface TypedEntityRows extends EntityRows {
  keys: string[];
  /** Last-modified time in ms since epoch; NaN when unknown. */
  modified: Float64Array;
}

export class RefreshCancelled extends Error {
  constructor() {
    super('refresh cancelled');
    this.name = 'RefreshCancelled';
  }
}

export function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw new RefreshCancelled();
}

/** Lets the event loop run (timers, HTTP) during long synchronous work. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
