// The Kindred client: `import { KindredClient } from 'kindred/client'`. Typed from the served
// OpenAPI document (openapi-types.ts), with retries on 429 and 503 honouring Retry-After, retries
// of idempotent requests on network errors, idempotent activity posts through ActivityId, and a
// buffered sender that groups events into $batch calls.
import { createHash } from 'node:crypto';
import { operations, type OperationId, type Queries, type Responses } from './openapi-types.js';

export { operations, type OperationId, type Queries, type Responses };

export type Job = Responses['Workflows_GetJob'];
export type KeyRing = Responses['Profile_GetKeyRing'];
export type BatchResult = Responses['Data_Batch'];
export type BatchItemResult = BatchResult['value'][number] & { index: number; status: number; activityId?: string; customerId?: string; error?: ErrorBody['error'] };
export type Page<T = Record<string, unknown>> = { '@odata.context': string; '@odata.count'?: number; '@odata.nextLink'?: string; value: T[] };
export type Activity = { ActivityId?: string; CustomerId?: string; ActivityTime?: string; ActivityType?: string; [attribute: string]: unknown };
export type ProfileChanges = Record<string, string | number | boolean | null>;

export interface ErrorBody {
  error: { code: string; message: string; target?: string; details?: { code: string; message: string; target?: string }[] };
}

/** An error answer of the server (the OData error shape), or a request that never got one. */
export class KindredError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly target?: string,
    readonly details?: ErrorBody['error']['details'],
  ) {
    super(message);
    this.name = 'KindredError';
  }
}

export interface RetryOptions {
  /** Attempts after the first (default 4). */
  retries?: number;
  /** First back-off when the server gives no Retry-After (ms, default 250; doubles each time). */
  baseDelayMs?: number;
  /** Longest wait between attempts, also for a Retry-After (ms, default 30 s). */
  maxDelayMs?: number;
}

export interface ClientOptions extends RetryOptions {
  /** Server address, e.g. http://localhost:3000 */
  url: string;
  /** API key (sent as Ocp-Apim-Subscription-Key). */
  key: string;
  /** Name of the calling system (sent as `caller` on writes; telemetry groups by it). */
  caller?: string;
  fetch?: typeof fetch;
  /** Called before each retry (logging). */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
}

export interface WriteOptions {
  /** RFC 3339 expiry of the real-time data (default: the server's, 4 h for profiles, 30 d for activities). */
  validUntil?: string;
}

export interface ODataOptions {
  filter?: string;
  select?: string | string[];
  orderby?: string | string[];
  top?: number;
  skip?: number;
  count?: boolean;
  expand?: string | string[];
  search?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Seconds or an HTTP date, as milliseconds to wait. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  return `{${Object.keys(value)
    .sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
    .join(',')}}`;
}

/** The ActivityId the client gives an activity without one: the same content gives the same id. */
export function activityIdFor(activity: Activity): string {
  return `c-${createHash('sha256').update(canonical(activity)).digest('hex').slice(0, 32)}`;
}

function list(v: string | string[] | undefined): string | undefined {
  return v === undefined ? undefined : Array.isArray(v) ? v.join(',') : v;
}

type Params = Record<string, string>;
type Query = Record<string, string | number | boolean | undefined>;

interface CallOptions {
  params?: Params;
  query?: Query;
  body?: unknown;
  contentType?: string;
  /** Safe to send again after a network error (the server may have processed the first). */
  idempotent: boolean;
}

export class KindredClient {
  private readonly base: string;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: ClientOptions) {
    if (!options.url) throw new Error('KindredClient: url is required');
    if (!options.key) throw new Error('KindredClient: key is required');
    this.base = options.url.replace(/\/+$/, '');
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  private url(path: string, params: Params = {}, query: Query = {}): string {
    const p = path.replace(/\{(\w+)\}/g, (_, name: string) => {
      if (params[name] === undefined) throw new Error(`missing path parameter ${name}`);
      return encodeURIComponent(params[name]);
    });
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
    const text = q.toString();
    return `${this.base}${p}${text ? `?${text}` : ''}`;
  }

  /** Sends a request, retrying 429 / 503 (after Retry-After) and, when idempotent, network errors. */
  async request<T>(method: string, url: string, o: Omit<CallOptions, 'params' | 'query'>): Promise<{ status: number; body: T; headers: Headers }> {
    const retries = this.options.retries ?? 4;
    const base = this.options.baseDelayMs ?? 250;
    const max = this.options.maxDelayMs ?? 30_000;
    const headers: Record<string, string> = { 'Ocp-Apim-Subscription-Key': this.options.key, accept: 'application/json' };
    let payload: string | undefined;
    if (o.body !== undefined) {
      payload = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
      headers['content-type'] = o.contentType ?? 'application/json';
    }
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.fetch(url, { method, headers, body: payload });
      } catch (err) {
        if (!o.idempotent || attempt >= retries) throw new KindredError(0, 'NetworkError', `${method} ${url}: ${(err as Error).message}`);
        const delay = Math.min(max, base * 2 ** attempt);
        this.options.onRetry?.({ attempt: attempt + 1, delayMs: delay, reason: (err as Error).message });
        await sleep(delay);
        continue;
      }
      if ((res.status === 429 || res.status === 503) && attempt < retries) {
        await res.arrayBuffer().catch(() => undefined);
        const delay = Math.min(max, retryAfterMs(res.headers.get('retry-after')) ?? base * 2 ** attempt);
        this.options.onRetry?.({ attempt: attempt + 1, delayMs: delay, reason: `HTTP ${res.status}` });
        await sleep(delay);
        continue;
      }
      const text = await res.text();
      let body: unknown = undefined;
      if (text) {
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
      }
      if (res.status >= 400) {
        const e = (body as ErrorBody | undefined)?.error;
        throw new KindredError(res.status, e?.code ?? `HTTP${res.status}`, e?.message ?? `${method} ${url}: HTTP ${res.status}`, e?.target, e?.details);
      }
      return { status: res.status, body: body as T, headers: res.headers };
    }
  }

  private async call<Id extends OperationId>(id: Id, o: CallOptions): Promise<{ status: number; body: Responses[Id] }> {
    const op = operations[id];
    return this.request<Responses[Id]>(op.method, this.url(op.path, o.params, o.query), o);
  }

  private writeQuery(w: WriteOptions = {}): Query {
    return { validUntil: w.validUntil, caller: this.options.caller };
  }

  // Real-time writes

  /** PATCH Customer/{id}: changes attributes of a unified profile until validUntil. */
  async updateProfile(instanceId: string, customerId: string, changes: ProfileChanges, w?: WriteOptions): Promise<void> {
    await this.call('Data_UpdateProfile', { params: { instanceId, entityName: 'Customer', entityId: customerId }, query: this.writeQuery(w), body: changes, idempotent: true });
  }

  /**
   * Publishes an activity: a UnifiedActivity (default) or a record of a source activity entity
   * (`entity: 'DataSource_Entity'`). A UnifiedActivity without ActivityId gets one derived from its
   * content, so a retry is answered as a replay instead of creating a second activity.
   */
  async postActivity(instanceId: string, activity: Activity, o: WriteOptions & { entity?: string } = {}): Promise<{ created: boolean; activity: Activity }> {
    const entity = o.entity ?? 'UnifiedActivity';
    const body = entity === 'UnifiedActivity' && !activity.ActivityId ? { ...activity, ActivityId: activityIdFor(activity) } : activity;
    const res = await this.call('Data_CreateActivity', { params: { instanceId, entityName: entity }, query: this.writeQuery(o), body, idempotent: true });
    return { created: res.status === 201, activity: res.body as Activity };
  }

  /**
   * Up to 10,000 items in one call: activities of `entity`, or profile updates
   * ({CustomerId, changes}) when entity is Customer. One result per item, in order.
   */
  async batch(instanceId: string, entity: string, items: readonly unknown[], w?: WriteOptions): Promise<BatchResult> {
    const body = entity === 'UnifiedActivity' ? items.map((a) => (isRecord(a) && !a.ActivityId ? { ...a, ActivityId: activityIdFor(a) } : a)) : items;
    // Each item is idempotent (ActivityId, or a profile update setting the same values).
    return (await this.call('Data_Batch', { params: { instanceId, entityName: entity }, query: this.writeQuery(w), body, idempotent: true })).body;
  }

  /** A sender that groups items into $batch calls (flushes on size and time). */
  sender(instanceId: string, entity: string, o: SenderOptions = {}): BufferedSender {
    return new BufferedSender(this, instanceId, entity, o);
  }

  // Reads

  /** One page of Customer, UnifiedActivity or AlternateKey with OData options. */
  async list<T = Record<string, unknown>>(instanceId: string, entity: string, o: ODataOptions = {}): Promise<Page<T>> {
    const query: Query = {
      $filter: o.filter,
      $select: list(o.select),
      $orderby: list(o.orderby),
      $top: o.top,
      $skip: o.skip,
      $count: o.count ? 'true' : undefined,
      $expand: list(o.expand),
      $search: o.search,
    };
    return (await this.call('Data_List', { params: { instanceId, entityName: entity }, query, idempotent: true })).body as Page<T>;
  }

  /** Every record, following @odata.nextLink page by page. */
  async *listAll<T = Record<string, unknown>>(instanceId: string, entity: string, o: ODataOptions = {}): AsyncGenerator<T> {
    let page = await this.list<T>(instanceId, entity, o);
    for (;;) {
      yield* page.value;
      const next = page['@odata.nextLink'];
      if (!next) return;
      // The link names the host the server saw; keep this client's base (a proxy may sit between).
      const u = new URL(next);
      page = (await this.request<Page<T>>('GET', `${this.base}${u.pathname}${u.search}`, { idempotent: true })).body;
    }
  }

  /** One Customer (with real-time updates) or UnifiedActivity by id. */
  async get<T = Record<string, unknown>>(instanceId: string, entity: 'Customer' | 'UnifiedActivity', id: string, o: { select?: string | string[]; expand?: string | string[] } = {}): Promise<T> {
    const query = { $select: list(o.select), $expand: list(o.expand) };
    return (await this.call('Data_Get', { params: { instanceId, entityName: entity, entityId: id }, query, idempotent: true })).body as T;
  }

  /** The profile with a source key, and all its source keys. */
  async keyRing(instanceId: string, k: { dataSourceName: string; entityName: string; key: string }): Promise<KeyRing> {
    return (await this.call('Profile_GetKeyRing', { params: { instanceId }, query: k, idempotent: true })).body;
  }

  /** Metadata of an entity: its attributes with Edm types. */
  async entity(instanceId: string, entityName: string): Promise<{ name: string; attributes: { name: string; dataType: string }[]; [key: string]: unknown }> {
    return (await this.call('Entities_Get', { params: { instanceId, entityName }, idempotent: true })).body as never;
  }

  // Refresh jobs

  async startRefresh(instanceId: string): Promise<Job> {
    return (await this.call('Workflows_StartJob', { params: { instanceId, workflowName: 'main' }, idempotent: false })).body;
  }
  async getJob(instanceId: string, jobId: string): Promise<Job> {
    return (await this.call('Workflows_GetJob', { params: { instanceId, workflowName: 'main', jobId }, idempotent: true })).body;
  }
  async listJobs(instanceId: string): Promise<Job[]> {
    return (await this.call('Workflows_ListJobs', { params: { instanceId, workflowName: 'main' }, idempotent: true })).body;
  }
  async cancelJob(instanceId: string, jobId: string): Promise<Job> {
    return (await this.call('Workflows_CancelJob', { params: { instanceId, workflowName: 'main', jobId }, idempotent: true })).body;
  }
  /** Polls a job until it ends. */
  async waitForJob(instanceId: string, jobId: string, o: { intervalMs?: number; timeoutMs?: number } = {}): Promise<Job> {
    const end = Date.now() + (o.timeoutMs ?? 10 * 60_000);
    for (;;) {
      const job = await this.getJob(instanceId, jobId);
      if (!['queued', 'running'].includes(job.jobStatus)) return job;
      if (Date.now() > end) throw new KindredError(0, 'Timeout', `job ${jobId} is still ${job.jobStatus}`);
      await sleep(o.intervalMs ?? 500);
    }
  }

  // Change feed

  /** The live change feed (server-sent events) until `signal` aborts. */
  async *changes(instanceId: string, o: { customerId?: string; signal?: AbortSignal } = {}): AsyncGenerator<Record<string, unknown>> {
    const url = this.url('/api/instances/{instanceId}/changes', { instanceId }, { customerId: o.customerId });
    const res = await this.fetch(url, { headers: { 'Ocp-Apim-Subscription-Key': this.options.key, accept: 'text/event-stream' }, signal: o.signal });
    if (res.status >= 400 || !res.body) {
      const body = (await res.json().catch(() => undefined)) as ErrorBody | undefined;
      throw new KindredError(res.status, body?.error.code ?? `HTTP${res.status}`, body?.error.message ?? `change feed: HTTP ${res.status}`);
    }
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
          }
          if (event === 'change' && data.length) yield JSON.parse(data.join('\n')) as Record<string, unknown>;
        }
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError') throw err;
    }
  }
}

function isRecord(v: unknown): v is Activity {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface SenderOptions extends WriteOptions {
  /** Items per $batch call (default 1000, at most 10,000). */
  maxItems?: number;
  /** Longest an item waits before its batch is sent (ms, default 1000). */
  maxWaitMs?: number;
  /** Calls in flight at once (default 2). */
  concurrency?: number;
  /** Each item's result (status 0 with an error when the call failed after its retries). */
  onResult?: (result: BatchItemResult, item: unknown) => void;
}

export const MAX_BATCH_ITEMS = 10_000;

/**
 * Groups items into $batch calls. `await add(item)` returns once the item is queued (it waits
 * when too many calls are in flight); its `result` resolves once its batch is answered.
 */
export class BufferedSender {
  private buffer: { item: unknown; resolve: (r: BatchItemResult) => void }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;
  readonly totals = { sent: 0, succeeded: 0, failed: 0, calls: 0 };
  private readonly maxItems: number;

  constructor(
    private readonly client: KindredClient,
    private readonly instanceId: string,
    private readonly entity: string,
    private readonly o: SenderOptions,
  ) {
    this.maxItems = Math.min(MAX_BATCH_ITEMS, Math.max(1, o.maxItems ?? 1000));
  }

  /** Queues an item; waits when too many calls are in flight (back-pressure). */
  async add(item: unknown): Promise<{ result: Promise<BatchItemResult> }> {
    if (this.closed) throw new Error('the sender is closed');
    const result = new Promise<BatchItemResult>((resolve) => this.buffer.push({ item, resolve }));
    if (this.buffer.length >= this.maxItems) await this.send();
    else if (!this.timer) this.timer = setTimeout(() => void this.send(), this.o.maxWaitMs ?? 1000);
    return { result };
  }

  private async send(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const concurrency = this.o.concurrency ?? 2;
    while (this.inFlight.size >= concurrency) await Promise.race(this.inFlight);
    if (!this.buffer.length) return;
    const group = this.buffer.splice(0, this.maxItems);
    const p = this.deliver(group).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  private async deliver(group: { item: unknown; resolve: (r: BatchItemResult) => void }[]): Promise<void> {
    this.totals.calls++;
    let results: BatchItemResult[];
    try {
      const res = await this.client.batch(this.instanceId, this.entity, group.map((g) => g.item), this.o);
      results = res.value as BatchItemResult[];
    } catch (err) {
      const e = err as KindredError;
      results = group.map((_, index) => ({ index, status: e.status ?? 0, error: { code: e.code ?? 'Error', message: e.message } }));
    }
    group.forEach((g, i) => {
      const r = results[i];
      this.totals.sent++;
      if (r.status < 400 && r.status > 0) this.totals.succeeded++;
      else this.totals.failed++;
      this.o.onResult?.(r, g.item);
      g.resolve(r);
    });
  }

  /** Sends what is buffered and waits for every call in flight. */
  async flush(): Promise<void> {
    while (this.buffer.length) await this.send();
    await Promise.all(this.inFlight);
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }
}
