// The Swagger 2.0 document as a low-code connector importer (Power Platform custom connectors,
// Logic Apps) reads it: the rules such importers apply, checked on the served document, including
// the connect routes (webhooks, consumers).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { workspace, type Workspace } from '../api/helpers.js';
import { CONNECT_FIXTURE } from './helpers.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** Every schema node under `s` with its location. */
function* schemas(s: unknown, where: string): Generator<[Json, string]> {
  if (!isObject(s)) return;
  yield [s, where];
  for (const [k, v] of Object.entries(s)) {
    if (k === 'properties' && isObject(v)) for (const [p, ps] of Object.entries(v)) yield* schemas(ps, `${where}.${p}`);
    else if ((k === 'items' || k === 'additionalProperties') && isObject(v)) yield* schemas(v, `${where}[${k}]`);
    else if ((k === 'allOf' || k === 'anyOf' || k === 'oneOf') && Array.isArray(v)) for (const [i, m] of v.entries()) yield* schemas(m, `${where}.${k}[${i}]`);
  }
}

describe('Swagger 2.0 for connector importers', () => {
  let ws: Workspace;
  let doc: Json;
  const ops: { where: string; path: string; method: string; op: Json; item: Json }[] = [];

  before(async () => {
    ws = await workspace({ definition: CONNECT_FIXTURE });
    const res = await ws.request('GET', '/api/swagger.json', { key: null, headers: { host: 'cdp.example.com' } });
    assert.equal(res.statusCode, 200);
    doc = res.json();
    for (const [p, item] of Object.entries(doc.paths as Json))
      for (const m of METHODS) if (isObject((item as Json)[m])) ops.push({ where: `${m.toUpperCase()} ${p}`, path: p, method: m, op: (item as Json)[m] as Json, item: item as Json });
  });
  after(async () => ws?.close());

  test('a valid Swagger 2.0 document naming this host, with the connect operations', async () => {
    await SwaggerParser.validate(structuredClone(doc) as never);
    assert.equal(doc.swagger, '2.0');
    assert.equal(doc.host, 'cdp.example.com');
    const ids = ops.map((o) => o.op.operationId);
    for (const id of ['Hooks_Receive', 'Consumers_List', 'Data_Batch', 'Data_CreateActivity', 'Data_UpdateProfile', 'Data_List', 'Profile_GetKeyRing', 'Workflows_StartJob'])
      assert.ok(ids.includes(id), `${id} is in the document`);
  });

  test('operationIds are unique (also ignoring case) and identifiers; every operation has a summary and a 2xx response', () => {
    const seen = new Map<string, string>();
    for (const { where, op } of ops) {
      assert.match(String(op.operationId), /^[A-Za-z][A-Za-z0-9_]*$/, `${where}: operationId`);
      const lower = String(op.operationId).toLowerCase();
      assert.ok(!seen.has(lower), `${where}: operationId ${op.operationId} also used by ${seen.get(lower)}`);
      seen.set(lower, where);
      assert.ok(typeof op.summary === 'string' && op.summary.trim().length > 0, `${where}: summary`);
      assert.ok(Object.keys(op.responses as Json).some((s) => /^2\d\d$/.test(s)), `${where}: a success response`);
    }
  });

  test('parameters: described, path parameters declared and required, at most one body, no file parameters', () => {
    for (const { where, path, op, item } of ops) {
      const params = [...((item.parameters as Json[]) ?? []), ...((op.parameters as Json[]) ?? [])];
      for (const p of params) {
        assert.ok(typeof p.description === 'string' && p.description.trim(), `${where}: parameter ${p.name} has a description`);
        assert.notEqual(p.type, 'file', `${where}: file parameter ${p.name}`);
        assert.notEqual(p.in, 'formData', `${where}: formData parameter ${p.name} in a JSON operation`);
      }
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      const declared = params.filter((p) => p.in === 'path');
      assert.deepEqual(declared.map((p) => p.name).sort(), inPath, `${where}: path parameters`);
      for (const p of declared) assert.equal(p.required, true, `${where}: path parameter ${p.name} is required`);
      assert.ok(params.filter((p) => p.in === 'body').length <= 1, `${where}: one body parameter`);
    }
  });

  test('security: an apiKey definition for the Ocp-Apim-Subscription-Key header, required by every operation', () => {
    const defs = doc.securityDefinitions as Record<string, Json>;
    const apiKey = Object.entries(defs).find(([, d]) => d.type === 'apiKey' && d.in === 'header' && d.name === 'Ocp-Apim-Subscription-Key');
    assert.ok(apiKey, JSON.stringify(defs));
    const global = (doc.security as Json[] | undefined) ?? [];
    for (const { where, op } of ops) {
      const security = (op.security as Json[] | undefined) ?? global;
      assert.ok(security.some((s) => apiKey![0] in s), `${where}: secured by the API key`);
    }
  });

  test('no unsupported constructs: nullable, unions at the top of bodies, discriminators, paths outside the base path', () => {
    assert.equal(typeof doc.basePath, 'string');
    const problems: string[] = [];
    for (const { where, path, op } of ops) {
      if (!path.startsWith('/')) problems.push(`${where}: path does not start with /`);
      if (!`${doc.basePath}${path}`.replace(/\/+/g, '/').startsWith(String(doc.basePath))) problems.push(`${where}: outside the base path`);
      const body = ((op.parameters as Json[]) ?? []).find((p) => p.in === 'body');
      if (body) {
        const s = body.schema as Json;
        for (const k of ['oneOf', 'anyOf']) if (k in s) problems.push(`${where}: body is a ${k}`);
        if ('allOf' in s && 'discriminator' in s) problems.push(`${where}: body is an allOf with a discriminator`);
        for (const [node, at] of schemas(s, `${where} body`)) if ('nullable' in node) problems.push(`${at}: nullable`);
      }
      for (const [status, r] of Object.entries(op.responses as Json)) {
        for (const [node, at] of schemas((r as Json).schema, `${where} ${status}`)) {
          if ('nullable' in node) problems.push(`${at}: nullable`);
          for (const k of ['oneOf', 'anyOf']) if (k in node) problems.push(`${at}: ${k}`);
        }
      }
    }
    for (const [name, d] of Object.entries((doc.definitions as Json) ?? {})) for (const [node, at] of schemas(d, `definitions.${name}`)) if ('nullable' in node) problems.push(`${at}: nullable`);
    assert.deepEqual(problems, []);
  });

  test('the webhook operation takes a JSON object body, so a connector can send any payload', () => {
    const hook = ops.find((o) => o.op.operationId === 'Hooks_Receive')!;
    const body = (hook.op.parameters as Json[]).find((p) => p.in === 'body')!;
    assert.equal((body.schema as Json).type, 'object');
    assert.ok((hook.op.consumes as string[]).includes('application/json'));
  });
});
