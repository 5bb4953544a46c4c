// Shared by the load benchmarks: child processes (servers) that are started, waited for and always
// stopped, and small helpers for reading results.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface Child {
  name: string;
  proc: ChildProcess;
  /** What the ready pattern's first group matched (the server's URL). */
  url: string;
  /** The last lines the child printed, for error messages. */
  tail: () => string;
  exited: Promise<number | null>;
}

/** Children of one benchmark run: all of them are killed when the run ends, however it ends. */
export class Children {
  private readonly list: Child[] = [];

  constructor(private readonly log: (message: string) => void = () => {}) {
    process.once('exit', () => this.killAll());
  }

  /** The children started or tracked and not yet untracked. */
  get all(): readonly Child[] {
    return this.list;
  }

  /** A process started elsewhere that must not outlive the run either. */
  track(child: Child): void {
    this.list.push(child);
  }

  untrack(child: Child): void {
    const i = this.list.indexOf(child);
    if (i >= 0) this.list.splice(i, 1);
  }

  /** Starts `node args`, resolves when stdout matches `ready` (group 1: the URL). */
  start(name: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp, timeoutMs: number): Promise<Child> {
    const proc = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-8000);
    };
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const tail = () => output.trim().split('\n').slice(-15).join('\n');
    const child: Child = { name, proc, url: '', tail, exited };
    this.list.push(child);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start within ${timeoutMs / 1000} s:\n${tail()}`)), timeoutMs);
      let stdout = '';
      proc.stdout!.on('data', (chunk: Buffer) => {
        keep(chunk);
        stdout += chunk.toString('utf8');
        const m = ready.exec(stdout);
        if (m && !child.url) {
          clearTimeout(timer);
          child.url = m[1] ?? '';
          resolve(child);
        }
      });
      proc.stderr!.on('data', keep);
      proc.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (code ${code}) before it was ready:\n${tail()}`));
      });
    });
  }

  /** SIGTERM, then SIGKILL after graceMs. */
  async stop(child: Child, graceMs = 15_000): Promise<void> {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
    child.proc.kill('SIGTERM');
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
    if ((await Promise.race([child.exited, timeout])) === 'timeout') {
      this.log(`${child.name} did not stop after SIGTERM; killing it`);
      child.proc.kill('SIGKILL');
      await child.exited;
    }
  }

  async stopAll(graceMs?: number): Promise<void> {
    await Promise.all(this.list.map((c) => this.stop(c, graceMs)));
  }

  killAll(): void {
    for (const c of this.list) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  }
}

export const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
export const fmtMs = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** The commit measured, and how many files under src/ differ from it. */
export function codeVersion(): { commit: string | null; srcModified: number | null } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean).length;
    return { commit, srcModified: dirty };
  } catch {
    return { commit: null, srcModified: null };
  }
}

export async function httpJson(url: string, key: string): Promise<unknown> {
  const res = await fetch(url, { headers: { 'Ocp-Apim-Subscription-Key': key } });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** Every CustomerId of an instance, read page by page through the API. */
export async function customerIds(serverUrl: string, key: string, instanceId: string): Promise<string[]> {
  const ids: string[] = [];
  let next: string | undefined = `${serverUrl}/api/instances/${instanceId}/data/Customer?$select=CustomerId&$top=1000`;
  while (next) {
    const page = (await httpJson(next, key)) as { value: { CustomerId: string }[]; '@odata.nextLink'?: string };
    ids.push(...page.value.map((r) => r.CustomerId));
    next = page['@odata.nextLink'];
  }
  if (!ids.length) throw new Error(`instance ${instanceId} has no customers`);
  return ids;
}
