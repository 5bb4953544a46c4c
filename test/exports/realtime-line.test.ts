// The real-time line: real-time profile updates and activities never change enrichments or
// exports; a refresh that pulls the same data from the sources does.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { customerOf, REALTIME_FIXTURE, sleep, workspace, type Workspace } from '../api/helpers.js';

let ws: Workspace;
let bob: string;

const files = () => ({ csv: ws.read('out/customers.csv'), enrichment: ws.read('out/enrichment.jsonl'), activities: ws.read('out/activities.csv') });

async function enrichmentOfBob(): Promise<Record<string, unknown>> {
  const res = await ws.request('GET', ws.url(`/data/CustomerEnrichment/${bob}`), { key: ws.keys.viewer });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

async function enrichmentCollection(): Promise<unknown[]> {
  const res = await ws.request('GET', ws.url('/data/CustomerEnrichment'), { key: ws.keys.viewer, query: { $orderby: 'CustomerId' } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json().value;
}

async function runByHand(name: string): Promise<void> {
  const res = await ws.request('POST', ws.url(`/manage/exports/${name}/run`), { key: ws.keys.admin });
  assert.equal(res.statusCode, 202, res.body);
  const { runId } = res.json();
  for (let i = 0; i < 200; i++) {
    const run = (await ws.request('GET', ws.url(`/manage/exports/${name}/runs/${runId}`), { key: ws.keys.admin })).json();
    if (run.status !== 'running') return assert.equal(run.status, 'successful', run.error);
    await sleep(25);
  }
  assert.fail('the export run ended');
}

before(async () => {
  ws = await workspace({ definition: REALTIME_FIXTURE, copy: true });
  ws.append(
    'instance.yaml',
    `
exports:
  - { name: customers, entity: Customer, fields: [CustomerId, FullName, Email, Phone], target: { type: file, folder: out, format: csv } }
  - { name: enrichment, entity: CustomerEnrichment, target: { type: file, folder: out, format: jsonl } }
  - { name: activities, entity: UnifiedActivity, fields: [ActivityId, CustomerId, Title], target: { type: file, folder: out, format: csv } }
`,
  );
  await ws.apply();
  await ws.refresh();
  bob = await customerOf(ws, 'Shop', 'Contacts', 'C3');
});
after(() => ws?.close());

test('real-time updates and activities change neither enrichments nor exported files; a refresh with the same data does', async () => {
  const before = { files: files(), bob: await enrichmentOfBob(), all: await enrichmentCollection() };
  assert.equal(before.bob.EmailDomain, 'example.com');
  assert.equal(before.bob.EmailIsDisposable, false);
  assert.equal(before.bob.FullNameFirst, 'Bob');

  // Real-time: Bob's email, name and phone change, and he has a new activity.
  const patch = await ws.request('PATCH', ws.url(`/data/Customer/${bob}`), {
    body: { Email: 'bob@mailinator.com', FullName: 'Dr. Robert Stone', Phone: '+44 20 7946 0958' },
  });
  assert.equal(patch.statusCode, 204, patch.body);
  const post = await ws.request('POST', ws.url('/data/UnifiedActivity'), {
    body: { ActivityId: 'rt-1', CustomerId: bob, ActivityTime: '2026-11-01T10:00:00Z', ActivityType: 'PageView', Title: 'Viewed kettles' },
  });
  assert.equal(post.statusCode, 201, post.body);
  // The writes are visible to readers of Customer and UnifiedActivity…
  const customer = (await ws.request('GET', ws.url(`/data/Customer/${bob}`), { key: ws.keys.viewer, query: { $expand: 'CustomerEnrichment' } })).json();
  assert.equal(customer.Email, 'bob@mailinator.com');
  // …but not to enrichments, on the card's expansion or in the entity.
  assert.equal(customer.CustomerEnrichment.EmailDomain, 'example.com');
  assert.equal(customer.CustomerEnrichment.FullNameFirst, 'Bob');
  assert.deepEqual(await enrichmentOfBob(), before.bob);
  assert.deepEqual(await enrichmentCollection(), before.all);
  assert.equal((await ws.services.store.enrichment.of(ws.instanceId, bob))?.EmailDomain, 'example.com');
  // Exports run now (by hand) read the batch generation only: the files are byte for byte the same.
  for (const name of ['customers', 'enrichment', 'activities']) await runByHand(name);
  assert.deepEqual(files(), before.files);
  assert.ok(!files().activities.includes('rt-1'));
  // Real-time writes to computed entities are refused.
  const refused = await ws.request('PATCH', ws.url(`/data/CustomerEnrichment/${bob}`), { body: { EmailDomain: 'x.com' } });
  assert.equal(refused.statusCode, 405);

  // The sources now say what the real-time writes said; a refresh pulls it.
  ws.replace('contacts.csv', 'C3,Bob Stone,bob@example.com,+1 212 555 0100,New York,2026-01-05T10:00:00Z', 'C3,Dr. Robert Stone,bob@mailinator.com,+44 20 7946 0958,New York,2026-06-05T10:00:00Z');
  ws.replace('loyalty.csv', 'L1,"Stone, Bob",bob@example.com,212-555-0100', 'L1,"Stone, Bob",bob@mailinator.com,+44 20 7946 0958');
  await ws.refresh();
  const afterRefresh = await enrichmentOfBob();
  assert.equal(afterRefresh.EmailDomain, 'mailinator.com');
  assert.equal(afterRefresh.EmailIsDisposable, true);
  assert.equal(afterRefresh.EmailIsBusiness, false);
  assert.equal(afterRefresh.PhoneE164, '+442079460958');
  assert.equal(afterRefresh.PhoneCountry, 'GB');
  assert.equal(afterRefresh.FullNameTitle, 'Dr.');
  assert.equal(afterRefresh.FullNameFirst, 'Robert');
  const now = files();
  assert.notEqual(now.csv, before.files.csv);
  assert.ok(now.csv.includes(`${bob},Dr. Robert Stone,bob@mailinator.com,+44 20 7946 0958`));
  assert.notEqual(now.enrichment, before.files.enrichment);
  assert.ok(now.enrichment.includes('"EmailDomain":"mailinator.com"'));
  // The real-time activity is still not a batch activity: the sources do not have it.
  assert.ok(!now.activities.includes('rt-1'));
});
