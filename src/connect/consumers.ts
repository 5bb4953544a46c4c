// Stream consumers: each consumer declared in an instance definition reads a NATS JetStream subject
// through a durable pull consumer with explicit acks and applies its mapping. A message is acked
// only after its write is on disk (at-least-once); a redelivered message maps to the same
// ActivityId, so the store answers it as a replay instead of storing it twice. A message that
// cannot become a write is recorded as a reject and terminated so it does not loop.
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { InstanceCatalog } from '../api/catalog.js';
import type { ConsumerDef } from '../config/schema.js';
import type { WriteQueue } from '../realtime/write-queue.js';
import type { Store } from '../storage/store.js';
import { mappedWrite } from './apply.js';
import { compiledMapping } from './hooks.js';
import { canonicalJson } from './mapping.js';

const MAX_REJECTS_KEPT = 100;
const MAX_IN_FLIGHT = 256;

export interface ConsumerReject {
  at: string;
  /** Stream sequence of the message. */
  sequence: number;
  subject: string;
  step: string;
  reason: string;
  /** The start of the payload as received. */
  payload: string;
}

export interface ConsumerCounters {
  received: number;
  written: number;
  replayed: number;
  rejected: number;
  /** Writes the store could not take; the message is redelivered later. */
  retried: number;
}

export interface ConsumerStatus extends ConsumerCounters {
  instanceId: string;
  name: string;
  subject: string;
  stream: string | null;
  durable: string;
  state: 'starting' | 'running' | 'failed' | 'stopped';
  error: string | null;
  /** Messages not yet delivered plus delivered and not yet acknowledged (null when NATS does not answer). */
  lag: number | null;
  rejects: ConsumerReject[];
}

interface Running {
  status: Omit<ConsumerStatus, 'lag'>;
  messages?: ConsumerMessages;
  info?: () => Promise<{ num_pending: number; num_ack_pending: number }>;
  done?: Promise<void>;
  definition: string;
}

export interface StreamConsumersOptions {
  store: Store;
  catalog: InstanceCatalog;
  writes: WriteQueue;
  log?: (message: string) => void;
}

export class StreamConsumers {
  private nc: NatsConnection | null = null;
  private readonly running = new Map<string, Running>();
  private closed = false;
  private syncTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: StreamConsumersOptions) {}

  /**
   * Connects to NATS and starts the consumers of every instance; every `syncIntervalMs` (default
   * 30 s, 0: never) it picks up definitions applied since (`kindred instance apply`).
   */
  async start(servers: string | string[], options: { syncIntervalMs?: number } = {}): Promise<void> {
    this.nc = await connect({ servers, name: 'kindred', maxReconnectAttempts: -1 });
    await this.sync();
    const every = options.syncIntervalMs ?? 30_000;
    if (every > 0) {
      this.syncTimer = setInterval(() => {
        this.sync().catch((err: Error) => this.options.log?.(`stream consumers: ${err.message}`));
      }, every);
      this.syncTimer.unref();
    }
  }

  get started(): boolean {
    return this.nc !== null;
  }

  /** Starts consumers declared since the last call and stops those no longer declared (or changed). */
  async sync(): Promise<void> {
    if (!this.nc || this.closed) return;
    const wanted = new Map<string, { instanceId: string; def: ConsumerDef }>();
    for (const instance of await this.options.store.listInstances())
      for (const def of instance.definition.consumers ?? []) wanted.set(`${instance.id}\u0000${def.name}`, { instanceId: instance.id, def });
    for (const [key, r] of this.running) {
      const w = wanted.get(key);
      if (!w || JSON.stringify(w.def) !== r.definition) await this.stop(key);
    }
    for (const [key, { instanceId, def }] of wanted) if (!this.running.has(key)) await this.begin(key, instanceId, def);
  }

  private async begin(key: string, instanceId: string, def: ConsumerDef): Promise<void> {
    const durable = def.durable ?? `kindred-${instanceId}-${def.name}`;
    const r: Running = {
      definition: JSON.stringify(def),
      status: {
        instanceId,
        name: def.name,
        subject: def.subject,
        stream: def.stream ?? null,
        durable,
        state: 'starting',
        error: null,
        received: 0,
        written: 0,
        replayed: 0,
        rejected: 0,
        retried: 0,
        rejects: [],
      },
    };
    this.running.set(key, r);
    try {
      const nc = this.nc!;
      const jsm = await jetstreamManager(nc);
      const stream = def.stream ?? (await jsm.streams.find(def.subject));
      r.status.stream = stream;
      try {
        await jsm.consumers.info(stream, durable);
      } catch {
        await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: def.subject, ack_wait: 30_000_000_000 });
      }
      const consumer = await jetstream(nc).consumers.get(stream, durable);
      r.info = () => consumer.info(false);
      r.messages = await consumer.consume({ max_messages: MAX_IN_FLIGHT });
      r.status.state = 'running';
      r.done = this.loop(r, instanceId, def);
    } catch (err) {
      r.status.state = 'failed';
      r.status.error = (err as Error).message;
      this.options.log?.(`consumer ${instanceId}/${def.name}: ${(err as Error).message}`);
    }
  }

  private async loop(r: Running, instanceId: string, def: ConsumerDef): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    try {
      for await (const m of r.messages!) {
        const p = this.handle(r, instanceId, def, m)
          .catch(() => {
            // An unexpected failure (the store could not be read): not stored, delivered again later.
            r.status.retried++;
            m.nak(1000);
          })
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
        if (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
      }
    } catch (err) {
      if (r.status.state === 'running') {
        r.status.state = 'failed';
        r.status.error = (err as Error).message;
      }
    }
    await Promise.all(inFlight);
  }

  private reject(r: Running, m: JsMsg, step: string, reason: string): void {
    r.status.rejected++;
    r.status.rejects.push({ at: new Date().toISOString(), sequence: m.seq, subject: m.subject, step, reason, payload: m.string().slice(0, 1000) });
    if (r.status.rejects.length > MAX_REJECTS_KEPT) r.status.rejects.shift();
    m.term();
  }

  private async handle(r: Running, instanceId: string, def: ConsumerDef, m: JsMsg): Promise<void> {
    r.status.received++;
    const { store, catalog, writes } = this.options;
    let payload: unknown;
    try {
      payload = JSON.parse(m.string(), (k, v) => (k === '__proto__' ? undefined : v));
    } catch (err) {
      return this.reject(r, m, 'parse', `the message is not valid JSON: ${(err as Error).message}`);
    }
    let entry;
    try {
      entry = await catalog.require(instanceId);
    } catch (err) {
      return this.reject(r, m, 'instance', (err as Error).message);
    }
    let mapping;
    try {
      mapping = compiledMapping(entry, 'consumer', def);
    } catch (err) {
      return this.reject(r, m, 'mapping definition', (err as Error).message);
    }
    const mapped = mapping.applyAll(payload);
    if (!mapped.ok) return this.reject(r, m, mapped.step, mapped.message);
    // A redelivered message has the same content, so the content identifies it (JetStream's own
    // Nats-Msg-Id window already drops a producer's duplicate publishes).
    const ctx = { instanceId, caller: `consumer:${def.name}`, now: Date.now() };
    const list = [];
    for (const [i, record] of mapped.records.entries()) {
      const outcome = await mappedWrite(entry, store, ctx, record, [instanceId, 'consumer', def.name, canonicalJson(payload), ...(mapping.each ? [String(i)] : [])]);
      if (!outcome.ok) return this.reject(r, m, mapping.each ? `each[${i}].${outcome.step}` : outcome.step, outcome.message);
      list.push(outcome.write);
    }
    let results;
    try {
      results = await writes.submitAll(list);
    } catch {
      // Not stored: let NATS deliver it again later.
      r.status.retried++;
      m.nak(1000);
      return;
    }
    for (const result of results) {
      if (result.status === 'customerNotFound') return this.reject(r, m, 'write', `customer '${result.customerId}' does not exist`);
      if (result.status === 'conflict') return this.reject(r, m, 'write', `activity '${result.activityId}' already exists with different content`);
    }
    if (results.length && results.every((x) => x.status === 'replayed')) r.status.replayed++;
    else r.status.written++;
    m.ack();
  }

  private async stop(key: string): Promise<void> {
    const r = this.running.get(key);
    if (!r) return;
    this.running.delete(key);
    r.status.state = 'stopped';
    try {
      await r.messages?.close();
    } catch {
      // Already closed with the connection.
    }
    await r.done;
  }

  /** Status of the consumers of an instance, with their lag read from NATS. */
  async status(instanceId: string): Promise<ConsumerStatus[]> {
    const out: ConsumerStatus[] = [];
    for (const r of this.running.values()) {
      if (r.status.instanceId !== instanceId) continue;
      let lag: number | null = null;
      if (r.info && r.status.state === 'running') {
        try {
          const info = await r.info();
          lag = info.num_pending + info.num_ack_pending;
        } catch {
          lag = null;
        }
      }
      out.push({ ...r.status, rejects: [...r.status.rejects], lag });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Counters of every consumer (for telemetry). */
  counters(): { instanceId: string; name: string; counters: ConsumerCounters }[] {
    return [...this.running.values()].map((r) => {
      const { received, written, replayed, rejected, retried } = r.status;
      return { instanceId: r.status.instanceId, name: r.status.name, counters: { received, written, replayed, rejected, retried } };
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.syncTimer) clearInterval(this.syncTimer);
    for (const key of [...this.running.keys()]) await this.stop(key);
    if (this.nc) {
      const nc = this.nc;
      this.nc = null;
      await nc.drain().catch(() => nc.close());
    }
  }
}
