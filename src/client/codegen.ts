// Renders src/client/openapi-types.ts from the served OpenAPI document: the operations (method and
// path) the client calls and the TypeScript types of their query parameters and responses. A test
// regenerates it from the running server and fails when the committed file differs (drift).
type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

function key(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : JSON.stringify(name);
}

/** A JSON Schema (OpenAPI 3.0 dialect) as a TypeScript type. */
export function schemaType(schema: unknown, indent = ''): string {
  if (!isObject(schema)) return 'unknown';
  const nullable = schema.nullable === true ? ' | null' : '';
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' | ') + nullable;
  for (const combinator of ['anyOf', 'oneOf'] as const) {
    const members = schema[combinator];
    if (Array.isArray(members)) return [...new Set(members.map((m) => schemaType(m, indent)))].join(' | ') + nullable;
  }
  switch (schema.type) {
    case 'string':
      return 'string' + nullable;
    case 'integer':
    case 'number':
      return 'number' + nullable;
    case 'boolean':
      return 'boolean' + nullable;
    case 'null':
      return 'null';
    case 'array':
      return `Array<${schemaType(schema.items, indent)}>` + nullable;
    case 'object': {
      const properties = isObject(schema.properties) ? schema.properties : {};
      const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
      const inner = indent + '  ';
      const lines = Object.entries(properties).map(([name, s]) => `${inner}${key(name)}${required.has(name) ? '' : '?'}: ${schemaType(s, inner)};`);
      if (schema.additionalProperties === true || isObject(schema.additionalProperties) || !Object.keys(properties).length)
        lines.push(`${inner}[key: string]: unknown;`);
      return `{\n${lines.join('\n')}\n${indent}}` + nullable;
    }
    default:
      return 'unknown';
  }
}

/** The module text for a document. */
export function renderTypes(doc: Json): string {
  const ops: { id: string; method: string; path: string; query: string; response: string; body: boolean }[] = [];
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Json)) {
    for (const method of METHODS) {
      const op = (item as Json)[method];
      if (!isObject(op) || typeof op.operationId !== 'string') continue;
      const params = (Array.isArray(op.parameters) ? op.parameters : []) as Json[];
      const query = params
        .filter((p) => p.in === 'query')
        .map((p) => `    ${key(p.name as string)}${p.required ? '' : '?'}: ${schemaType(p.schema, '    ')};`);
      const responses = (op.responses ?? {}) as Json;
      const status = ['200', '201', '202', '204'].find((s) => s in responses);
      const content = status ? ((responses[status] as Json).content as Json | undefined) : undefined;
      const json = content?.['application/json'] as Json | undefined;
      const response = status === '204' || !json ? 'void' : schemaType(json.schema, '  ');
      ops.push({ id: op.operationId, method: method.toUpperCase(), path, query: query.length ? `{\n${query.join('\n')}\n  }` : 'Record<string, never>', response, body: isObject(op.requestBody) });
    }
  }
  ops.sort((a, b) => a.id.localeCompare(b.id));
  const out: string[] = [
    '// Generated from the served OpenAPI document by `npm run gen:client`; do not edit.',
    '// test/client/drift.test.ts fails when the server and this file disagree.',
    '',
    'export const operations = {',
    ...ops.map((o) => `  ${o.id}: { method: '${o.method}', path: '${o.path}' },`),
    '} as const;',
    '',
    'export type OperationId = keyof typeof operations;',
    '',
    '/** Query parameters of each operation. */',
    'export interface Queries {',
    ...ops.map((o) => `  ${o.id}: ${o.query};`),
    '}',
    '',
    '/** The success response body of each operation. */',
    'export interface Responses {',
    ...ops.map((o) => `  ${o.id}: ${o.response};`),
    '}',
    '',
  ];
  return out.join('\n');
}
