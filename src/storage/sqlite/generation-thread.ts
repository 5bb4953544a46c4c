// The store's side of a generation loaded in a thread of its own (generation-worker.ts), and the
// queue that lets a refresh hand over a batch and go on computing while earlier ones are written.
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../../workers.js';
import type { LoadStep } from './generation-load.js';
import type { GenerationWorkerData, GenerationWorkerReply, GenerationWorkerRequest } from './generation-worker.js';

/** The buffers a step moves to the thread. */
function transferOf(step: LoadStep): ArrayBuffer[] {
  if (step.kind === 'rows') return [step.rows.bytes.buffer as ArrayBuffer, step.rows.ends.buffer as ArrayBuffer];
  if (step.kind === 'enrichments') return [step.rows.bytes.buffer as ArrayBuffer, step.rows.offsets.buffer as ArrayBuffer];
  return [];
}

/** Runs load steps one after another and resolves each with its result. */
export type RunLoadStep = (step: LoadStep) => Promise<number>;

export class GenerationThread {
  private worker: Worker | null;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (n: number) => void; reject: (e: Error) => void }>();
  private failure: Error | null = null;
  /** Closing: the thread stays referenced until it has exited. */
  private closing = false;

  constructor(data: GenerationWorkerData) {
    const w = startModuleWorker(new URL('./generation-worker.js', import.meta.url), data);
    w.on('message', (m: GenerationWorkerReply) => {
      const p = this.waiting.get(m.id);
      if (!p) return;
      this.waiting.delete(m.id);
      if (!this.waiting.size && !this.closing) w.unref();
      if ('error' in m) p.reject(new Error(m.error));
      else p.resolve(m.result);
    });
    w.on('error', (err) => this.fail(`generation writer thread failed: ${err.message}`));
    w.on('exit', (code) => this.fail(`generation writer thread stopped (exit code ${code})`));
    // An idle thread (a writer that was never committed or aborted) must not keep the process alive.
    w.unref();
    this.worker = w;
  }

  readonly run: RunLoadStep = (step) => this.send({ id: this.nextId++, step });

  /** Closes the thread's connection after the steps sent before, and waits for the thread to end. */
  async close(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    this.closing = true;
    w.ref();
    await this.send({ id: this.nextId++, close: true }).catch(() => {});
    await exited;
  }

  private send(request: GenerationWorkerRequest): Promise<number> {
    const w = this.worker;
    if (!w) return Promise.reject(this.failure ?? new Error('generation writer thread is closed'));
    return new Promise((resolve, reject) => {
      this.waiting.set(request.id, { resolve, reject });
      w.ref();
      // Rows move to the thread: nothing is copied, and this side can no longer use them. (Buffers
      // kept here would also count as this thread's external memory, whose growth makes V8
      // collect the refresh's whole heap.)
      w.postMessage(request, 'step' in request ? transferOf(request.step) : []);
    });
  }

  private fail(message: string): void {
    this.worker = null;
    this.failure ??= new Error(message);
    for (const p of this.waiting.values()) p.reject(this.failure);
    this.waiting.clear();
  }
}

/**
 * Steps handed over in order, with at most `window` batches of rows unfinished: `push` returns as
 * soon as there is room, so the caller computes the next batch while earlier ones are written.
 * Other steps (indexes, search terms) hold no rows and never make the caller wait. A step that
 * failed makes the next push (or drain) throw its error; nothing after it counts.
 */
export class LoadQueue {
  private readonly unfinished: Promise<unknown>[] = [];
  private readonly unfinishedRows: Promise<unknown>[] = [];
  private failure: unknown = null;
  private failed = false;

  constructor(
    private readonly run: RunLoadStep,
    private readonly window: number,
  ) {}

  async push(step: LoadStep): Promise<void> {
    this.throwIfFailed();
    const done = this.track(this.run(step));
    if (step.kind === 'rows') {
      this.unfinishedRows.push(done);
      while (this.unfinishedRows.length > this.window) await this.unfinishedRows.shift();
    }
    this.throwIfFailed();
  }

  /** Runs `step` after every step pushed before it; resolves with its result. */
  async result(step: LoadStep): Promise<number> {
    this.throwIfFailed();
    const result = this.run(step);
    this.track(result);
    return result;
  }

  /** Waits for every step pushed; throws the first failure. */
  async drain(): Promise<void> {
    while (this.unfinished.length) await this.unfinished.shift();
    this.unfinishedRows.length = 0;
    this.throwIfFailed();
  }

  private track(p: Promise<number>): Promise<unknown> {
    const done = p.catch((err) => {
      if (!this.failed) {
        this.failed = true;
        this.failure = err;
      }
    });
    this.unfinished.push(done);
    return done;
  }

  private throwIfFailed(): void {
    if (this.failed) throw this.failure;
  }
}
