/**
 * Write-to-read probe for bench/realtime.ts, run as a child process so that its timings do not
 * share an event loop with the autocannon load.
 *
 *   node --import tsx bench/realtime-probe.ts '<json: {url, readUrl?, key, instanceId, customerIds, iterations, warmup, tag}>'
 *
 * Sequentially, `iterations` times: PATCH Customer/{id} {City: <new value>} on one keep-alive
 * connection and, from the moment the PATCH is sent, GET Customer/{id}?$select=City back to back
 * on another connection until a response shows the new value. Prints one JSON line with the
 * samples (ms): `visible` (PATCH sent → first GET response with the value), `ack` (PATCH sent →
 * its 204), `gets` per iteration and `staleAfterAck` (GETs sent after the 204 that still showed
 * the old value: a read-your-writes violation; must be 0).
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

interface ProbeInput {
  url: string;
  /** Where the GETs go (another node of the same database); default: url. */
  readUrl?: string;
  key: string;
  instanceId: string;
  customerIds: string[];
  iterations: number;
  warmup: number;
  tag: string;
}

const input = JSON.parse(process.argv[2] ?? '') as ProbeInput;
const writeBase = new URL(input.url);
const readBase = new URL(input.readUrl ?? input.url);
const writer = new http.Agent({ keepAlive: true, maxSockets: 1 });
const reader = new http.Agent({ keepAlive: true, maxSockets: 1 });

function send(agent: http.Agent, base: URL, method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        method,
        path,
        headers: {
          'Ocp-Apim-Subscription-Key': input.key,
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: no answer in 30 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

const customerPath = (id: string) => `/api/instances/${encodeURIComponent(input.instanceId)}/data/Customer/${encodeURIComponent(id)}`;

async function once(i: number): Promise<{ visible: number; ack: number; gets: number; staleAfterAck: number }> {
  const id = input.customerIds[i % input.customerIds.length];
  const value = `w2r-${input.tag}-${i}`;
  const t0 = performance.now();
  let ackAt: number | undefined;
  const patch = send(writer, writeBase, 'PATCH', customerPath(id), { City: value }).then((r) => {
    if (r.status !== 204) throw new Error(`PATCH ${id}: status ${r.status}: ${r.body.slice(0, 300)}`);
    ackAt = performance.now();
  });
  let patchError: unknown;
  patch.catch((err) => {
    patchError = err;
  });
  let gets = 0;
  let staleAfterAck = 0;
  let visibleAt: number;
  for (;;) {
    if (patchError) throw patchError;
    const ackedBeforeSend = ackAt !== undefined;
    const r = await send(reader, readBase, 'GET', `${customerPath(id)}?$select=City`);
    gets++;
    if (r.status !== 200) throw new Error(`GET ${id}: status ${r.status}: ${r.body.slice(0, 300)}`);
    if ((JSON.parse(r.body) as { City?: unknown }).City === value) {
      visibleAt = performance.now();
      break;
    }
    if (ackedBeforeSend) staleAfterAck++;
    if (performance.now() - t0 > 30_000) throw new Error(`PATCH ${id}: the value was not visible after 30 s`);
  }
  await patch;
  return { visible: visibleAt - t0, ack: (ackAt as number) - t0, gets, staleAfterAck };
}

const samples = { visible: [] as number[], ack: [] as number[], gets: [] as number[], staleAfterAck: 0 };
const started = performance.now();
for (let i = 0; i < input.warmup + input.iterations; i++) {
  const s = await once(i);
  if (i < input.warmup) continue;
  samples.visible.push(s.visible);
  samples.ack.push(s.ack);
  samples.gets.push(s.gets);
  samples.staleAfterAck += s.staleAfterAck;
}
writer.destroy();
reader.destroy();
const cpu = process.cpuUsage();
process.stdout.write(JSON.stringify({ ok: true, wallMs: performance.now() - started, cpuUs: cpu.user + cpu.system, ...samples }) + '\n');
