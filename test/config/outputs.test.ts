// The enrichment, exports and notifications sections: every mistake reported with file, path and
// line, and a good definition accepted.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseInstanceDefinition } from '../../src/config/load.js';
import { InstanceDefinitionError, type DefinitionProblem } from '../../src/config/errors.js';

const BASE = readFileSync(path.join(fileURLToPath(new URL('../fixtures/tiny/', import.meta.url)), 'instance.yaml'), 'utf8');
const FILE = 'defs/outputs.yaml';

function problems(extra: string): { text: string; problems: DefinitionProblem[] } {
  const text = `${BASE.trimEnd()}\n${extra}`;
  try {
    parseInstanceDefinition(text, FILE);
  } catch (err) {
    assert.ok(err instanceof InstanceDefinitionError, String(err));
    return { text, problems: err.problems };
  }
  return assert.fail(`expected the definition to be rejected:\n${extra}`);
}

function lineOf(text: string, needle: string): number {
  const at = text.indexOf(needle);
  assert.ok(at >= 0, `text contains ${needle}`);
  assert.equal(text.indexOf(needle, at + 1), -1, `${needle} occurs once`);
  return text.slice(0, at).split('\n').length;
}

/** Exactly these problems (path → message pattern), each on the line of its needle. */
function expectProblems(extra: string, expected: [pointer: string, message: RegExp, needle: string][]): void {
  const { text, problems: found } = problems(extra);
  assert.equal(found.length, expected.length, found.map((p) => `${p.path}: ${p.message}`).join('\n'));
  for (const [pointer, message, needle] of expected) {
    const p = found.find((x) => x.path === pointer && message.test(x.message));
    assert.ok(p, `a problem at ${pointer} matching ${message}; got:\n${found.map((x) => `${x.path}: ${x.message}`).join('\n')}`);
    assert.equal(p.file, FILE);
    assert.equal(p.line, lineOf(text, needle), `line of ${pointer}`);
  }
}

test('a definition with enrichment, exports and notifications is accepted', () => {
  const { definition } = parseInstanceDefinition(
    `${BASE.trimEnd()}
enrichment:
  email: [Email]
  region: US
exports:
  - { name: csv, entity: Customer, fields: [CustomerId, Email], target: { type: file, folder: out, format: csv } }
  - name: crm
    entity: CustomerEnrichment
    schedule: { cron: "0 3 * * *", timezone: Europe/Berlin }
    afterRefresh: false
    target: { type: postgres, connectionStringEnv: CRM_DB, schema: crm, table: enrichment }
  - { name: feed, entity: UnifiedActivity, target: { type: http, url: "https://example.com/in", secretEnv: FEED_SECRET, batchSize: 100, retry: { attempts: 3 } } }
notifications:
  - { name: ops, url: "https://example.com/hook", secret: "0123456789", events: [refreshSucceeded, refreshFailed] }
`,
    FILE,
  );
  assert.equal(definition.exports?.length, 3);
  assert.equal(definition.notifications?.[0].name, 'ops');
});

test('enrichment fields must be unified fields', () => {
  expectProblems('enrichment:\n  phone: [Phone, Fax]\n  region: ZZ\n', [
    ['/enrichment/phone/1', /'Fax' is not a unified Customer field/, 'Fax'],
    ['/enrichment/region', /unknown country 'ZZ'/, 'ZZ'],
  ]);
});

test('exports: unknown entity, fields, segment, duplicate names, bad schedule', () => {
  expectProblems(
    `exports:
  - { name: a, entity: Customers, target: { type: file, folder: out, format: csv } }
  - { name: b, entity: Customer, fields: [CustomerId, Shoe], target: { type: file, folder: out, format: csv } }
  - { name: c, entity: Customer, segment: Nobody, target: { type: file, folder: out, format: jsonl } }
  - { name: c, entity: AlternateKey, schedule: { cron: "every day" }, target: { type: file, folder: x, format: csv } }
`,
    [
      ['/exports/0/entity', /unknown entity 'Customers' \(entities: Customer, UnifiedActivity, AlternateKey, CustomerEnrichment\)/, 'Customers'],
      ['/exports/1/fields/1', /'Shoe' is not an attribute of Customer/, 'Shoe'],
      ['/exports/2/segment', /unknown segment 'Nobody' \(the definition has no segments\)/, 'Nobody'],
      ['/exports/3/name', /export 'c' is defined twice/, '{ name: c, entity: AlternateKey'],
      ['/exports/3/schedule', /invalid schedule/, 'every day'],
    ],
  );
});

test('export targets: what each type needs and refuses', () => {
  expectProblems(
    `exports:
  - { name: f, entity: Customer, target: { type: file, format: csv, url: "http://x" } }
  - { name: p, entity: Customer, target: { type: postgres, table: t } }
  - { name: h, entity: Customer, target: { type: http, url: "ftp://example.com", secret: "0123456789", secretEnv: S } }
  - { name: k, entity: AlternateKey, fields: [CustomerId], target: { type: postgres, connectionString: "postgres://x/y", table: keys } }
`,
    [
      ['/exports/0/target/url', /'url' does not apply to a file target \(it takes folder, format, fileName\)/, 'url: "http://x"'],
      ['/exports/0/target', /a file target needs 'folder'/, 'target: { type: file'],
      ['/exports/1/target', /needs 'connectionString' or 'connectionStringEnv'/, 'target: { type: postgres, table: t }'],
      ['/exports/2/target/url', /must be an http or https URL/, 'ftp://example.com'],
      ['/exports/2/target/secretEnv', /not both/, 'secretEnv: S'],
      ['/exports/3/fields', /upserts by DataSourceName, EntityName, AlternateValue: add DataSourceName, EntityName, AlternateValue/, 'fields: [CustomerId]'],
    ],
  );
  // A type that does not exist is a schema error (reported before any reference check).
  expectProblems('exports:\n  - { name: z, entity: Customer, target: { type: ftp } }\n', [['/exports/0/target/type', /must be one of "file", "postgres", "http"/, 'type: ftp']]);
});

test('notifications: secrets, URLs, events and thresholds', () => {
  expectProblems(
    `notifications:
  - { name: a, url: "not a url", events: [refreshSucceeded] }
  - name: b
    url: "https://example.com/b"
    secret: "0123456789"
    events: [refreshFailed, segmentThreshold]
    thresholds:
      - { segment: Nobody, above: 3 }
      - { measure: Revenue }
`,
    [
      ['/notifications/0/url', /'not a url' is not a URL/, 'not a url'],
      ['/notifications/0', /needs 'secret' or 'secretEnv'/, '{ name: a,'],
      ['/notifications/1/thresholds/0/segment', /unknown segment 'Nobody'/, 'Nobody'],
      ['/notifications/1/thresholds/1', /needs 'above' or 'below'/, '{ measure: Revenue }'],
      ['/notifications/1/thresholds/1/measure', /unknown measure 'Revenue'/, '{ measure: Revenue }'],
      ['/notifications/1/events', /measure thresholds need the event 'measureThreshold'/, 'events: [refreshFailed, segmentThreshold]'],
    ],
  );
});
