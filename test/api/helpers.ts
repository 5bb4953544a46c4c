// Shared set-up for the API tests: a temp data dir with real SQLite, or a fresh PostgreSQL schema
// when the runner asks for it (test/storage/test-store.ts), through openServices; an instance
// registered from a fixture, API keys per role, and the Fastify app driven through inject().
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/api/app.js';
import { registerKey } from '../../src/api/auth.js';
import { loadInstanceDefinition } from '../../src/config/load.js';
import type { RunRecord } from '../../src/domain/run.js';
import { openServices, type DatabaseOptions, type Services } from '../../src/services.js';
import { openPostgresStore } from '../../src/storage/postgres/store.js';
import { openSqliteStore } from '../../src/storage/sqlite/store.js';
import type { Store } from '../../src/storage/store.js';
import { schemaClient } from '../storage/postgres-helpers.js';
import { testDatabase, testStoreKind, type TestStoreKind } from '../storage/test-store.js';

export const FIXTURES = path.resolve(import.meta.dirname, '../fixtures');
export const REPO = path.resolve(import.meta.dirname, '../..');

/** API keys of the workspace: one per role for the instance, and one of another instance. */
export interface Keys {
  viewer: string;
  contributor: string;
  admin: string;
  otherInstance: string;
}

export interface RequestOptions {
  /** API key; sent as Ocp-Apim-Subscription-Key unless bearer is set. `null`: no key at all. */
  key?: string | null;
  bearer?: boolean;
  /** A JSON value (serialised) or a raw string payload (sent as is). */
  body?: unknown;
  raw?: string;
  contentType?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
}

export interface Workspace {
  dir: string;
  dataDir: string;
  /** Which store the workspace runs on; `database` is its PostgreSQL schema (undefined on SQLite). */
  storeKind: TestStoreKind;
  database: DatabaseOptions | undefined;
  instanceId: string;
  services: Services;
  app: FastifyInstance;
  keys: Keys;
  /** Path of a file of the (copied) fixture. */
  file(name: string): string;
  read(name: string): string;
  write(name: string, text: string): void;
  append(name: string, lines: string): void;
  replace(name: string, from: string, to: string): void;
  /** Registers (or re-registers) the instance from its definition file. */
  apply(): Promise<void>;
  /** A manual refresh through the runner; asserts it succeeded. */
  refresh(): Promise<RunRecord>;
  /** inject() with the contributor key by default. */
  request(method: string, url: string, options?: RequestOptions): Promise<LightMyRequestResponse>;
  /** `/api/instances/{id}` + rest */
  url(rest: string): string;
  /** Runs one statement on the workspace's database through a connection of its own (`?` placeholders); returns its rows. */
  sql(statement: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Another store on the same database, as another process would open it; the caller closes it. */
  openAnotherStore(): Promise<Store>;
  /** Closes app and services and opens them again on the same data dir (or schema). */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A workspace over a fixture. `copy`: the fixture directory is copied into the temp dir so tests may
 * change its source files (otherwise the definition is used where it is, read only). `store`: the
 * store to run on (default: the one the test runner chose).
 */
export async function workspace(options: {
  definition: string;
  copy?: boolean;
  store?: TestStoreKind;
  /** As `kindred serve` opens SQLite: real-time writes in their writer thread, lists in reader threads. */
  asServed?: boolean;
}): Promise<Workspace> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kindred-api-'));
  const dataDir = path.join(dir, 'data');
  let definitionFile = options.definition;
  if (options.copy) {
    cpSync(path.dirname(options.definition), path.join(dir, 'src'), { recursive: true });
    definitionFile = path.join(dir, 'src', path.basename(options.definition));
  }
  const file = (name: string) => path.join(path.dirname(definitionFile), name);
  const { definition } = loadInstanceDefinition(definitionFile);
  const instanceId = definition.id;

  const storeKind = options.store ?? testStoreKind();
  const { database, drop } = await testDatabase('kindred_api', storeKind);
  const threads = options.asServed ? { realtimeInWorker: true, readerThreads: 2 } : {};
  const open = () => openServices({ dataDir, database, sweepIntervalMs: 0, ...threads });
  let services = await open();
  let app = await buildApp({ services });
  await app.ready();

  const keys: Keys = {
    viewer: `kdr_viewer_${instanceId}_key`,
    contributor: `kdr_contributor_${instanceId}_key`,
    admin: `kdr_admin_${instanceId}_key`,
    otherInstance: `kdr_other_instance_key`,
  };
  await registerKey(services.store, keys.viewer, { instanceId, role: 'Viewer', name: 'viewer' });
  await registerKey(services.store, keys.contributor, { instanceId, role: 'Contributor', name: 'contributor' });
  await registerKey(services.store, keys.admin, { instanceId, role: 'Administrator', name: 'admin' });
  await registerKey(services.store, keys.otherInstance, { instanceId: 'some-other-instance', role: 'Administrator', name: 'other' });

  const ws: Workspace = {
    dir,
    dataDir,
    storeKind,
    database,
    instanceId,
    get services() {
      return services;
    },
    get app() {
      return app;
    },
    keys,
    file,
    read: (name) => readFileSync(file(name), 'utf8'),
    write: (name, text) => writeFileSync(file(name), text),
    append: (name, lines) => writeFileSync(file(name), readFileSync(file(name), 'utf8') + lines),
    replace(name, from, to) {
      const text = readFileSync(file(name), 'utf8');
      assert.ok(text.includes(from), `${name} contains ${JSON.stringify(from)}`);
      writeFileSync(file(name), text.replace(from, to));
    },
    async apply() {
      const { definition: d, baseDir } = loadInstanceDefinition(definitionFile);
      await services.store.putInstance({ id: d.id, name: d.name ?? d.id, definition: d, sourceFile: definitionFile, baseDir });
      services.catalog.invalidate(d.id);
    },
    async refresh() {
      const { created, done } = await services.runner.start(instanceId, 'manual');
      assert.ok(created, 'a new run was created');
      const run = await done;
      assert.equal(run.status, 'successful', run.error ?? '');
      return run;
    },
    async request(method, url, o = {}) {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      const key = o.key === undefined ? keys.contributor : o.key;
      if (key !== null) {
        if (o.bearer) headers.authorization = `Bearer ${key}`;
        else headers['ocp-apim-subscription-key'] = key;
      }
      let payload: string | undefined;
      if (o.raw !== undefined) payload = o.raw;
      else if (o.body !== undefined) payload = JSON.stringify(o.body);
      if (payload !== undefined) headers['content-type'] = o.contentType ?? 'application/json';
      else if (o.contentType) headers['content-type'] = o.contentType;
      return app.inject({ method: method as 'GET', url, query: o.query, headers, payload });
    },
    url: (rest) => `/api/instances/${instanceId}${rest}`,
    async sql(statement, params = []) {
      if (!database) {
        const db = new Database(path.join(dataDir, 'kindred.db'));
        try {
          const prepared = db.prepare(statement);
          if (prepared.reader) return prepared.all(...params) as Record<string, unknown>[];
          prepared.run(...params);
          return [];
        } finally {
          db.close();
        }
      }
      const client = await schemaClient(database.schema!);
      try {
        let n = 0;
        return (await client.query(statement.replace(/\?/g, () => `$${++n}`), params)).rows;
      } finally {
        await client.end();
      }
    },
    async openAnotherStore() {
      if (!database) return openSqliteStore({ file: path.join(dataDir, 'kindred.db') });
      return openPostgresStore({ connectionString: database.url, schema: database.schema, maxConnections: 2 });
    },
    async reopen() {
      await app.close();
      await services.close();
      services = await open();
      app = await buildApp({ services });
      await app.ready();
    },
    async close() {
      await app.close();
      await services.close();
      await drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await ws.apply();
  return ws;
}

/** The real-time fixture: the tiny fixture plus a decimal (Points) and a date (JoinedOn) column. */
export const REALTIME_FIXTURE = path.join(FIXTURES, 'realtime', 'instance.yaml');
/** The demo instance (~376 profiles, 771 activities). */
export const DEMO = path.join(REPO, 'examples', 'demo', 'instance.yaml');

/** Asserts the OData error shape and returns the error object. */
export function odataError(
  res: LightMyRequestResponse,
  status: number,
  expect: { code?: string; target?: string; message?: RegExp } = {},
): { code: string; message: string; target?: string; details?: { code: string; message: string; target?: string }[] } {
  assert.equal(res.statusCode, status, `status ${res.statusCode}, body ${res.body.slice(0, 500)}`);
  const body = res.json() as { error?: Record<string, unknown> };
  assert.ok(body.error && typeof body.error === 'object', `OData error body: ${res.body.slice(0, 300)}`);
  const error = body.error as { code: string; message: string; target?: string; details?: { code: string; message: string; target?: string }[] };
  assert.equal(typeof error.code, 'string');
  // The published client reads errorCode in place of code: the shape carries both, always equal.
  assert.equal((error as { errorCode?: unknown }).errorCode, error.code, `errorCode equals code: ${res.body.slice(0, 300)}`);
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0);
  if (expect.code) assert.equal(error.code, expect.code);
  if (expect.target !== undefined) assert.equal(error.target, expect.target, `target of: ${error.message}`);
  if (expect.message) assert.match(error.message, expect.message);
  return error;
}

/** Asserts a 400 that names the attribute in target and message. */
export function namesAttribute(res: LightMyRequestResponse, attribute: string, status = 400): void {
  const e = odataError(res, status, { target: attribute });
  assert.ok(e.message.includes(attribute), `message names ${attribute}: ${e.message}`);
}

/** Milliseconds between an ISO date and now + offset (absolute). */
export function offBy(iso: string, offsetMs: number): number {
  return Math.abs(Date.parse(iso) - (Date.now() + offsetMs));
}

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** An RFC 3339 date-time `ms` from now (seconds precision). */
export function fromNow(ms: number): string {
  return new Date(Date.now() + ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads the rows of the current generation as the batch produced them (no overlay). */
export async function scanAll(ws: Workspace, entity: 'Customer' | 'UnifiedActivity' | 'AlternateKey'): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const batch of ws.services.store.scan(ws.instanceId, entity)) out.push(...batch);
  return out;
}

/** Customer id of the profile that has a source key (through the store's key ring). */
export async function customerOf(ws: Workspace, dataSource: string, entity: string, key: string): Promise<string> {
  const id = await ws.services.store.findCustomerIdByKey(ws.instanceId, dataSource, entity, key);
  assert.ok(id, `a profile has ${dataSource}.${entity} key ${key}`);
  return id;
}

/** GET a collection following @odata.nextLink to the end; returns every record and the number of pages. */
export async function readAll(ws: Workspace, url: string, options: RequestOptions = {}): Promise<{ rows: Record<string, unknown>[]; pages: number }> {
  const rows: Record<string, unknown>[] = [];
  let next: string | undefined = url;
  let pages = 0;
  while (next) {
    const res = await ws.request('GET', next, { key: ws.keys.viewer, ...options });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { value: Record<string, unknown>[]; '@odata.nextLink'?: string };
    rows.push(...body.value);
    pages++;
    assert.ok(pages < 1000, 'paging ends');
    const link = body['@odata.nextLink'];
    next = link ? link.replace(/^https?:\/\/[^/]+/, '') : undefined;
  }
  return { rows, pages };
}
