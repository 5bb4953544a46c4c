// Export to a CSV or JSONL file in a folder. Written to a temporary file beside it and renamed on
// completion: a reader of the folder sees the previous file or the new one, never half of one.
import { createWriteStream, mkdirSync, rmSync, renameSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import type { ExportTargetDef } from '../config/outputs.js';
import type { ExportContext, ExportSink } from './sink.js';

export function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

export function fileExportPath(target: ExportTargetDef, exportName: string, baseDir: string): string {
  const format = target.format ?? 'csv';
  return path.resolve(baseDir, target.folder ?? '.', target.fileName ?? `${exportName}.${format}`);
}

class FileSink implements ExportSink {
  batches = 0;
  private readonly out: WriteStream;
  private readonly tmp: string;
  private failed: Error | null = null;

  constructor(
    private readonly file: string,
    private readonly format: 'csv' | 'jsonl',
    private readonly ctx: ExportContext,
  ) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.tmp = path.join(path.dirname(file), `.${path.basename(file)}.${ctx.runId}.tmp`);
    this.out = createWriteStream(this.tmp, { encoding: 'utf8' });
    this.out.on('error', (err) => (this.failed = err));
    if (format === 'csv') this.out.write(ctx.fields.map((f) => csvField(f.name)).join(',') + '\n');
  }

  get description(): string {
    return `file ${this.file}`;
  }

  async write(rows: Record<string, unknown>[]): Promise<void> {
    if (this.failed) throw this.failed;
    const names = this.ctx.fields.map((f) => f.name);
    let text = '';
    for (const row of rows) {
      if (this.format === 'csv') text += names.map((n) => csvField(row[n])).join(',') + '\n';
      else {
        const o: Record<string, unknown> = {};
        for (const n of names) o[n] = row[n] ?? null;
        text += JSON.stringify(o) + '\n';
      }
    }
    this.batches++;
    if (!this.out.write(text)) await once(this.out, 'drain');
  }

  async complete(): Promise<void> {
    this.out.end();
    await once(this.out, 'close');
    if (this.failed) throw this.failed;
    renameSync(this.tmp, this.file);
  }

  async abort(): Promise<void> {
    this.out.destroy();
    rmSync(this.tmp, { force: true });
  }
}

export function fileSink(target: ExportTargetDef, baseDir: string, ctx: ExportContext): ExportSink {
  return new FileSink(fileExportPath(target, ctx.exportName, baseDir), target.format ?? 'csv', ctx);
}
