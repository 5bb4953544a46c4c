/**
 * Fuzzing of the HTTP API (issue 4, item 8): every route of the built app (as the security matrix
 * enumerates them) gets malformed input: broken and deeply nested JSON, wrong types, huge and odd
 * Unicode strings (lone surrogates, NUL, RTL marks), bad dates, hostile $filter/$orderby/$select/$top
 * text, bad path segments and wrong content types. No answer may be a 5xx, every 4xx has the OData
 * error shape without internals, and the stored data (unified entities with their real-time
 * overlays, keys and role assignments, read through the store) is unchanged after every rejected
 * write.
 *
 *   npm run fuzz -- [--iterations N] [--seed S] [--seconds T]
 *
 * Uses a temp workspace (the real-time test fixture, real SQLite) and inject(); no network.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { registerKey } from '../src/api/auth.js';
import type { RouteAuth } from '../src/api/route-auth.js';
import type { UnifiedEntityName } from '../src/storage/store.js';
import { REALTIME_FIXTURE, workspace, type Workspace } from '../test/api/helpers.js';

// ---------------------------------------------------------------------------------------------
// A seeded PRNG (mulberry32): the same seed gives the same requests.

export class Random {
  private state: number;
  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

// ---------------------------------------------------------------------------------------------
// Hostile material

const ODD_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\uD800',
  'x\uDFFFy',
  '\u202Eevil\u202C',
  '\u200F\u200E',
  '\uFEFF',
  '\uFFFF',
  'e\u0301\u0301\u0301',
  '😀👨‍👩‍👧‍👦',
  '𝕏𝕪𝕫',
  '\r\n\t\v\f',
  "'",
  '"',
  '\\',
  "'; DROP TABLE customers; --",
  "' OR '1'='1",
  '1; SELECT * FROM api_keys',
  '%00',
  '%',
  '${jndi:ldap://x}',
  '<script>alert(1)</script>',
  '../../../../etc/passwd',
  '__proto__',
  'constructor',
  'NaN',
  'Infinity',
  '-0',
  '1e309',
  '9007199254740993',
  'null',
  'true',
  '[]',
  '{}',
];

const BAD_DATES = [
  '2026-02-30',
  '2026-13-01T00:00:00Z',
  '2026-01-01T25:61:61Z',
  '0000-00-00',
  '9999-12-31T23:59:59.999999999Z',
  '+275760-09-13T00:00:00.001Z',
  '-000001-01-01T00:00:00Z',
  '2026-01-01T00:00:00+24:00',
  '2026-1-1',
  '20260101',
  'yesterday',
  '1700000000',
  '2026-01-01T00:00:00Z\u0000',
  '2026-11-29T10:00:00Z',
  '2099-01-01T00:00:00Z',
  '1970-01-01T00:00:00Z',
];

const FILTERS = [
  "City eq 'x'",
  "City eq 'x",
  "City eq 'x''",
  "City eq ''''",
  "FullName eq 'a' or 1 eq 1",
  "City eq 'x'; DROP TABLE customers; --",
  "City eq 'x') OR (1=1",
  'City eq',
  'eq eq eq',
  '((((((((',
  '))))',
  "not not not not City eq 'a'",
  'Points gt 1e309',
  'Points gt 99999999999999999999999999999999',
  'Points gt -',
  'Points gt 1.2.3',
  'JoinedOn gt 2026-02-30',
  'JoinedOn gt 2026-01-01T99:00:00Z',
  'ActivityTime ge 2026-01-01T00:00:00Z',
  "contains(FullName,'a')",
  "contains(FullName,'a'",
  'contains(FullName)',
  "startswith(FullName,'\u0000')",
  "tolower(City) eq 'a'",
  "City in ('a','b'",
  'City in ()',
  "IsMemberOfSegment('x')",
  "IsMemberOfSegment('x' or 1 eq 1)",
  "Nope eq 'x'",
  'CustomerId eq null',
  "CustomerId eq 'x' and",
  '$filter',
  '@p1 eq 1',
  "City eq 'x' --",
  "City eq 'x' /* */",
  "City eq \"x\"",
  "City eq 'x' union select 1",
  'City eq 0x41',
  '%27',
];

const ORDERBY = ['City', 'City desc', 'City asc, FullName desc', 'City sideways', 'City,', ',City', 'Nope', 'City; DROP TABLE x', '1', 'City desc desc', 'tolower(City)', '(City)', 'City desc, City'];
const SELECT = ['City', 'City,FullName', '*', 'City,*', 'Nope', 'City,', ',', 'City/Name', 'City;x', '', 'UnifiedActivity'];
const TOP = ['0', '1', '1000', '1001', '-1', '1e3', '1.5', '99999999999999999999', 'NaN', 'Infinity', '0x10', ' 5', '', 'ten'];
const SKIP = ['0', '-5', '1e20', '99999999999999999999', 'x', '1.5'];
const SKIPTOKEN = ['', '!!!', 'MTA', 'LTE', 'OTk5OTk5OTk5OTk5OTk5OTk5OTk5', 'x'.repeat(3000), '%00'];
const CONTENT_TYPES = [
  'application/json',
  'application/json',
  'application/json',
  'application/json-patch+json',
  'text/json',
  'application/x-ndjson',
  'text/plain',
  'application/xml',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/octet-stream',
  '*/*',
  ';;;',
  undefined,
];

/** Path segments a caller can send (already URL-encoded where they must be). */
const BAD_SEGMENTS = [
  '..',
  '.',
  '%2E%2E',
  '%2F',
  'a%2Fb',
  '..%2F..%2Fetc%2Fpasswd',
  '%5C',
  '%00',
  'x%00y',
  '%',
  '%zz',
  '%E2%80%AE',
  '%ED%A0%80',
  '%FF%FE',
  '%F0%9F%98%80',
  "'",
  '%27%3B%20DROP%20TABLE%20customers%3B--',
  '%20',
  'a'.repeat(600),
  'b'.repeat(200),
  '$batch',
  '$metadata',
  '__proto__',
  'constructor',
  'Customer',
  'UnifiedActivity',
  'AlternateKey',
  'Shop_Purchases',
  'NoSuchEntity',
  '-1',
  '0',
  '1e309',
];

// ---------------------------------------------------------------------------------------------
// Values and bodies

function oddString(r: Random): string {
  switch (r.int(6)) {
    case 0:
      return r.pick(ODD_STRINGS);
    case 1:
      return r.pick(ODD_STRINGS).repeat(1 + r.int(2000));
    case 2:
      return 'x'.repeat(r.pick([129, 256, 4001, 70_000]));
    case 3:
      return Array.from({ length: 1 + r.int(40) }, () => String.fromCharCode(r.int(0x10000))).join('');
    case 4:
      return r.pick(BAD_DATES);
    default:
      return `${r.pick(ODD_STRINGS)}${r.int(1000)}${r.pick(ODD_STRINGS)}`;
  }
}

function oddNumber(r: Random): number {
  return r.pick([0, -0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, Number.MIN_VALUE, 2 ** 63, 123456789.123456789, 1e-7]);
}

function randomValue(r: Random, depth = 0): unknown {
  switch (r.int(depth > 3 ? 5 : 8)) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return oddNumber(r);
    case 3:
    case 4:
      return oddString(r);
    case 5:
      return Array.from({ length: r.int(5) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(5); i > 0; i--) o[r.chance(0.7) ? r.pick(FIELD_NAMES) : oddString(r).slice(0, 50)] = randomValue(r, depth + 1);
      return o;
    }
  }
}

const FIELD_NAMES = [
  'ActivityId', 'CustomerId', 'ActivityTime', 'ActivityType', 'Title', 'Url', 'City', 'FullName', 'Email', 'Points', 'JoinedOn',
  'PurchaseId', 'ContactId', 'PurchasedOn', 'Product', 'Total', 'changes', 'validUntil', 'role', 'principalId', 'name', 'expiresAt',
  'id', 'dataSources', 'unification', 'key', '__proto__', 'constructor', 'Origin', 'SourceActivityId',
];

/** A plausible body for the route, then damaged: wrong types, odd strings, bad dates, missing or extra fields. */
function templateFor(r: Random, method: string, url: string, ids: Ids): unknown {
  const activity = () => ({ ActivityId: `fz-${r.int(1e6)}`, CustomerId: r.pick(ids.customers), ActivityTime: '2026-11-01T10:00:00Z', ActivityType: 'PageView', Title: 'Viewed', Url: 'https://shop.example/x' });
  const purchase = () => ({ PurchaseId: `fz-${r.int(1e6)}`, ContactId: 'C3', PurchasedOn: '2026-11-02T09:30:00Z', Product: 'Mug', Total: 9.5 });
  if (url.endsWith('/$batch')) return Array.from({ length: 1 + r.int(4) }, () => (r.chance(0.5) ? activity() : { CustomerId: r.pick(ids.customers), changes: { City: 'Nice' } }));
  if (url.includes('/data/') && method === 'PATCH') return { City: 'Nice', Points: 12.5, JoinedOn: '2026-01-01' };
  if (url.includes('/data/') && method === 'POST') return r.chance(0.5) ? activity() : purchase();
  if (url.includes('/keys')) return { principalId: `app:fuzz-${r.int(1000)}`, role: r.pick(['Viewer', 'Contributor', 'Administrator', 'Owner']), name: 'fuzz', expiresAt: '2030-01-01T00:00:00Z' };
  if (url.includes('/rbac/')) return { role: r.pick(['Viewer', 'Contributor', 'Administrator', 'root']) };
  if (method === 'PUT' && /\/instances\/[^/]+$/.test(url)) return ids.definition;
  return {};
}

function damage(r: Random, value: unknown, depth = 0): unknown {
  if (Array.isArray(value)) {
    const out = value.map((v) => (r.chance(0.3) ? damage(r, v, depth + 1) : v));
    if (r.chance(0.2)) out.push(randomValue(r));
    return out;
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    for (const k of Object.keys(out)) {
      if (r.chance(0.35)) out[k] = r.chance(0.15) ? undefined : r.chance(0.3) && depth < 2 ? damage(r, out[k], depth + 1) : randomValue(r, depth + 1);
    }
    if (r.chance(0.3)) out[r.pick(FIELD_NAMES)] = randomValue(r);
    return out;
  }
  return randomValue(r);
}

function oneFieldWrong(r: Random, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (r.chance(0.5) ? oneFieldWrong(r, v) : v));
  if (!value || typeof value !== 'object') return randomValue(r);
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(out);
  const k = keys.length ? r.pick(keys) : r.pick(FIELD_NAMES);
  out[k] = r.chance(0.2) && out[k] && typeof out[k] === 'object' ? oneFieldWrong(r, out[k]) : r.chance(0.4) ? r.pick(BAD_DATES) : randomValue(r, 2);
  return out;
}

function deepJson(r: Random): string {
  const n = r.pick([100, 1000, 10_000, 100_000]);
  return r.chance(0.5) ? '['.repeat(n) + ']'.repeat(n) : '{"a":'.repeat(n) + '1' + '}'.repeat(n);
}

function brokenJson(r: Random, text: string): string {
  switch (r.int(9)) {
    case 0:
      return text.slice(0, r.int(text.length + 1));
    case 1:
      return text.replace(/}$/, ',}');
    case 2:
      return text.replace(/"/g, "'");
    case 3:
      return `${text}${text}`;
    case 4:
      return '{"__proto__":{"isAdmin":true},"constructor":{"prototype":{"polluted":1}}}';
    case 5:
      return text.replace(/:/, '::');
    case 6:
      return `\uFEFF${text}`;
    case 7:
      return 'null';
    default:
      return r.pick(['', ' ', 'undefined', 'NaN', '1e999', '"\\ud800"', '"\\u0000"', '[1,]', '{"a":1}garbage', '\u0000', '{"a":"\\x41"}']);
  }
}

interface Body {
  payload?: string | Buffer;
  contentType?: string;
}

function bodyFor(r: Random, method: string, url: string, ids: Ids): Body {
  if (method === 'GET' || method === 'DELETE' ? r.chance(0.85) : r.chance(0.05)) return {};
  const contentType = r.chance(0.7) ? 'application/json' : r.pick(CONTENT_TYPES);
  const template = templateFor(r, method, url, ids);
  let payload: string | Buffer;
  switch (r.int(10)) {
    case 0:
      payload = deepJson(r);
      break;
    case 1:
      payload = brokenJson(r, JSON.stringify(template));
      break;
    case 2:
      payload = Buffer.from(Array.from({ length: 1 + r.int(200) }, () => r.int(256)));
      break;
    case 3:
      payload = JSON.stringify(randomValue(r));
      break;
    case 4:
      // The published client's habit: the object as a JSON string, here damaged.
      payload = JSON.stringify(JSON.stringify(damage(r, template)));
      break;
    case 5: {
      const lines = Array.isArray(template) ? template : [template];
      payload = lines.map((l) => (r.chance(0.3) ? brokenJson(r, JSON.stringify(l)) : JSON.stringify(damage(r, l)))).join(r.pick(['\n', '\r\n', '\n\n', '\u2028']));
      break;
    }
    case 6:
    case 7:
      // One field wrong, the rest plausible: gets past the first checks into the deeper ones.
      payload = JSON.stringify(oneFieldWrong(r, template)) ?? 'null';
      break;
    default:
      payload = JSON.stringify(damage(r, template)) ?? 'null';
  }
  return { payload, contentType };
}

// ---------------------------------------------------------------------------------------------
// Requests

interface Ids {
  instanceId: string;
  /** The instance's definition, as PUT /instances/{id} takes it. */
  definition: unknown;
  customers: string[];
  activities: string[];
  jobs: string[];
}

interface Route {
  method: string;
  url: string;
  auth: RouteAuth;
}

function segmentFor(r: Random, param: string, ids: Ids): string {
  const good = (): string => {
    switch (param) {
      case 'instanceId':
        return ids.instanceId;
      case 'entityName':
        return r.pick(['Customer', 'UnifiedActivity', 'AlternateKey', 'Shop_Purchases', 'Loyalty_Members']);
      case 'entityId':
        return encodeURIComponent(r.pick([...ids.customers, ...ids.activities]));
      case 'workflowName':
        return 'main';
      case 'jobId':
        return ids.jobs.length ? r.pick(ids.jobs) : 'no-job';
      default:
        // principalId, keyId, ...: never the ids of the fuzzer's own keys (that would rotate them away).
        return encodeURIComponent(`fuzz-${r.int(100)}`);
    }
  };
  return r.chance(0.7) ? good() : r.pick(BAD_SEGMENTS);
}

/** encodeURIComponent that also takes lone surrogates (sent as the bytes of a UTF-16 surrogate, invalid UTF-8). */
function enc(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return Array.from(s, (c) => (c.length === 1 && c.charCodeAt(0) >= 0xd800 && c.charCodeAt(0) <= 0xdfff ? '%ED%A0%80' : encodeURIComponent(c))).join('');
  }
}

function queryFor(r: Random, method: string): string {
  // Writes take few query parameters: mostly none, so the body is what gets judged.
  if (r.chance(method === 'GET' ? 0.3 : 0.75)) return '';
  const parts: string[] = [];
  const add = (k: string, v: string) => parts.push(`${enc(k)}=${r.chance(0.1) ? v : enc(v)}`);
  const mutate = (s: string) => (r.chance(0.3) ? s.slice(0, r.int(s.length + 1)) + r.pick(ODD_STRINGS) + s.slice(r.int(s.length + 1)) : s);
  for (let i = 1 + r.int(4); i > 0; i--) {
    switch (r.int(12)) {
      case 0:
      case 1:
      case 2:
        add('$filter', r.chance(0.1) ? 'City eq ' + "'x' or ".repeat(r.int(3000)) + "'y'" : mutate(r.pick(FILTERS)));
        break;
      case 3:
        add('$orderby', r.chance(0.15) ? Array(r.pick([33, 500, 2500])).fill(r.pick(ORDERBY)).join(',') : mutate(r.pick(ORDERBY)));
        break;
      case 4:
        add('$select', r.chance(0.15) ? Array(r.pick([100, 3000])).fill(r.pick(SELECT)).join(',') : mutate(r.pick(SELECT)));
        break;
      case 5:
        add('$top', r.pick(TOP));
        break;
      case 6:
        add(r.pick(['$skip', '$count', '$expand', '$search']), r.pick([...SKIP, 'true', 'false', 'UnifiedActivity', oddString(r).slice(0, 300)]));
        break;
      case 7:
        add('$skiptoken', r.pick(SKIPTOKEN));
        break;
      case 8:
        add(r.pick(['validUntil', 'caller', 'operationType', 'api-version', 'includeRevoked', 'since', 'until', 'action', 'limit', 'dataSourceName', 'entityName', 'key', 'instanceId', 'principalId']), r.chance(0.5) ? r.pick(BAD_DATES) : oddString(r).slice(0, 500));
        break;
      case 9:
        add(r.pick(['$unknown', '$metadata', '$', '$$top', 'top', '']), '1');
        break;
      case 10:
        parts.push(r.pick(['%', '%zz', '&&&', '=', '$top', '$filter=%27', '$top=1&$top=2', `${'a'.repeat(9000)}=1`]));
        break;
      default:
        add('$filter', "City eq '" + oddString(r) + "'");
    }
  }
  return `?${parts.join('&')}`;
}

interface Keys {
  serverAdmin: string;
  viewer: string;
  contributor: string;
  admin: string;
  otherInstance: string;
}

function headersFor(r: Random, keys: Keys, body: Body): Record<string, string> {
  const h: Record<string, string> = {};
  const key = r.chance(0.85) ? (r.chance(0.6) ? keys.admin : keys.serverAdmin) : r.pick([keys.viewer, keys.contributor, keys.otherInstance, 'kdr_nonsense', '', 'Bearer x', 'a.b.c', oddString(r).slice(0, 200)]);
  if (r.chance(0.8)) h['ocp-apim-subscription-key'] = key;
  else h.authorization = r.chance(0.8) ? `Bearer ${key}` : r.pick(['Bearer', 'Basic YTpi', 'Bearer eyJhbGciOiJub25lIn0.e30.', `Bearer ${'x'.repeat(20_000)}`]);
  if (body.contentType !== undefined) h['content-type'] = body.contentType;
  if (r.chance(0.05)) h.accept = r.pick(['application/xml', 'text/html', '*/*', 'application/json;odata.metadata=full']);
  if (r.chance(0.03)) h['content-encoding'] = r.pick(['gzip', 'br', 'identity', 'x-unknown']);
  return h;
}

// ---------------------------------------------------------------------------------------------
// Stored data: a checksum through the store

async function checksum(ws: Workspace): Promise<{ hash: string; counts: Record<string, number> }> {
  const { store, catalog } = ws.services;
  const hash = createHash('sha256');
  const counts: Record<string, number> = {};
  const now = new Date().toISOString();
  for (const instance of await store.listInstances()) {
    hash.update(JSON.stringify([instance.id, instance.currentGeneration, instance.updatedAt]));
    const entry = await catalog.get(instance.id);
    if (!entry) continue;
    const infos: [UnifiedEntityName, Record<string, unknown>][] = [
      ['Customer', entry.schema.customer.queryTypes],
      ['UnifiedActivity', entry.schema.activity.queryTypes],
      ['AlternateKey', entry.schema.alternateKey.queryTypes],
    ];
    for (const [entity, types] of infos) {
      const { rows } = await store.queryEntity(instance.id, entity, { attributes: types as never, orderby: [], top: 1_000_000, skip: 0, count: false }, now);
      const lines = rows.map((row) => JSON.stringify(row)).sort();
      counts[`${instance.id}.${entity}`] = lines.length;
      for (const line of lines) hash.update(line);
    }
    for (const customer of await store.queryEntity(instance.id, 'Customer', { attributes: {}, orderby: [], top: 1_000_000, skip: 0, count: false }, now).then((r) => r.rows)) {
      const profile = await store.getProfile(instance.id, customer.CustomerId as string);
      hash.update(JSON.stringify(profile?.overrides ?? []));
    }
  }
  // Keys and role assignments (not the audit log, which records refused calls on purpose, nor last-used times).
  for (const scope of [null, ...(await store.listInstances()).map((i) => i.id)]) {
    const keys = await store.access.listKeys(scope, { includeRevoked: true });
    counts[`keys.${scope ?? '*'}`] = keys.length;
    hash.update(JSON.stringify(keys.map(({ lastUsedAt: _l, ...k }) => k)));
    hash.update(JSON.stringify(await store.access.listAssignments(scope)));
  }
  return { hash: hash.digest('hex'), counts };
}

async function waitForIdle(ws: Workspace): Promise<void> {
  for (let i = 0; i < 600; i++) {
    let active = false;
    for (const instance of await ws.services.store.listInstances()) if (await ws.services.store.activeRun(instance.id)) active = true;
    if (!active) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('a refresh started by the fuzzer did not end within 30 s');
}

// ---------------------------------------------------------------------------------------------
// The run

export interface FuzzOptions {
  seed: number;
  iterations: number;
  /** Stop early after sending requests for this long (ms, set-up not counted); the report says how many were sent. */
  maxMs?: number;
  log?: (line: string) => void;
}

export interface FuzzFailure {
  iteration: number;
  request: string;
  problem: string;
}

export interface FuzzReport {
  seed: number;
  requests: number;
  routes: number;
  statuses: Record<string, number>;
  /** Rejected writes after which the stored data was compared. */
  rejectedWritesChecked: number;
  /** Requests the test client itself refused to form. */
  unsendable: number;
  failures: FuzzFailure[];
  ms: number;
}

const STACK_RE = /\bat [\w.<>]+ \(|node_modules|\.ts:\d+|\/tmp\/|SQLITE_|sqlite3?\b/i;

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const log = options.log ?? (() => {});
  const started = Date.now();
  const ws = await workspace({ definition: REALTIME_FIXTURE });
  try {
    await ws.refresh();
    const app: FastifyInstance = ws.app;
    const routes = ((app as unknown as { accessRoutes?: Route[] }).accessRoutes ?? []).filter((route) => route.method !== 'HEAD');
    if (!routes.length) throw new Error('the app lists no routes (app.accessRoutes)');
    routes.push({ method: 'GET', url: '/healthz', auth: { role: 'public', scope: 'server' } });
    const { store } = ws.services;
    const scan = async (entity: UnifiedEntityName, column: string) => {
      const out: string[] = [];
      for await (const batch of store.scan(ws.instanceId, entity)) for (const row of batch) out.push(row[column] as string);
      return out;
    };
    const ids: Ids = {
      instanceId: ws.instanceId,
      definition: (await store.getInstance(ws.instanceId))!.definition,
      customers: await scan('Customer', 'CustomerId'),
      activities: await scan('UnifiedActivity', 'ActivityId'),
      jobs: (await store.listRuns(ws.instanceId)).map((run) => run.jobId),
    };
    const keys = { ...ws.keys, serverAdmin: 'kdr_fuzz_server_admin_key' };
    await registerKey(store, keys.serverAdmin, { instanceId: null, role: 'Administrator', name: 'fuzz-server-admin' });
    const r = new Random(options.seed);
    const report: FuzzReport = { seed: options.seed, requests: 0, routes: routes.length, statuses: {}, rejectedWritesChecked: 0, unsendable: 0, failures: [], ms: 0 };
    let baseline = await checksum(ws);
    const sendingSince = Date.now();

    for (let i = 0; i < options.iterations; i++) {
      if (options.maxMs && Date.now() - sendingSince > options.maxMs) break;
      const route = routes[i % routes.length];
      const path = route.url.replace(/:(\w+)/g, (_m, param: string) => segmentFor(r, param, ids)).replace(/\/+$/, '') || '/';
      // Now and then a method the route does not have, on its path.
      const method = r.chance(0.05) ? r.pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) : route.method;
      // The change feed answers an allowed GET with a stream that never ends; it is fuzzed for a
      // customer that does not exist (404 once access and input are checked) so each request ends.
      const url = route.url.endsWith('/changes') && method === 'GET' ? `${path}?customerId=fuzz-no-such-customer` : path + queryFor(r, method);
      const body = bodyFor(r, method, route.url, ids);
      const headers = headersFor(r, keys, body);
      const describe = () =>
        `${method} ${url.slice(0, 300)}${url.length > 300 ? '…' : ''} content-type=${headers['content-type'] ?? '-'} body=${JSON.stringify(String(body.payload ?? '').slice(0, 200))}${String(body.payload ?? '').length > 200 ? '…' : ''}`;
      let res;
      try {
        res = await app.inject({ method: method as 'GET', url, headers, payload: body.payload });
      } catch {
        // The request could not be formed (e.g. a raw character light-my-request refuses in a URL).
        report.unsendable++;
        continue;
      }
      report.requests++;
      const bucket = `${route.method} ${route.url} ${res.statusCode}`;
      report.statuses[bucket] = (report.statuses[bucket] ?? 0) + 1;
      if (res.statusCode >= 500) {
        report.failures.push({ iteration: i, request: describe(), problem: `status ${res.statusCode}: ${res.body.slice(0, 300)}` });
      } else if (res.statusCode >= 400) {
        let error: { code?: unknown; message?: unknown } | undefined;
        try {
          error = (JSON.parse(res.body) as { error?: { code?: unknown; message?: unknown } }).error;
        } catch {
          error = undefined;
        }
        if (!error || typeof error.code !== 'string' || typeof error.message !== 'string' || !error.message)
          report.failures.push({ iteration: i, request: describe(), problem: `status ${res.statusCode} without an OData error body: ${res.body.slice(0, 200)}` });
        else if (STACK_RE.test(error.message))
          report.failures.push({ iteration: i, request: describe(), problem: `the error message shows internals: ${error.message.slice(0, 300)}` });
      }
      if (method !== 'GET' && method !== 'OPTIONS') {
        if (res.statusCode >= 400) {
          const now = await checksum(ws);
          report.rejectedWritesChecked++;
          if (now.hash !== baseline.hash) {
            report.failures.push({
              iteration: i,
              request: describe(),
              problem: `rejected with ${res.statusCode} but the stored data changed: ${JSON.stringify(baseline.counts)} → ${JSON.stringify(now.counts)}`,
            });
            baseline = now;
          }
        } else {
          // Accepted: a refresh may be running; wait for it, then this is the new baseline.
          if (res.statusCode === 202) await waitForIdle(ws);
          baseline = await checksum(ws);
          ids.jobs = (await store.listRuns(ws.instanceId)).map((run) => run.jobId);
        }
      }
      if ((i + 1) % 1000 === 0) log(`  ${i + 1} requests, ${report.failures.length} failures`);
    }
    report.ms = Date.now() - started;
    return report;
  } finally {
    await ws.close();
  }
}

export function formatReport(report: FuzzReport): string {
  const lines = [`fuzz: seed ${report.seed}, ${report.requests} requests over ${report.routes} routes in ${(report.ms / 1000).toFixed(1)} s; ${report.rejectedWritesChecked} rejected writes checked against the stored data`];
  const byClass: Record<string, number> = {};
  for (const [bucket, n] of Object.entries(report.statuses)) {
    const cls = `${bucket.slice(bucket.lastIndexOf(' ') + 1, -2)}xx`;
    byClass[cls] = (byClass[cls] ?? 0) + n;
  }
  lines.push(`statuses: ${Object.entries(byClass).sort().map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (report.failures.length) {
    lines.push(`${report.failures.length} failure(s); replay with --seed ${report.seed}:`);
    for (const f of report.failures.slice(0, 30)) lines.push(`  #${f.iteration} ${f.problem}\n      ${f.request}`);
  } else lines.push('no failures');
  return lines.join('\n');
}

async function main(argv: string[]): Promise<void> {
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const seed = value('--seed') !== undefined ? Number(value('--seed')) : Math.floor(Math.random() * 2 ** 31);
  const iterations = Number(value('--iterations') ?? 5000);
  const seconds = value('--seconds') !== undefined ? Number(value('--seconds')) : undefined;
  if (!Number.isInteger(seed) || !Number.isInteger(iterations) || iterations < 1 || (seconds !== undefined && !(seconds > 0))) {
    process.stderr.write('usage: npm run fuzz -- [--iterations N] [--seed S] [--seconds T]\n');
    process.exit(2);
  }
  process.stdout.write(`fuzz: seed ${seed}, ${iterations} iterations${seconds ? `, at most ${seconds} s` : ''}\n`);
  const report = await runFuzz({ seed, iterations, maxMs: seconds ? seconds * 1000 : undefined, log: (l) => process.stdout.write(`${l}\n`) });
  process.stdout.write(`${formatReport(report)}\n`);
  process.exit(report.failures.length ? 1 : 0);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  await main(process.argv.slice(2));
}
