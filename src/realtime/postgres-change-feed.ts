// The change feed of several nodes on one PostgreSQL database. Each real-time group announces its
// changes with NOTIFY inside its own transaction (storage/postgres/realtime-writer.ts), so every
// node hears them after the commit, and never a group that rolled back. Each node keeps one
// connection that LISTENs on the schema's channel and hands what the other nodes wrote to its own
// subscribers; its own writes reach them at once through the write queue (publish), and the echo
// of its own notifications is skipped by node id, so nothing is delivered twice.
//
// The same connection LISTENs on the schema's cluster event channel (definitions and keys changed
// by any node: domain/cluster-events.ts) and hands those to the node's ClusterEvents.
//
// NOTIFY is not a log: a node whose listening connection is down misses what was written meanwhile.
// It reconnects by itself and then tells its subscribers (onMissed: open /changes streams send a
// `reload` event) and its caches (a `resync` cluster signal) that they may have missed something.
import pg from 'pg';
import { decodeChangeMessage } from '../domain/changes.js';
import { decodeClusterEvent } from '../domain/cluster-events.js';
import { clusterEventChannel } from '../storage/postgres/coordination.js';
import { changeChannel } from '../storage/postgres/realtime-writer.js';
import { quoteIdentifier } from '../storage/postgres/store.js';
import { InProcessChangeFeed, type Change, type ChangeFeed, type ChangeListener } from './change-feed.js';
import type { ClusterEvents } from './cluster-events.js';

export interface PostgresChangeFeedOptions {
  connectionString: string;
  /** The store's schema (default: the connection's current schema). */
  schema?: string;
  /** The id the store announces this node's writes under (PostgresStoreOptions.nodeId). */
  nodeId: string;
  log?: (message: string) => void;
  /** First wait before reconnecting after the listening connection dropped (doubles up to 5 s). */
  reconnectMs?: number;
  /** Where the cluster events heard are handed (and `resync` after a reconnect). */
  events?: ClusterEvents;
}

const MAX_RECONNECT_MS = 5000;

export class PostgresChangeFeed implements ChangeFeed {
  private readonly local = new InProcessChangeFeed();
  private client: pg.Client | null = null;
  private closed = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryMs: number;
  /** Resolves when the listening connection is up (again). */
  private listening: Promise<void> | null = null;

  constructor(private readonly options: PostgresChangeFeedOptions) {
    this.retryMs = options.reconnectMs ?? 100;
  }

  /** Connects and listens; resolves once notifications are heard. Rejects if the first connection fails. */
  async start(): Promise<void> {
    this.listening ??= this.connect();
    await this.listening;
  }

  /** Writes committed by this node: its own subscribers, now (the other nodes hear the store's NOTIFY). */
  publish(changes: readonly Change[]): void {
    this.local.publish(changes);
  }

  subscribe(instanceId: string, customerId: string | undefined, listener: ChangeListener): () => void {
    return this.local.subscribe(instanceId, customerId, listener);
  }

  onMissed(listener: () => void): () => void {
    return this.local.onMissed(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
    await this.local.close();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      keepAlive: true,
      ...(this.options.schema ? { options: `-c search_path=${quoteIdentifier(this.options.schema)}` } : {}),
    });
    let dropped = false;
    const onDrop = (err?: Error) => {
      if (dropped) return;
      dropped = true;
      if (this.client === client) this.client = null;
      client.end().catch(() => {});
      if (this.closed) return;
      this.options.log?.(`change feed: the listening connection dropped${err ? ` (${err.message})` : ''}; reconnecting`);
      this.scheduleReconnect();
    };
    client.on('error', onDrop);
    client.on('end', () => onDrop());
    let changes = '';
    let events = '';
    client.on('notification', (n) => {
      if (!n.payload) return;
      if (n.channel === changes) {
        const message = decodeChangeMessage(n.payload);
        if (message && message.nodeId !== this.options.nodeId) this.local.publish(message.changes);
      } else if (n.channel === events) {
        const event = decodeClusterEvent(n.payload);
        if (event) this.options.events?.emit(event);
      }
    });
    try {
      await client.connect();
      const schema = this.options.schema ?? ((await client.query('SELECT current_schema() AS s')).rows[0].s as string);
      changes = changeChannel(schema);
      events = clusterEventChannel(schema);
      await client.query(`LISTEN ${quoteIdentifier(changes)}; LISTEN ${quoteIdentifier(events)}`);
    } catch (err) {
      dropped = true;
      await client.end().catch(() => {});
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.retryMs = this.options.reconnectMs ?? 100;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, MAX_RECONNECT_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.listening = this.connect().then(
        () => {
          if (this.closed) return;
          this.options.log?.('change feed: listening again; open feeds are told to reload');
          // Whatever was announced while the connection was down is lost: caches start over, feeds reload.
          this.options.events?.emit({ kind: 'resync' });
          this.local.missed();
        },
        (err: Error) => {
          this.options.log?.(`change feed: reconnect failed (${err.message}); retrying`);
          this.scheduleReconnect();
        },
      );
    }, wait);
    this.retryTimer.unref();
  }
}
