// `kindred serve` as a child process over real HTTP, for the proof suite (crash test, expiry,
// soak): started from the CLI entry with tsx, its address read from what it prints.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const CLI = path.join(REPO, 'src', 'cli', 'main.ts');

export interface ServerProcess {
  url: string;
  proc: ChildProcess;
  pid: number;
  /** The last lines it printed (stdout and stderr), for failure messages. */
  tail(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL, and wait until it is gone. */
  kill(): Promise<void>;
  /** SIGTERM (graceful), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  dataDir: string;
  adminKey: string;
  /** `--demo`: create and refresh the demo instance on the first start. */
  demo?: boolean;
  /** Extra node flags (e.g. --max-old-space-size). */
  nodeFlags?: string[];
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Run this script (with tsx) instead of the CLI; it gets the data dir as its argument and must print "listening on <url>". */
  script?: string;
  /** Open an IPC channel (the script may process.send() to the parent). */
  ipc?: boolean;
}

/** Starts `kindred serve --port 0` and resolves once it listens and /healthz answers 200. */
export async function startServer(options: StartOptions): Promise<ServerProcess> {
  const entry = options.script
    ? [options.script, options.dataDir]
    : [CLI, 'serve', '--port', '0', '--data-dir', options.dataDir, ...(options.demo ? ['--demo'] : [])];
  const args = [...(options.nodeFlags ?? []), '--import', 'tsx', ...entry];
  const proc = spawn(process.execPath, args, {
    cwd: REPO,
    env: { ...process.env, ...options.env, KINDRED_ADMIN_KEY: options.adminKey },
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-16_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const tail = () => output.trim().split('\n').slice(-20).join('\n');
  const gone = () => proc.exitCode !== null || proc.signalCode !== null;
  const timeoutMs = options.timeoutMs ?? 120_000;

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`kindred serve did not start within ${timeoutMs / 1000} s:\n${tail()}`));
    }, timeoutMs);
    const onData = () => {
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        proc.stdout!.off('data', onData);
        resolve(m[1]);
      }
    };
    proc.stdout!.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`kindred serve exited (code ${code}, signal ${signal}) before it listened:\n${tail()}`));
    });
  });
  for (let i = 0; ; i++) {
    const res = await fetch(`${url}/healthz`).catch(() => undefined);
    if (res?.ok) break;
    if (i > 300 || gone()) throw new Error(`kindred /healthz did not answer 200:\n${tail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const kill = async () => {
    if (!gone()) proc.kill('SIGKILL');
    await exited;
  };
  return {
    url,
    proc,
    pid: proc.pid!,
    tail,
    exited,
    kill,
    async stop(graceMs = 15_000) {
      if (gone()) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Seeded PRNG (mulberry32): same seed, same choices. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Reads every page of an OData collection (following @odata.nextLink). */
export async function readAll<T>(firstUrl: string, key: string): Promise<T[]> {
  const out: T[] = [];
  let next: string | undefined = firstUrl;
  while (next) {
    const res = await fetch(next, { headers: { 'Ocp-Apim-Subscription-Key': key } });
    const text = await res.text();
    if (!res.ok) throw new Error(`GET ${next}: ${res.status} ${text.slice(0, 300)}`);
    const page = JSON.parse(text) as { value: T[]; '@odata.nextLink'?: string };
    out.push(...page.value);
    next = page['@odata.nextLink'];
  }
  return out;
}
