// The API documents: OpenAPI 3.0 (/api/openapi.json) and Swagger 2.0 (/api/swagger.json) must be
// valid, describe every public route, and hold nothing low-code connector importers (Power
// Platform custom connectors) reject.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import Fastify, { type FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { buildApp } from '../../src/api/app.js';
import { generateKey, registerKey } from '../../src/api/auth.js';
import { toSchema2, toSwagger2 } from '../../src/api/openapi/swagger2.js';
import { Nullable } from '../../src/api/schemas.js';
import { loadInstanceDefinition } from '../../src/config/load.js';
import { openServices, type Services } from '../../src/services.js';

type Json = Record<string, unknown>;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const OPERATION_ID = /^[A-Za-z][A-Za-z0-9_]*$/;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Operation {
  where: string;
  path: string;
  method: string;
  op: Json;
}

function operations(doc: Json): Operation[] {
  const out: Operation[] = [];
  for (const [p, item] of Object.entries(doc.paths as Json)) {
    for (const method of METHODS) {
      const op = (item as Json)[method];
      if (isObject(op)) out.push({ where: `${method.toUpperCase()} ${p}`, path: p, method, op });
    }
  }
  return out;
}

const parametersOf = (op: Json) => ((op.parameters ?? []) as Json[]);

/** Every schema object reachable from `schema`, with where it is; property names are not keywords. */
function eachSchema(schema: unknown, where: string, visit: (s: Json, where: string) => void): void {
  if (!isObject(schema)) return;
  visit(schema, where);
  for (const k of ['items', 'additionalProperties', 'not']) {
    const v = schema[k];
    if (Array.isArray(v)) v.forEach((m, i) => eachSchema(m, `${where}/${k}/${i}`, visit));
    else eachSchema(v, `${where}/${k}`, visit);
  }
  for (const k of ['allOf', 'anyOf', 'oneOf']) {
    const v = schema[k];
    if (Array.isArray(v)) v.forEach((m, i) => eachSchema(m, `${where}/${k}/${i}`, visit));
  }
  if (isObject(schema.properties)) for (const [name, p] of Object.entries(schema.properties)) eachSchema(p, `${where}/properties/${name}`, visit);
}

/** The top-level schemas of a document: parameters, bodies, responses and named schemas. */
function schemasOf(doc: Json): [string, unknown][] {
  const out: [string, unknown][] = [];
  const openapi3 = typeof doc.openapi === 'string';
  for (const { where, op } of operations(doc)) {
    parametersOf(op).forEach((p) => p.schema && out.push([`${where} parameter ${p.name}`, p.schema]));
    if (openapi3) {
      const body = op.requestBody as Json | undefined;
      for (const [type, media] of Object.entries((body?.content ?? {}) as Json)) out.push([`${where} body ${type}`, (media as Json).schema]);
    }
    for (const [status, r] of Object.entries(op.responses as Json)) {
      if (openapi3) for (const [type, media] of Object.entries(((r as Json).content ?? {}) as Json)) out.push([`${where} ${status} ${type}`, (media as Json).schema]);
      else out.push([`${where} ${status}`, (r as Json).schema]);
    }
  }
  const named = (openapi3 ? (doc.components as Json | undefined)?.schemas : doc.definitions) ?? {};
  for (const [name, s] of Object.entries(named as Json)) out.push([`schema ${name}`, s]);
  return out;
}

/** A schema that stands for null, in JSON Schema or in OpenAPI 3.0's spelling. */
const isNullSchema = (s: unknown) =>
  isObject(s) &&
  (s.type === 'null' || (Array.isArray(s.type) && s.type.includes('null')) || (Array.isArray(s.enum) && s.enum.length === 1 && s.enum[0] === null));

/** What Power Platform's custom connector import (and OpenAPI 3.0 itself) rejects in schemas. */
function schemaProblems(doc: Json): string[] {
  const swagger2 = doc.swagger === '2.0';
  const problems: string[] = [];
  for (const [root, schema] of schemasOf(doc)) {
    eachSchema(schema, root, (s, where) => {
      if (s.type === 'null' || Array.isArray(s.type)) problems.push(`${where}: type ${JSON.stringify(s.type)}`);
      for (const k of ['anyOf', 'oneOf', 'allOf']) {
        if (Array.isArray(s[k]) && s[k].some(isNullSchema)) problems.push(`${where}: ${k} with a null member`);
        if (swagger2 && k !== 'allOf' && k in s) problems.push(`${where}: ${k} (not Swagger 2.0)`);
      }
      if (swagger2 && 'nullable' in s) problems.push(`${where}: nullable (Swagger 2.0 spells it x-nullable)`);
      if ('$ref' in s && Object.keys(s).length > 1) problems.push(`${where}: $ref with siblings ${Object.keys(s).filter((k) => k !== '$ref').join(', ')}`);
      if (s.type === 'array' && !isObject(s.items)) problems.push(`${where}: array without items`);
    });
  }
  return problems;
}

/** Operation-level rules of the connector importers, for either document version. */
function operationProblems(doc: Json): string[] {
  const swagger2 = doc.swagger === '2.0';
  const problems: string[] = [];
  const lowerPaths = new Set<string>();
  for (const p of Object.keys(doc.paths as Json)) {
    if (lowerPaths.has(p.toLowerCase())) problems.push(`${p}: defined twice when compared case-insensitively`);
    lowerPaths.add(p.toLowerCase());
    if (!operations({ paths: { [p]: (doc.paths as Json)[p] } }).length) problems.push(`${p}: no operations`);
  }
  for (const { where, path: p, op } of operations(doc)) {
    if (typeof op.operationId !== 'string' || !OPERATION_ID.test(op.operationId)) problems.push(`${where}: operationId ${JSON.stringify(op.operationId)}`);
    const params = parametersOf(op);
    if (params.filter((x) => x.in === 'body').length > 1) problems.push(`${where}: more than one body parameter`);
    for (const x of params) {
      if (x.in === 'path' && x.required !== true) problems.push(`${where}: path parameter ${x.name} is not required: true`);
      if (swagger2 && x.in !== 'body' && typeof x.type !== 'string') problems.push(`${where}: parameter ${x.name} has no type`);
      if (swagger2 && 'nullable' in x) problems.push(`${where}: parameter ${x.name} has nullable`);
    }
    const templated = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
    const declared = params.filter((x) => x.in === 'path').map((x) => x.name as string).sort();
    if (JSON.stringify(templated) !== JSON.stringify(declared)) problems.push(`${where}: path parameters ${declared} do not match the path's ${templated}`);
    const responses = Object.entries((op.responses ?? {}) as Json);
    if (!responses.length) problems.push(`${where}: no responses`);
    for (const [status, r] of responses) {
      const description = (r as Json).description;
      if (typeof description !== 'string' || !description.trim()) problems.push(`${where}: response ${status} has no description`);
    }
  }
  return problems;
}

describe('API documents', () => {
  let dir: string;
  let services: Services;
  let app: FastifyInstance;
  /** What the app registered, seen by an onRoute hook added before any route. */
  const registered: { method: string; url: string; hidden: boolean; schema?: Json }[] = [];
  let openapi: Json;
  let swagger2: Json;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'kindred-openapi-'));
    services = await openServices({ dataDir: dir, sweepIntervalMs: 0 });
    // buildApp registers its routes before returning; fastify announces each new instance on this
    // channel, the one moment an onRoute hook can be added ahead of them.
    const onInit = (message: unknown) => {
      (message as { fastify: FastifyInstance }).fastify.addHook('onRoute', (route) => {
        for (const method of [route.method].flat())
          registered.push({ method: String(method), url: route.url, hidden: route.schema?.hide === true, schema: route.schema as Json | undefined });
      });
    };
    subscribe('fastify.initialization', onInit);
    try {
      app = await buildApp({ services });
    } finally {
      unsubscribe('fastify.initialization', onInit);
    }
    await app.ready();
    openapi = (await app.inject({ url: '/api/openapi.json' })).json();
    swagger2 = (await app.inject({ url: '/api/swagger.json' })).json();
  });
  after(async () => {
    await app?.close();
    await services?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('both documents are served without a key', async () => {
    for (const url of ['/api/openapi.json', '/api/swagger.json']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
      assert.match(String(res.headers['content-type']), /^application\/json/);
    }
    assert.equal(openapi.openapi, '3.0.3');
    assert.equal(swagger2.swagger, '2.0');
    // ...while the API itself needs one
    assert.equal((await app.inject({ url: '/api/instances' })).statusCode, 401);
  });

  test('the OpenAPI 3.0 document passes validation', async () => {
    await SwaggerParser.validate(structuredClone(openapi) as never);
  });

  test('the Swagger 2.0 document passes validation', async () => {
    await SwaggerParser.validate(structuredClone(swagger2) as never);
  });

  test('every operation has a unique operationId and a summary', () => {
    for (const doc of [openapi, swagger2]) {
      const ops = operations(doc);
      assert.ok(ops.length > 0);
      const ids = ops.map(({ op }) => op.operationId);
      assert.deepEqual(ids.filter((id, i) => ids.indexOf(id) !== i), [], 'duplicate operationIds');
      for (const { where, op } of ops) {
        assert.equal(typeof op.operationId, 'string', `${where}: operationId`);
        assert.ok(typeof op.summary === 'string' && op.summary.trim(), `${where}: summary`);
      }
    }
    assert.deepEqual(
      operations(swagger2).map(({ op }) => op.operationId).sort(),
      operations(openapi).map(({ op }) => op.operationId).sort(),
      'both documents have the same operations',
    );
  });

  test('every parameter has a description', () => {
    for (const doc of [openapi, swagger2]) {
      const missing = operations(doc).flatMap(({ where, op }) =>
        parametersOf(op)
          .filter((p) => typeof p.description !== 'string' || !p.description.trim())
          .map((p) => `${where}: ${p.in} ${p.name}`),
      );
      assert.deepEqual(missing, [], `${doc.openapi ? 'OpenAPI 3' : 'Swagger 2'}: parameters without a description`);
    }
  });

  test('Swagger 2.0 defines the Ocp-Apim-Subscription-Key header and requires it', () => {
    const defs = (swagger2.securityDefinitions ?? {}) as Record<string, Json>;
    const entry = Object.entries(defs).find(([, d]) => d.name === 'Ocp-Apim-Subscription-Key');
    assert.ok(entry, 'a securityDefinition for Ocp-Apim-Subscription-Key');
    const [name, def] = entry;
    assert.equal(def.type, 'apiKey');
    assert.equal(def.in, 'header');
    assert.ok((swagger2.security as Json[]).some((r) => name in r), 'the top-level security names it');
    for (const [n, d] of Object.entries(defs)) assert.ok(['apiKey', 'basic', 'oauth2'].includes(d.type as string), `${n}: type ${d.type}`);
  });

  test('the Swagger 2.0 document holds nothing connector importers reject', () => {
    assert.ok(Array.isArray(swagger2.schemes) && swagger2.schemes.length > 0, 'schemes is a non-empty array');
    assert.ok(isObject(swagger2.paths) && Object.keys(swagger2.paths).length > 0, 'paths is not empty');
    assert.equal(swagger2.basePath, '/');
    assert.deepEqual(operationProblems(swagger2), []);
    assert.deepEqual(schemaProblems(swagger2), []);
  });

  test('the OpenAPI 3.0 document has no null types, null unions or $ref siblings', () => {
    assert.deepEqual(operationProblems(openapi), []);
    assert.deepEqual(schemaProblems(openapi), []);
  });

  test('route schemas say null with Nullable, not with a union (fast-json-stringify serializes it directly)', () => {
    const problems: string[] = [];
    for (const r of registered) {
      const s = r.schema ?? {};
      const parts: [string, unknown][] = [
        ...['body', 'querystring', 'params', 'headers'].map((k): [string, unknown] => [k, s[k]]),
        ...Object.entries((s.response ?? {}) as Json).map(([status, x]): [string, unknown] => [`response ${status}`, x]),
      ];
      for (const [part, schema] of parts)
        eachSchema(schema, `${r.method} ${r.url} ${part}`, (x, where) => {
          for (const k of ['anyOf', 'oneOf']) if (Array.isArray(x[k]) && x[k].some(isNullSchema)) problems.push(`${where}: ${k} with null`);
          // a bare Type.Null() response (204) is fine: it documents "no body"
          if (x.type === 'null' && x !== schema) problems.push(`${where}: type null`);
        });
    }
    assert.deepEqual(problems, []);
  });

  test('responses with nullable attributes serialize null and values', async () => {
    const key = generateKey();
    await registerKey(services.store, key, { instanceId: null, role: 'Administrator', name: 'openapi-test' });
    cpSync(path.resolve(import.meta.dirname, '../fixtures/tiny'), path.join(dir, 'tiny'), { recursive: true });
    const { definition, baseDir } = loadInstanceDefinition(path.join(dir, 'tiny', 'instance.yaml'));
    await services.store.putInstance({ id: definition.id, name: definition.name ?? definition.id, definition, sourceFile: path.join(dir, 'tiny', 'instance.yaml'), baseDir });
    const call = async (method: 'GET' | 'POST', url: string) => {
      const res = await app.inject({ method, url, headers: { 'ocp-apim-subscription-key': key } });
      assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
      return res.json();
    };
    const [listed] = await call('GET', '/api/instances');
    assert.equal(listed.instanceId, 'tiny');
    assert.equal(listed.currentGeneration, null);
    assert.ok('description' in listed && (listed.description === null || typeof listed.description === 'string'));

    const started = await call('POST', '/api/instances/tiny/workflows/main/jobs');
    assert.equal(started.endTimestamp, null);
    assert.equal(started.error, null);
    let job = started;
    for (let i = 0; i < 200 && (job.jobStatus === 'queued' || job.jobStatus === 'running'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      job = await call('GET', `/api/instances/tiny/workflows/main/jobs/${started.jobId}`);
    }
    assert.equal(job.jobStatus, 'successful', JSON.stringify(job));
    assert.equal(typeof job.startTimestamp, 'string');
    assert.equal(typeof job.endTimestamp, 'string');
    assert.equal(job.error, null);
    assert.equal(Number.isInteger((await call('GET', '/api/instances/tiny')).currentGeneration), true);
  });

  test('nullable attributes are nullable in OpenAPI 3.0 and x-nullable in Swagger 2.0', () => {
    const path3 = (openapi.paths as Json)['/api/instances/{instanceId}/workflows/{workflowName}/jobs/{jobId}'] as Json;
    const job3 = (((((path3.get as Json).responses as Json)['200'] as Json).content as Json)['application/json'] as Json).schema as Json;
    assert.deepEqual((job3.properties as Json).endTimestamp, { type: 'string', nullable: true });
    const path2 = (swagger2.paths as Json)['/api/instances/{instanceId}/workflows/{workflowName}/jobs/{jobId}'] as Json;
    const job2 = (((path2.get as Json).responses as Json)['200'] as Json).schema as Json;
    assert.deepEqual((job2.properties as Json).endTimestamp, { type: 'string', 'x-nullable': true });
  });

  test('every path is under /api/ and every public /api route is documented, and nothing else', () => {
    const paths = Object.keys(openapi.paths as Json);
    assert.deepEqual(paths.filter((p) => !p.startsWith('/api/')), []);
    assert.deepEqual(Object.keys(swagger2.paths as Json), paths);

    const api = registered.filter((r) => r.url === '/api' || r.url.startsWith('/api/'));
    assert.ok(api.some((r) => r.hidden) && api.some((r) => !r.hidden), 'the onRoute hook saw the routes');
    const key = (method: string, url: string) => `${method.toUpperCase()} ${url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`;
    // HEAD routes are fastify's automatic twins of GET routes
    const expected = [...new Set(api.filter((r) => !r.hidden && r.method !== 'HEAD').map((r) => key(r.method, r.url)))].sort();
    const documented = operations(openapi).map(({ method, path: p }) => key(method, p)).sort();
    assert.deepEqual(documented, expected);
    for (const r of api.filter((x) => x.hidden)) assert.ok(!documented.includes(key(r.method, r.url)), `hidden ${key(r.method, r.url)} is documented`);
  });
});

describe('Swagger 2.0 schema conversion', () => {
  test('null unions, type arrays and anyOf collapse; $ref stands alone; unknown keywords go', () => {
    assert.deepEqual(toSchema2({ anyOf: [{ type: 'string' }, { type: 'null' }], description: 'd' }), { type: 'string', description: 'd', 'x-nullable': true });
    assert.deepEqual(toSchema2({ type: ['integer', 'null'] }), { type: 'integer', 'x-nullable': true });
    assert.deepEqual(toSchema2({ type: 'object', nullable: true, enum: [null] }), { type: 'object', 'x-nullable': true });
    assert.deepEqual(toSchema2({ anyOf: [{ type: 'object', additionalProperties: true }, { type: 'string' }], description: 'd' }), {
      type: 'object',
      additionalProperties: true,
      description: 'd',
    });
    assert.deepEqual(toSchema2({ $ref: '#/components/schemas/Job', description: 'd', nullable: true }), { $ref: '#/definitions/Job' });
    assert.deepEqual(toSchema2({ type: 'string', const: 'a', writeOnly: true, examples: ['a'] }), { type: 'string', enum: ['a'], example: 'a' });
    assert.deepEqual(toSchema2({ type: 'array' }), { type: 'array', items: {} });
    // property names are not keywords
    assert.deepEqual(toSchema2({ type: 'object', properties: { nullable: { type: 'boolean' }, $ref: { type: 'string' } } }), {
      type: 'object',
      properties: { nullable: { type: 'boolean' }, $ref: { type: 'string' } },
    });
  });

  test('parameters, bodies, headers and security schemes', async () => {
    const doc = toSwagger2(
      {
        openapi: '3.0.3',
        info: { title: 't', version: '1' },
        components: {
          securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'K' }, cookie: { type: 'apiKey', in: 'cookie', name: 'c' } },
          schemas: { Thing: { type: 'object', properties: { at: { type: 'string', nullable: true } } } },
        },
        security: [{ key: [] }, { cookie: [] }],
        paths: {
          '/things/{id}': {
            parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'Id' }],
            summary: 'not an operation',
            post: {
              operationId: 'Things_Post',
              summary: 's',
              parameters: [
                { name: 'tags', in: 'query', schema: { type: 'array', items: { type: 'string' } }, description: 'Tags' },
                { name: 'filter', in: 'query', schema: { type: 'object' }, description: 'Filter' },
                { name: 'session', in: 'cookie', schema: { type: 'string' } },
              ],
              requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } } },
              responses: {
                '201': {
                  description: 'Created',
                  headers: { Location: { schema: { type: 'string' } } },
                  content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } },
                },
                '204': { description: '' },
              },
            },
          },
        },
      },
      { host: 'example.com:8080' },
    );
    await SwaggerParser.validate(structuredClone(doc) as never);
    assert.equal(doc.host, 'example.com:8080');
    assert.deepEqual(Object.keys(doc.securityDefinitions as Json), ['key']);
    assert.deepEqual(doc.security, [{ key: [] }]);
    const op = ((doc.paths as Json)['/things/{id}'] as Json).post as Json;
    assert.deepEqual(Object.keys((doc.paths as Json)['/things/{id}'] as Json), ['post']);
    const params = op.parameters as Json[];
    assert.deepEqual(
      params.map((p) => [p.name, p.in, p.type ?? null, p.required]),
      [
        ['id', 'path', 'string', true],
        ['tags', 'query', 'array', false],
        ['filter', 'query', 'string', false],
        ['body', 'body', null, true],
      ],
    );
    assert.equal(params[1].collectionFormat, 'multi');
    assert.deepEqual(params[3].schema, { $ref: '#/definitions/Thing' });
    assert.deepEqual(((doc.definitions as Json).Thing as Json).properties, { at: { type: 'string', 'x-nullable': true } });
    const responses = op.responses as Record<string, Json>;
    assert.deepEqual(responses['201'].headers, { Location: { description: 'Location', type: 'string' } });
    assert.equal(responses['204'].description, 'Response');
    assert.equal(toSwagger2({ info: {}, paths: {} }, { host: 'bad/host' }).host, undefined);
  });
});

describe('Nullable', () => {
  test('validates and serializes null and values, in bodies and responses', async () => {
    const Thing = Type.Object({ at: Nullable(Type.String()), n: Nullable(Type.Integer()), o: Nullable(Type.Object({ z: Type.String() })) });
    assert.deepEqual({ ...Thing.properties.at }, { type: 'string', nullable: true });
    const app = Fastify({ ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, allErrors: false } } });
    app.post('/thing', { schema: { body: Thing, response: { 200: Type.Object({ ...Thing.properties, extra: Nullable(Type.String()) }) } } }, async (request) => ({
      ...(request.body as object),
      extra: null,
    }));
    try {
      for (const body of [
        { at: null, n: null, o: null },
        { at: 'x', n: 3, o: { z: 'q' } },
      ]) {
        const res = await app.inject({ method: 'POST', url: '/thing', payload: body });
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual(res.json(), { ...body, extra: null });
      }
      assert.equal((await app.inject({ method: 'POST', url: '/thing', payload: { at: null, n: 'x', o: null } })).statusCode, 400);
    } finally {
      await app.close();
    }
    assert.throws(() => Nullable(Type.Union([Type.String(), Type.Integer()])), /single type/);
  });
});
