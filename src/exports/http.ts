// Export to an HTTP endpoint: the rows in batches of JSON, each request signed with HMAC-SHA256
// and retried with exponential backoff. The last batch says `last: true`, so the receiver knows
// the export is complete.
import type { ExportTargetDef } from '../config/outputs.js';
import { postSigned, resolveSecret } from '../notify/http.js';
import type { ExportContext, ExportSink } from './sink.js';

export const DEFAULT_HTTP_BATCH = 500;

class HttpSink implements ExportSink {
  batches = 0;
  private pending: Record<string, unknown>[] = [];
  private readonly secret: string;
  private readonly batchSize: number;
  private sent = 0;

  constructor(
    private readonly target: ExportTargetDef,
    private readonly ctx: ExportContext,
  ) {
    this.secret = resolveSecret(target);
    this.batchSize = target.batchSize ?? DEFAULT_HTTP_BATCH;
  }

  get description(): string {
    const u = new URL(this.target.url!);
    return `http ${u.origin}${u.pathname}`;
  }

  private async send(last: boolean): Promise<void> {
    const rows = this.pending.splice(0, this.batchSize);
    const names = this.ctx.fields.map((f) => f.name);
    const body = JSON.stringify({
      instanceId: this.ctx.instanceId,
      export: this.ctx.exportName,
      runId: this.ctx.runId,
      generation: this.ctx.generation,
      entity: this.ctx.entity,
      batch: this.batches + 1,
      offset: this.sent,
      last,
      rows: rows.map((r) => Object.fromEntries(names.map((n) => [n, r[n] ?? null]))),
    });
    const result = await postSigned({
      url: this.target.url!,
      body,
      secret: this.secret,
      headers: { ...this.target.headers, 'x-kindred-export-run': this.ctx.runId, 'x-kindred-batch': String(this.batches + 1) },
      timeoutMs: this.target.timeoutMs,
      retry: this.target.retry,
      signal: this.ctx.signal,
    });
    if (!result.ok) throw new Error(`batch ${this.batches + 1} was not accepted after ${result.attempts} attempt(s): ${result.error}`);
    this.batches++;
    this.sent += rows.length;
  }

  async write(rows: Record<string, unknown>[]): Promise<void> {
    for (const r of rows) this.pending.push(r);
    // Keep one batch back so that the last request can say it is the last.
    while (this.pending.length > this.batchSize) await this.send(false);
  }

  async complete(): Promise<void> {
    await this.send(true);
  }

  async abort(): Promise<void> {
    this.pending = [];
  }
}

export function httpSink(target: ExportTargetDef, ctx: ExportContext): ExportSink {
  return new HttpSink(target, ctx);
}
