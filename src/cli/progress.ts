// Progress display for long CLI work: a bar per stage on a terminal, plain lines otherwise.
import cliProgress from 'cli-progress';
import type { StageRecord } from '../domain/run.js';

export interface StageBars {
  progress(stage: string, done: number, total: number): void;
  stage(record: StageRecord): void;
  stop(): void;
}

export function stageBars(stream: NodeJS.WriteStream = process.stderr): StageBars {
  const tty = Boolean(stream.isTTY);
  let bar: cliProgress.SingleBar | null = null;
  let barStage = '';
  /** The outcome printed for each stage: the pipeline reports write's again once the generation is committed. */
  const printed = new Map<string, string>();
  const stopBar = () => {
    bar?.stop();
    bar = null;
  };
  return {
    progress(stage, done, total) {
      if (!tty) return;
      if (!bar || barStage !== stage) {
        stopBar();
        barStage = stage;
        bar = new cliProgress.SingleBar(
          { format: `${stage.padEnd(10)} [{bar}] {value}/{total}`, stream, hideCursor: true, clearOnComplete: true },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total || done || 1, done);
      }
      if (total) bar.setTotal(total);
      else bar.setTotal(Math.max(done, 1));
      bar.update(done);
    },
    stage(record) {
      if (record.status === 'running') {
        if (tty) this.progress(record.name, 0, 0);
        return;
      }
      stopBar();
      if (printed.get(record.name) === record.status) return;
      printed.set(record.name, record.status);
      const counts = Object.entries(record.counts)
        .filter(([k]) => !k.includes(':') && !k.includes('.'))
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      const issues = record.issues.reduce((n, i) => n + i.count, 0);
      stream.write(
        `${record.name.padEnd(10)} ${record.status.padEnd(10)} ${String(record.durationMs ?? 0).padStart(7)} ms  ${counts}${issues ? `  issues=${issues}` : ''}${record.error ? `  error: ${record.error}` : ''}\n`,
      );
    },
    stop: stopBar,
  };
}
