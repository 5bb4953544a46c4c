// Shared by the benchmark scripts: what machine the figures come from, and writing one section
// of BENCHMARKS.md without touching the sections other benchmarks wrote.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface Machine {
  cores: number;
  memoryGiB: number;
  cpu: string;
  node: string;
  platform: string;
}

export function machine(): Machine {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1].trim();
  } catch {
    // not Linux
  }
  return {
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    cpu,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

/**
 * Writes or replaces the section headed `heading` (e.g. "## Real-time API"), keeping every other section.
 * A new section goes at the end, or with `top` before the first section.
 */
export function updateBenchmarksMd(heading: string, section: string, options: { top?: boolean } = {}): void {
  const file = path.join(ROOT, 'BENCHMARKS.md');
  // Read right before writing: other sections are written by other benchmarks.
  let text = existsSync(file)
    ? readFileSync(file, 'utf8')
    : '# Benchmarks\n\nNumbers measured on one machine; each benchmark compares against a baseline measured in the same run.\n';
  const start = text.indexOf(`${heading}\n`);
  if (start >= 0) {
    const rest = text.slice(start + heading.length);
    const next = rest.search(/\n## /);
    const end = next >= 0 ? start + heading.length + next + 1 : text.length;
    text = text.slice(0, start) + section.trimEnd() + '\n' + (end < text.length ? '\n' + text.slice(end) : '');
  } else if (options.top && /\n## /.test(text)) {
    const first = text.search(/\n## /) + 1;
    text = text.slice(0, first) + section.trimEnd() + '\n\n' + text.slice(first);
  } else {
    text = text.trimEnd() + '\n\n' + section.trimEnd() + '\n';
  }
  writeFileSync(file, text);
}
