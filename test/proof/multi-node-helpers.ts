// What the multi-node proofs share: JSON calls to a node over real HTTP, and an open /changes stream
// read event by event.
import assert from 'node:assert/strict';

export interface Job {
  jobId: string;
  jobStatus: string;
}

/** A JSON call to a node's API with a key (the cluster's administrator key by default). */
export async function api<T>(base: string, key: string, method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}/api${route}`, {
    method,
    headers: { 'Ocp-Apim-Subscription-Key': key, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

export interface ChangeEvent {
  /** The SSE event name: change, or reload (the node may have missed changes). */
  event: string;
  change: Record<string, unknown>;
  at: number;
}

/** An open /changes stream of an instance (of one customer when given): the events received, and a wait for more. */
export async function openChanges(base: string, key: string, instanceId: string, customerId?: string) {
  const controller = new AbortController();
  const query = customerId === undefined ? '' : `?customerId=${encodeURIComponent(customerId)}`;
  const res = await fetch(`${base}/api/instances/${instanceId}/changes${query}`, { headers: { 'Ocp-Apim-Subscription-Key': key }, signal: controller.signal });
  assert.equal(res.status, 200);
  const events: ChangeEvent[] = [];
  const waiters: (() => void)[] = [];
  let buffer = '';
  let connected!: () => void;
  const ready = new Promise<void>((r) => (connected = r));
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.startsWith(': connected')) connected();
          const data = /^data: (.*)$/m.exec(block);
          if (data) {
            const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
            events.push({ event, change: JSON.parse(data[1]) as Record<string, unknown>, at: Date.now() });
            waiters.splice(0).forEach((w) => w());
          }
        }
      }
    } catch {
      // Aborted by close().
    }
  })();
  await ready;
  return {
    events,
    /** Resolves when `n` events have arrived, rejects after `ms`. */
    async waitFor(n: number, ms: number): Promise<void> {
      const deadline = Date.now() + ms;
      while (events.length < n) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`${events.length} of ${n} change events within ${ms} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    close: () => controller.abort(),
  };
}

/** Calls `probe` until it returns true; returns the milliseconds it took, or fails after `ms`. */
export async function within(ms: number, what: string, probe: () => Promise<boolean>, everyMs = 50): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - start;
    if (Date.now() - start > ms) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
