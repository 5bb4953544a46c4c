import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { Value } from 'typebox/value';
import { InstanceSchema } from '../../src/config/schema.js';
import { generateSyntheticSources, type GenerateResult } from '../../src/synthetic/generate.js';

const RECORDS = 3000;
const DATA_FILES = [
  'eCommerce/eCommerceContacts.csv',
  'eCommerce/eCommercePurchases.csv',
  'Loyalty/loyCustomers.csv',
  'Website/webUsers.jsonl',
  'Website/webReviews.jsonl',
  'truth.csv',
  'instance.yaml',
];

let tmp: string;
let result: GenerateResult;
let progressCalls: [number, number][] = [];

/** Minimal RFC 4180 reader (quoted fields, doubled quotes, commas inside quotes). */
function parseCsv(text: string): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  const [header, ...data] = rows;
  for (const r of data) assert.equal(r.length, header.length, `CSV row has ${r.length} fields, header has ${header.length}: ${r.join('|')}`);
  return data.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

function parseJsonl(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function readText(dir: string, rel: string): Promise<string> {
  return readFile(path.join(dir, rel), 'utf8');
}

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'kindred-gen-'));
  result = await generateSyntheticSources({
    outDir: path.join(tmp, 'a'),
    records: RECORDS,
    onProgress: (done, total) => progressCalls.push([done, total]),
  });
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('writes the requested number of customer records and reports them', async () => {
  const dir = path.join(tmp, 'a');
  assert.equal(result.customerRecords, RECORDS);
  assert.deepEqual(
    result.files.map((f) => path.relative(dir, f).split(path.sep).join('/')),
    DATA_FILES,
  );
  assert.equal(result.instanceFile, path.join(dir, 'instance.yaml'));
  assert.equal(result.truthFile, path.join(dir, 'truth.csv'));

  const contacts = parseCsv(await readText(dir, 'eCommerce/eCommerceContacts.csv'));
  const loyalty = parseCsv(await readText(dir, 'Loyalty/loyCustomers.csv'));
  const web = parseJsonl(await readText(dir, 'Website/webUsers.jsonl'));
  assert.equal(contacts.length + loyalty.length + web.length, RECORDS);
  // Rough shares: every system is well represented.
  for (const n of [contacts.length, loyalty.length, web.length]) assert.ok(n > RECORDS * 0.15, `system too small: ${n}`);
  assert.ok(result.people > RECORDS / 3 && result.people < RECORDS, `people = ${result.people}`);

  const purchases = parseCsv(await readText(dir, 'eCommerce/eCommercePurchases.csv'));
  const reviews = parseJsonl(await readText(dir, 'Website/webReviews.jsonl'));
  assert.equal(purchases.length + reviews.length, result.activityRecords);
  assert.ok(result.activityRecords > 0);

  assert.ok(progressCalls.length > 0, 'onProgress called');
  assert.deepEqual(progressCalls.at(-1), [RECORDS, RECORDS]);

  // Columns and formats.
  assert.deepEqual(Object.keys(contacts[0]), ['ContactId', 'FirstName', 'LastName', 'FullName', 'Email', 'Phone', 'Street', 'City', 'PostalCode', 'Country', 'BirthDate', 'UpdatedAt']);
  assert.deepEqual(Object.keys(loyalty[0]), ['LoyaltyId', 'Name', 'EMail', 'Mobile', 'ZipCode', 'City', 'Tier', 'JoinedOn', 'LastUpdated']);
  assert.deepEqual(Object.keys(web[0]), ['UserId', 'DisplayName', 'Email', 'PhoneNumber', 'PostCode', 'CreatedAt']);
  assert.deepEqual(Object.keys(purchases[0]), ['PurchaseId', 'ContactId', 'PurchasedOn', 'ProductName', 'Quantity', 'TotalPrice']);
  assert.deepEqual(Object.keys(reviews[0]), ['ReviewId', 'UserId', 'ReviewedAt', 'ProductName', 'Rating', 'Text']);
  for (const c of contacts) {
    assert.match(c.UpdatedAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.ok(c.BirthDate === '' || /^\d{4}-\d{2}-\d{2}$/.test(c.BirthDate), c.BirthDate);
    assert.ok(c.UpdatedAt < '2026-01-01', 'dates before the fixed base date');
  }
  // Realism: some "Last, First" names in Loyalty, non-ASCII names, varied phone formats.
  assert.ok(loyalty.some((r) => /^[^,]+, [^,]+$/.test(r.Name.trim())));
  assert.ok(contacts.some((r) => /[^\x00-\x7f]/.test(r.FullName)));
  assert.ok(contacts.some((r) => r.Phone.startsWith('(')) && contacts.some((r) => r.Phone.startsWith('+1')));
  assert.ok(contacts.some((r) => r.Email === '') && contacts.some((r) => r.Phone === ''));
});

test('truth.csv covers exactly the customer records', async () => {
  const dir = path.join(tmp, 'a');
  const truthText = await readText(dir, 'truth.csv');
  assert.ok(truthText.startsWith('dataSource,entity,key,personId\n'));
  const truth = parseCsv(truthText);
  assert.equal(truth.length, RECORDS);

  const expected = new Set<string>();
  for (const r of parseCsv(await readText(dir, 'eCommerce/eCommerceContacts.csv'))) expected.add(`eCommerce|eCommerceContacts|${r.ContactId}`);
  for (const r of parseCsv(await readText(dir, 'Loyalty/loyCustomers.csv'))) expected.add(`Loyalty|loyCustomers|${r.LoyaltyId}`);
  for (const r of parseJsonl(await readText(dir, 'Website/webUsers.jsonl'))) expected.add(`Website|webUsers|${String(r.UserId)}`);
  assert.equal(expected.size, RECORDS, 'primary keys are unique');

  const seen = new Set(truth.map((t) => `${t.dataSource}|${t.entity}|${t.key}`));
  assert.equal(seen.size, RECORDS, 'one truth line per record');
  assert.deepEqual([...seen].sort(), [...expected].sort());
  assert.equal(new Set(truth.map((t) => t.personId)).size, result.people);
});

test('duplicates exist within a system and across systems', async () => {
  const truth = parseCsv(await readText(path.join(tmp, 'a'), 'truth.csv'));
  const perEntity = new Map<string, Map<string, number>>();
  const entitiesOfPerson = new Map<string, Set<string>>();
  for (const t of truth) {
    const counts = perEntity.get(t.entity) ?? new Map<string, number>();
    counts.set(t.personId, (counts.get(t.personId) ?? 0) + 1);
    perEntity.set(t.entity, counts);
    const set = entitiesOfPerson.get(t.personId) ?? new Set<string>();
    set.add(t.entity);
    entitiesOfPerson.set(t.personId, set);
  }
  for (const entity of ['eCommerceContacts', 'loyCustomers', 'webUsers']) {
    const counts = perEntity.get(entity);
    assert.ok(counts, entity);
    const records = [...counts.values()].reduce((a, b) => a + b, 0);
    const duplicates = [...counts.values()].reduce((a, b) => a + b - 1, 0);
    assert.ok(duplicates > 0, `${entity} has duplicates`);
    const share = duplicates / records;
    assert.ok(share > 0.03 && share < 0.15, `${entity} duplicate share ${share}`);
  }
  const multiSystem = [...entitiesOfPerson.values()].filter((s) => s.size > 1).length;
  assert.ok(multiSystem > result.people * 0.2, `people in several systems: ${multiSystem}`);
  assert.ok([...entitiesOfPerson.values()].some((s) => s.size === 3));
});

test('activity foreign keys refer to existing customer keys', async () => {
  const dir = path.join(tmp, 'a');
  const contactIds = new Set(parseCsv(await readText(dir, 'eCommerce/eCommerceContacts.csv')).map((r) => r.ContactId));
  const userIds = new Set(parseJsonl(await readText(dir, 'Website/webUsers.jsonl')).map((r) => r.UserId));
  const purchases = parseCsv(await readText(dir, 'eCommerce/eCommercePurchases.csv'));
  const reviews = parseJsonl(await readText(dir, 'Website/webReviews.jsonl'));
  assert.ok(purchases.length > 0 && reviews.length > 0);
  for (const p of purchases) assert.ok(contactIds.has(p.ContactId), `purchase ${p.PurchaseId} -> ${p.ContactId}`);
  for (const r of reviews) assert.ok(userIds.has(r.UserId), `review ${String(r.ReviewId)} -> ${String(r.UserId)}`);
  assert.equal(new Set(purchases.map((p) => p.PurchaseId)).size, purchases.length);
  assert.equal(new Set(reviews.map((r) => r.ReviewId)).size, reviews.length);
});

test('instance.yaml parses and validates against InstanceSchema', async () => {
  const doc: unknown = parseYaml(await readText(path.join(tmp, 'a'), 'instance.yaml'));
  const errors = [...Value.Errors(InstanceSchema, doc)];
  assert.deepEqual(errors, []);
  assert.ok(Value.Check(InstanceSchema, doc));
  const def = doc as { id: string; dataSources: { name: string; entities: { name: string; path: string }[] }[]; unification: { matching: { entity: string }[] } };
  assert.equal(def.id, 'generated');
  assert.deepEqual(
    def.dataSources.map((d) => [d.name, d.entities.map((e) => e.name)]),
    [
      ['eCommerce', ['eCommerceContacts', 'eCommercePurchases']],
      ['Loyalty', ['loyCustomers']],
      ['Website', ['webUsers', 'webReviews']],
    ],
  );
  assert.deepEqual(
    def.unification.matching.map((m) => m.entity),
    ['eCommerce.eCommerceContacts', 'Loyalty.loyCustomers', 'Website.webUsers'],
  );
  for (const ds of def.dataSources) for (const e of ds.entities) assert.ok(DATA_FILES.includes(e.path), e.path);
});

test('same seed gives identical bytes, different seed gives different data', async () => {
  const again = await generateSyntheticSources({ outDir: path.join(tmp, 'b'), records: RECORDS });
  const other = await generateSyntheticSources({ outDir: path.join(tmp, 'c'), records: RECORDS, seed: 43 });
  assert.equal(again.customerRecords, RECORDS);
  assert.equal(other.customerRecords, RECORDS);
  let differing = 0;
  for (const rel of DATA_FILES) {
    const a = await readFile(path.join(tmp, 'a', rel));
    const b = await readFile(path.join(tmp, 'b', rel));
    const c = await readFile(path.join(tmp, 'c', rel));
    assert.ok(a.equals(b), `${rel} differs between runs with the same seed`);
    if (!a.equals(c)) differing++;
  }
  assert.ok(differing >= DATA_FILES.length - 1, `only ${differing} files differ with another seed`);
});

test('the instance id can be chosen and bad options are rejected', async () => {
  const r = await generateSyntheticSources({ outDir: path.join(tmp, 'd'), records: 10, instanceId: 'my-test', schedule: { cron: '0 3 * * *' }, filterIndex: ['City', 'Email', 'LastName'] });
  assert.equal(r.customerRecords, 10);
  const doc = parseYaml(await readFile(r.instanceFile, 'utf8')) as { id: string; schedule: { cron: string } };
  assert.ok(Value.Check(InstanceSchema, doc));
  assert.equal(doc.id, 'my-test');
  assert.equal(doc.schedule.cron, '0 3 * * *');
  await assert.rejects(generateSyntheticSources({ outDir: path.join(tmp, 'e'), records: 10, instanceId: 'Bad Id' }));
  await assert.rejects(generateSyntheticSources({ outDir: path.join(tmp, 'e'), records: -1 }));
});

test('the bundled demo set is present, valid and reproducible', async () => {
  const demo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples/demo');
  const doc = parseYaml(await readFile(path.join(demo, 'instance.yaml'), 'utf8')) as { id: string; name: string; schedule?: { cron: string } };
  assert.deepEqual([...Value.Errors(InstanceSchema, doc)], []);
  assert.equal(doc.id, 'demo');
  assert.equal(doc.name, 'Kindred demo');
  assert.equal(doc.schedule?.cron, '0 3 * * *');
  const truth = parseCsv(await readFile(path.join(demo, 'truth.csv'), 'utf8'));
  assert.equal(truth.length, 600);

  // Same options as scripts/make-demo.ts: the committed files must be what the generator produces.
  const regenerated = path.join(tmp, 'demo');
  await generateSyntheticSources({ outDir: regenerated, records: 600, seed: 7, instanceId: 'demo', instanceName: 'Kindred demo', schedule: { cron: '0 3 * * *' }, filterIndex: ['City', 'Email', 'LastName'] });
  for (const rel of DATA_FILES) {
    const committed = await readFile(path.join(demo, rel));
    const fresh = await readFile(path.join(regenerated, rel));
    assert.ok(committed.equals(fresh), `examples/demo/${rel} is stale: run node --import tsx scripts/make-demo.ts`);
  }
});
