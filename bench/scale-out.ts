/**
 * Scale-out benchmark (issue 8): real-time write throughput and latency on PostgreSQL with one and
 * with two `kindred serve` nodes, beside SQLite on one node, each next to a bare Fastify echo
 * server measured just before it.
 *
 *   node --import tsx bench/scale-out.ts [--connections 50] [--duration 10] [--probe-iterations 200]
 *        [--configs sqlite-1,postgres-1,postgres-2] [--no-report] [--results-file FILE]
 *
 * PostgreSQL comes from DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres); every
 * configuration gets a fresh schema, dropped afterwards. Each configuration starts its server(s)
 * with the demo instance (node 1 runs `serve --demo`; node 2 joins the same database without
 * --demo) and measures, with --connections in all (split evenly over the nodes, one autocannon
 * per node running at the same time):
 *   activity  POST .../data/UnifiedActivity, a unique ActivityId per request
 *   patch     PATCH .../data/Customer/{id}, rotating over the demo customers
 *   w2r       PATCH through node 1, then GET through the last node until the value shows
 *             (bench/realtime-probe.ts, own process): across nodes for postgres-2
 * With two nodes the throughput is the sum over the nodes and p50 / p99 are the higher of the two
 * nodes' figures (autocannon's histograms cannot be merged).
 * Writes bench/results/scale-out-<date>.json and the "## Scale-out" section of BENCHMARKS.md.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Children, codeVersion, customerIds, fmtInt, fmtMs, percentile, ROOT, sleep, type Child } from './children.js';
import { autocannon, type AcResult } from './realtime-autocannon.js';
import { machine, updateBenchmarksMd } from './report.js';

const SECTION = '## Scale-out (PostgreSQL, several nodes)';
const INSTANCE = 'demo';
const CONFIGS = ['sqlite-1', 'postgres-1', 'postgres-2'] as const;
type ConfigName = (typeof CONFIGS)[number];

const argv = process.argv.slice(2);
const arg = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const num = (name: string, fallback: number) => {
  const v = arg(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${v}`);
  return n;
};
const connections = num('connections', 50);
const durationS = num('duration', 10);
const probeIterations = num('probe-iterations', 200);
const writeReport = !argv.includes('--no-report');
const configs = (arg('configs') ?? CONFIGS.join(',')).split(',').map((c) => {
  if (!(CONFIGS as readonly string[]).includes(c)) throw new Error(`--configs: unknown configuration ${c} (known: ${CONFIGS.join(', ')})`);
  return c as ConfigName;
});
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const log = (m: string) => console.error(`[scale-out] ${m}`);

const children = new Children(log);
const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'kindred-scale-out-'));
const schemas: string[] = [];

async function dropSchemas(): Promise<void> {
  if (!schemas.length) return;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (const s of schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  } finally {
    await client.end();
  }
}

async function cleanup(): Promise<void> {
  await children.stopAll();
  await dropSchemas().catch((err) => log(`dropping schemas: ${(err as Error).message}`));
  rmSync(tmpDir, { recursive: true, force: true, maxRetries: 5 });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    children.killAll();
    rmSync(tmpDir, { recursive: true, force: true });
    process.exit(130);
  });
}

/** Request counter across all loads, so that every activity gets an ActivityId of its own. */
let seq = 0;

const READY = /listening on (http:\/\/\S+)/;
const cli = path.join(ROOT, 'src', 'cli', 'main.ts');

/** Starts the configuration's nodes on a fresh store; node 1 loads the demo. */
async function startNodes(config: ConfigName, adminKey: string): Promise<Child[]> {
  const nodes = config === 'postgres-2' ? 2 : 1;
  const env: NodeJS.ProcessEnv = { ...process.env, KINDRED_ADMIN_KEY: adminKey };
  delete env.DATABASE_URL;
  if (config !== 'sqlite-1') {
    const schema = `kindred_bench_${randomBytes(4).toString('hex')}`;
    schemas.push(schema);
    env.DATABASE_URL = databaseUrl;
    env.KINDRED_DATABASE_SCHEMA = schema;
  }
  const started: Child[] = [];
  for (let n = 1; n <= nodes; n++) {
    const dataDir = path.join(tmpDir, `${config}-node${n}`);
    mkdirSync(dataDir, { recursive: true });
    const args = ['--import', 'tsx', cli, 'serve', ...(n === 1 ? ['--demo'] : []), '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir];
    started.push(await children.start(`${config} node ${n}`, args, env, READY, 180_000));
  }
  return started;
}

interface Load {
  requestsPerSecond: number;
  requests: number;
  p50: number;
  p99: number;
  unexpected: number;
  errors: number;
}

/** --connections in all, split over the urls, at the same time; sums and the worse percentiles. */
async function load(urls: string[], expected: number, request: (n: number) => { method: string; path: string; body: string }, headers: Record<string, string>): Promise<Load> {
  const per = Math.max(1, Math.floor(connections / urls.length));
  const results: AcResult[] = await Promise.all(
    urls.map(
      (url) =>
        Promise.resolve(
          autocannon({
            url,
            connections: per,
            duration: durationS,
            requests: [{ method: 'POST', headers, setupRequest: (req) => ({ ...req, ...request(seq++) }) }],
          }),
        ),
    ),
  );
  const total = (f: (r: AcResult) => number) => results.reduce((s, r) => s + f(r), 0);
  if (process.env.SCALE_OUT_DEBUG) log(JSON.stringify(results.map((r) => [r.statusCodeStats, r.requests.total, r.errors, r.timeouts])));
  return {
    requestsPerSecond: total((r) => r.requests.total / r.duration),
    requests: total((r) => r.requests.total),
    p50: Math.max(...results.map((r) => r.latency.p50)),
    p99: Math.max(...results.map((r) => r.latency.p99)),
    unexpected: total((r) => r.requests.total - (r.statusCodeStats[String(expected)]?.count ?? 0)),
    errors: total((r) => r.errors + r.timeouts),
  };
}

async function echoBaseline(url: string, headers: Record<string, string>): Promise<Load> {
  return load([url], 200, (n) => ({ method: 'POST', path: '/echo', body: JSON.stringify({ n, ActivityType: 'PageView', Title: 'echo' }) }), headers);
}

interface ProbeResult {
  visible: number[];
  ack: number[];
  staleAfterAck: number;
}

function probe(writeUrl: string, readUrl: string, key: string, ids: string[], tag: string): Promise<ProbeResult> {
  const input = { url: writeUrl, readUrl, key, instanceId: INSTANCE, customerIds: ids.slice(0, 200), iterations: probeIterations, warmup: 20, tag };
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'realtime-probe.ts'), JSON.stringify(input)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    proc.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`write-to-read probe exited with ${code}`));
      const parsed = JSON.parse(out.trim().split('\n').pop() ?? '{}') as ProbeResult;
      resolve(parsed);
    });
  });
}

interface ConfigResult {
  config: ConfigName;
  nodes: number;
  echo: Load;
  activity: Load;
  patch: Load;
  w2r: { p50: number; p99: number; max: number; staleAfterAck: number; acrossNodes: boolean };
}

async function measureConfig(config: ConfigName, echoUrl: string): Promise<ConfigResult> {
  const adminKey = `kdr_bench_${randomBytes(16).toString('hex')}`;
  log(`${config}: starting`);
  const nodes = await startNodes(config, adminKey);
  const headers = { 'content-type': 'application/json', 'Ocp-Apim-Subscription-Key': adminKey };
  const ids = await customerIds(nodes[0]!.url, adminKey, INSTANCE);
  const runId = randomBytes(4).toString('hex');
  const dataPath = `/api/instances/${INSTANCE}/data`;
  const urls = nodes.map((n) => n.url);
  const activity = (n: number) => ({
    method: 'POST',
    path: `${dataPath}/UnifiedActivity`,
    body: JSON.stringify({
      ActivityId: `scale-${runId}-${n}`,
      CustomerId: ids[n % ids.length],
      ActivityTime: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString(),
      ActivityType: 'PageView',
      Title: 'bench page view',
    }),
  });
  const patch = (n: number) => ({ method: 'PATCH', path: `${dataPath}/Customer/${encodeURIComponent(ids[n % ids.length]!)}`, body: JSON.stringify({ City: `Scale ${n % 1000}` }) });
  // Warm-up: JIT, connection pools.
  await load(urls, 201, activity, headers);
  const echo = await echoBaseline(echoUrl, headers);
  const act = await load(urls, 201, activity, headers);
  const pat = await load(urls, 204, patch, headers);
  await sleep(1000);
  const p = await probe(urls[0]!, urls[urls.length - 1]!, adminKey, ids, `${config}-${runId}`);
  const visible = [...p.visible].sort((a, b) => a - b);
  await Promise.all(nodes.map((n) => children.stop(n)));
  await dropSchemas();
  const result: ConfigResult = {
    config,
    nodes: nodes.length,
    echo,
    activity: act,
    patch: pat,
    w2r: { p50: percentile(visible, 50), p99: percentile(visible, 99), max: visible[visible.length - 1] ?? NaN, staleAfterAck: p.staleAfterAck, acrossNodes: nodes.length > 1 },
  };
  log(
    `${config}: echo ${fmtInt(echo.requestsPerSecond)} req/s; activity ${fmtInt(act.requestsPerSecond)} req/s p99 ${fmtMs(act.p99)} ms; ` +
      `PATCH ${fmtInt(pat.requestsPerSecond)} req/s p99 ${fmtMs(pat.p99)} ms; write-to-read p50 ${fmtMs(result.w2r.p50)} ms`,
  );
  return result;
}

function table(results: ConfigResult[]): string {
  const head = ['configuration', 'nodes', 'echo req/s', 'activity POST req/s', 'vs echo', 'p50 / p99 ms', 'PATCH req/s', 'vs echo', 'p50 / p99 ms', 'write-to-read p50 / p99 ms', 'errors'];
  const pct = (a: Load, e: Load) => `${Math.round((100 * a.requestsPerSecond) / e.requestsPerSecond)} %`;
  const lines = [`| ${head.join(' | ')} |`, `|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|`];
  for (const r of results) {
    lines.push(
      `| ${r.config} | ${r.nodes} | ${fmtInt(r.echo.requestsPerSecond)} | ${fmtInt(r.activity.requestsPerSecond)} | ${pct(r.activity, r.echo)} | ${fmtMs(r.activity.p50)} / ${fmtMs(r.activity.p99)} | ` +
        `${fmtInt(r.patch.requestsPerSecond)} | ${pct(r.patch, r.echo)} | ${fmtMs(r.patch.p50)} / ${fmtMs(r.patch.p99)} | ` +
        `${fmtMs(r.w2r.p50)} / ${fmtMs(r.w2r.p99)}${r.w2r.acrossNodes ? ' (across nodes)' : ''} | ` +
        `${r.activity.unexpected + r.patch.unexpected + r.activity.errors + r.patch.errors} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const echoServer = await children.start('echo', ['--import', 'tsx', path.join(ROOT, 'bench', 'realtime-baseline.ts')], process.env, READY, 60_000);
  const results: ConfigResult[] = [];
  for (const c of configs) results.push(await measureConfig(c, echoServer.url));
  const m = machine();
  const code = codeVersion();
  const date = new Date().toISOString().slice(0, 10);
  const text = table(results);
  console.log(text);
  const resultsFile = arg('results-file') ?? path.join(ROOT, 'bench', 'results', `scale-out-${date}.json`);
  mkdirSync(path.dirname(resultsFile), { recursive: true });
  writeFileSync(resultsFile, JSON.stringify({ date: new Date().toISOString(), machine: m, code, connections, durationS, results }, null, 2) + '\n');
  if (writeReport) {
    updateBenchmarksMd(
      SECTION,
      [
        SECTION,
        '',
        `Measured ${date} by \`bench/scale-out.ts\` on ${m.cores} cores, ${m.memoryGiB} GiB RAM, ${m.cpu}, Node ${m.node}; code at commit ${code.commit ?? 'unknown'}${code.srcModified ? ` (+${code.srcModified} modified files)` : ''}. ` +
          'Every node, PostgreSQL 15 and the load generator share the same 2 cores, so a second node adds no hardware: the two-node row shows what the ' +
          'coordination costs (shared database, change feed), not what a second machine would add.',
        '',
        '```sh',
        'npm run bench:scale-out',
        '```',
        '',
        `${connections} connections in all (split evenly over the nodes), ${durationS} s per load, each configuration on a fresh store with the demo instance. ` +
          'A write is acknowledged only after it is committed (SQLite: WAL fdatasync; PostgreSQL: synchronous_commit on). ' +
          'Write-to-read: PATCH through node 1, then GET through the last node until the new value shows; ' +
          `${probeIterations} writes, stale reads after the acknowledgement: ${results.map((r) => `${r.config} ${r.w2r.staleAfterAck}`).join(', ')}.`,
        '',
        text,
        '',
        `Raw figures: \`${path.relative(ROOT, resultsFile)}\`.`,
        '',
      ].join('\n'),
    );
  }
}

try {
  await main();
} finally {
  await cleanup();
}
