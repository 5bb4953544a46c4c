// Expiry under load: a profile update and an activity whose validUntil is 4 seconds ahead are
// read by many concurrent clients over real HTTP, with real-time writes going on meanwhile. Every
// read answered before validUntil shows the real-time value; every read sent later than one second
// after validUntil shows the batch value (the activity is gone).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { customerOf, REALTIME_FIXTURE, workspace, type Workspace } from '../api/helpers.js';

let ws: Workspace;
let base: string;
before(async () => {
  ws = await workspace({ definition: REALTIME_FIXTURE });
  await ws.refresh();
  const address = await ws.app.listen({ port: 0, host: '127.0.0.1' });
  base = `${address}/api/instances/${ws.instanceId}`;
});
after(() => ws.close());

interface Read {
  sentAt: number;
  answeredAt: number;
  /** The override shows (profile) or the activity exists. */
  realtime: boolean;
}

test('reads under load switch back to the batch value within one second of validUntil', { timeout: 60_000 }, async (t) => {
  const bob = await customerOf(ws, 'Shop', 'Contacts', 'C3');
  const carla = await customerOf(ws, 'Shop', 'Contacts', 'C4');
  const viewer = { 'Ocp-Apim-Subscription-Key': ws.keys.viewer };
  const writer = { 'Ocp-Apim-Subscription-Key': ws.keys.contributor, 'content-type': 'application/json' };
  const getJson = async (url: string) => {
    const res = await fetch(url, { headers: viewer });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const batchCity = (await getJson(`${base}/data/Customer/${bob}`)).body.City;
  assert.equal(typeof batchCity, 'string');

  const validUntilMs = Date.now() + 4000;
  const validUntil = new Date(validUntilMs).toISOString();
  const patch = await fetch(`${base}/data/Customer/${bob}?validUntil=${encodeURIComponent(validUntil)}`, { method: 'PATCH', headers: writer, body: JSON.stringify({ City: 'Expiring City' }) });
  assert.equal(patch.status, 204, await patch.text());
  const post = await fetch(`${base}/data/UnifiedActivity?validUntil=${encodeURIComponent(validUntil)}`, {
    method: 'POST',
    headers: writer,
    body: JSON.stringify({ ActivityId: 'expiring-1', CustomerId: bob, ActivityTime: '2026-11-29T10:00:00Z', ActivityType: 'Call' }),
  });
  assert.equal(post.status, 201, await post.text());

  const reads: Record<'single' | 'filter' | 'cityFilter' | 'activity', Read[]> = { single: [], filter: [], cityFilter: [], activity: [] };
  // Until 2.5 s after validUntil and at least 5 reads of each kind sent later than validUntil + 1 s
  // (a slow, shared machine gets more time; never more than 30 s).
  const enoughLate = () => Object.values(reads).every((l) => l.filter((r) => r.sentAt > validUntilMs + 1000).length >= 5);
  const running = () => Date.now() < validUntilMs + 2500 || (!enoughLate() && Date.now() < validUntilMs + 30_000);
  const failures: string[] = [];
  const reader = async (kind: keyof typeof reads) => {
    while (running()) {
      const sentAt = Date.now();
      let url: string;
      if (kind === 'single') url = `${base}/data/Customer/${bob}`;
      else if (kind === 'filter') url = `${base}/data/Customer?$filter=${encodeURIComponent(`CustomerId eq '${bob}'`)}`;
      else if (kind === 'cityFilter') url = `${base}/data/Customer?$filter=${encodeURIComponent("City eq 'Expiring City'")}`;
      else url = `${base}/data/UnifiedActivity/expiring-1`;
      const { status, body } = await getJson(url);
      const answeredAt = Date.now();
      let realtime: boolean;
      if (kind === 'activity') {
        if (status !== 200 && status !== 404) failures.push(`${kind}: ${status}`);
        realtime = status === 200;
      } else {
        if (status !== 200) failures.push(`${kind}: ${status} ${JSON.stringify(body).slice(0, 200)}`);
        const rows = kind === 'single' ? [body] : ((body.value as Record<string, unknown>[]) ?? []);
        if (kind === 'cityFilter') realtime = rows.some((r) => r.CustomerId === bob);
        else {
          realtime = rows[0]?.City === 'Expiring City';
          if (!realtime && rows[0]?.City !== batchCity) failures.push(`${kind}: City ${JSON.stringify(rows[0]?.City)}`);
        }
      }
      reads[kind].push({ sentAt, answeredAt, realtime });
    }
  };
  // Load meanwhile: real-time writes to another customer.
  let n = 0;
  const writerLoop = async () => {
    while (running()) {
      const res = await fetch(`${base}/data/Customer/${carla}`, { method: 'PATCH', headers: writer, body: JSON.stringify({ City: `Load ${n++}` }) });
      if (res.status !== 204) failures.push(`load PATCH: ${res.status}`);
      await res.arrayBuffer();
    }
  };
  const kinds = ['single', 'single', 'single', 'single', 'single', 'single', 'filter', 'filter', 'filter', 'cityFilter', 'cityFilter', 'activity', 'activity'] as const;
  await Promise.all([...kinds.map((k) => reader(k)), writerLoop(), writerLoop(), writerLoop(), writerLoop()]);

  assert.deepEqual(failures.slice(0, 10), []);
  for (const [kind, list] of Object.entries(reads)) {
    const before = list.filter((r) => r.answeredAt < validUntilMs);
    const late = list.filter((r) => r.sentAt > validUntilMs + 1000);
    assert.ok(before.length >= 3 && late.length >= 5, `${kind}: enough reads on both sides (${before.length} before, ${late.length} after)`);
    const staleBefore = before.filter((r) => !r.realtime);
    assert.equal(staleBefore.length, 0, `${kind}: reads answered before validUntil that missed the real-time value`);
    const staleAfter = late.filter((r) => r.realtime);
    assert.equal(
      staleAfter.length,
      0,
      `${kind}: reads sent more than 1 s after validUntil still showing the real-time value (first sent ${staleAfter[0] ? staleAfter[0].sentAt - validUntilMs : 0} ms after)`,
    );
  }
  const total = Object.values(reads).reduce((s, l) => s + l.length, 0);
  const lastRealtime = Math.max(...Object.values(reads).flatMap((l) => l.filter((r) => r.realtime).map((r) => r.answeredAt)));
  t.diagnostic(`${total} reads, ${n} writes; the last read showing the real-time value was answered ${lastRealtime - validUntilMs} ms after validUntil`);
  assert.ok(n > 0, 'writes went on meanwhile');
});
