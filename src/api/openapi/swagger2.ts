// Converts the served OpenAPI 3.0 document to Swagger 2.0, the format low-code connector importers
// (Power Platform custom connectors, Logic Apps) take. Covers what an OpenAPI 3.0 document made by
// @fastify/swagger holds: path, query and header parameters, JSON request bodies, responses with
// headers, component schemas and apiKey / http (bearer, basic) security schemes.
//
// Schemas are rewritten for what Swagger 2.0 and the importers accept: `nullable` becomes
// `x-nullable`; `anyOf` / `oneOf` (which Swagger 2.0 lacks) collapse to their first non-null member
// (this API's unions are "an object, or the same object as a JSON string": connectors send the
// object); null members, `type: 'null'` and type arrays become `x-nullable`; a `$ref` stands alone;
// keywords Swagger 2.0 does not know are dropped.
type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'] as const;

/** Keywords a Swagger 2.0 Schema Object may carry besides `$ref` and `x-` extensions. */
const SCHEMA_KEYWORDS = new Set([
  'format', 'title', 'description', 'default', 'multipleOf', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum',
  'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems', 'uniqueItems', 'maxProperties', 'minProperties', 'required',
  'enum', 'type', 'items', 'allOf', 'properties', 'additionalProperties', 'discriminator', 'readOnly', 'xml', 'externalDocs', 'example',
]);

/** Validation keywords a non-body parameter (and an `items` object) may carry. */
const PARAMETER_KEYWORDS = [
  'format', 'default', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum', 'maxLength', 'minLength', 'pattern',
  'maxItems', 'minItems', 'uniqueItems', 'enum', 'multipleOf',
] as const;
const PARAMETER_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'array']);

/** A host as Swagger 2.0 allows it: a name or address and an optional port, nothing else. */
const HOST = /^[^{}/ :\\[\]]+(?::\d+)?$/;

function rewriteRef(ref: string): string {
  return ref.replace(/^#\/components\/schemas\//, '#/definitions/');
}

/** A schema that accepts only null: `{type: 'null'}`, or OpenAPI 3.0's `{nullable: true, enum: [null]}`. */
function isNullOnly(s: unknown): boolean {
  if (!isObject(s)) return false;
  if (s.type === 'null') return true;
  if (Array.isArray(s.type) && s.type.length > 0 && s.type.every((t) => t === 'null')) return true;
  return Array.isArray(s.enum) && s.enum.length === 1 && s.enum[0] === null;
}

/** An OpenAPI 3.0 (or JSON Schema) schema as a Swagger 2.0 Schema Object. */
export function toSchema2(schema: unknown): Json {
  if (!isObject(schema)) return {};
  if (typeof schema.$ref === 'string') return { $ref: rewriteRef(schema.$ref) };
  let s: Json = { ...schema };
  let nullable = s.nullable === true;

  if (Array.isArray(s.type)) {
    const types = s.type.filter((t) => t !== 'null');
    if (types.length < s.type.length) nullable = true;
    if (types.length === 1) s.type = types[0];
    else delete s.type;
  } else if (s.type === 'null') {
    delete s.type;
    nullable = true;
  }
  if (isNullOnly(schema)) {
    delete s.enum;
    nullable = true;
  }
  if ('const' in s && !('enum' in s)) s.enum = [s.const];
  if (s.example === undefined && Array.isArray(s.examples) && s.examples.length) s.example = s.examples[0];

  for (const combinator of ['anyOf', 'oneOf'] as const) {
    const members = s[combinator];
    delete s[combinator];
    if (!Array.isArray(members)) continue;
    const rest = members.filter((m) => !isNullOnly(m));
    if (rest.length < members.length) nullable = true;
    if (!rest.length) continue;
    const first = toSchema2(rest[0]);
    if (typeof first.$ref === 'string') return first; // a $ref takes no siblings (nor x-nullable)
    // The member brings the shape; the union's own keywords (its description) win.
    s = { ...first, ...s };
    if (first['x-nullable'] === true) nullable = true;
  }

  const out: Json = {};
  for (const [k, v] of Object.entries(s)) {
    if (k.startsWith('x-')) out[k] = v;
    else if (!SCHEMA_KEYWORDS.has(k)) continue;
    else if (k === 'properties' && isObject(v)) out[k] = Object.fromEntries(Object.entries(v).map(([name, p]) => [name, toSchema2(p)]));
    else if (k === 'items') out[k] = toSchema2(Array.isArray(v) ? v[0] : v);
    else if (k === 'additionalProperties') out[k] = typeof v === 'boolean' ? v : toSchema2(v);
    else if (k === 'allOf' && Array.isArray(v)) {
      const members = v.filter((m) => !isNullOnly(m)).map(toSchema2);
      if (members.length) out[k] = members;
    } else out[k] = v;
  }
  if (out.type === 'array' && !out.items) out.items = {};
  if (nullable) out['x-nullable'] = true;
  return out;
}

/** A non-body parameter's type and validation keywords from its OpenAPI 3 schema. */
function simpleType(schema: Json, target: Json): void {
  const type = typeof schema.type === 'string' ? schema.type : Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : undefined;
  // Swagger 2.0 has no object parameters; the value travels as a string.
  target.type = typeof type === 'string' && PARAMETER_TYPES.has(type) ? type : 'string';
  for (const k of PARAMETER_KEYWORDS) if (schema[k] !== undefined) target[k] = schema[k];
  if (target.type === 'array') {
    const items: Json = {};
    simpleType(isObject(schema.items) ? schema.items : {}, items);
    target.items = items;
  }
}

function parameter2(p: Json): Json | undefined {
  if (p.in !== 'path' && p.in !== 'query' && p.in !== 'header') return undefined; // Swagger 2.0 has no cookie parameters
  const schema = isObject(p.schema) ? p.schema : {};
  const out: Json = {
    name: p.name,
    in: p.in,
    description: p.description ?? schema.description ?? p.name,
    required: p.in === 'path' ? true : p.required === true,
  };
  simpleType(schema, out);
  if (out.type === 'array') {
    const style = p.style ?? (p.in === 'query' ? 'form' : 'simple');
    const explode = p.explode ?? style === 'form';
    out.collectionFormat = style === 'form' && explode ? 'multi' : style === 'spaceDelimited' ? 'ssv' : style === 'pipeDelimited' ? 'pipes' : 'csv';
  }
  if (schema.nullable === true) out['x-nullable'] = true;
  if (p.deprecated === true) out['x-deprecated'] = true;
  // Power Platform encodes path parameters twice unless told otherwise.
  if (p.in === 'path') out['x-ms-url-encoding'] = 'single';
  for (const [k, v] of Object.entries(p)) if (k.startsWith('x-')) out[k] = v;
  return out;
}

/** The schema of the content type a connector uses: JSON if offered, else the first. */
function contentSchema(content: unknown): { schema?: unknown; types: string[] } {
  if (!isObject(content)) return { types: [] };
  const types = Object.keys(content);
  const json = types.find((t) => t === 'application/json') ?? types.find((t) => /[/+]json\b/.test(t)) ?? types[0];
  const media = json ? content[json] : undefined;
  return { schema: isObject(media) ? media.schema : undefined, types };
}

function securityDefinition(s: Json): Json | undefined {
  const description = typeof s.description === 'string' ? { description: s.description } : {};
  if (s.type === 'apiKey' && (s.in === 'header' || s.in === 'query')) return { type: 'apiKey', in: s.in, name: s.name, ...description };
  if (s.type === 'http' && typeof s.scheme === 'string' && s.scheme.toLowerCase() === 'basic') return { type: 'basic', ...description };
  if (s.type === 'http' && typeof s.scheme === 'string' && s.scheme.toLowerCase() === 'bearer')
    return { type: 'apiKey', in: 'header', name: 'Authorization', description: (s.description as string | undefined) ?? "'Bearer ' followed by the token" };
  return undefined;
}

/** Security requirements naming only schemes that exist in Swagger 2.0 (the others are dropped). */
function security2(requirements: unknown, known: Json): Json[] | undefined {
  if (!Array.isArray(requirements)) return undefined;
  return requirements.filter((r): r is Json => isObject(r) && Object.keys(r).every((name) => name in known));
}

export interface Swagger2Options {
  /** The host (name[:port]) clients reach the API at; left out when absent or not a valid Swagger 2.0 host. */
  host?: string;
}

export function toSwagger2(doc: Json, options: Swagger2Options = {}): Json {
  const components = isObject(doc.components) ? doc.components : {};
  const securityDefinitions: Json = {};
  for (const [name, s] of Object.entries(isObject(components.securitySchemes) ? components.securitySchemes : {})) {
    const def = isObject(s) ? securityDefinition(s) : undefined;
    if (def) securityDefinitions[name] = def;
  }

  const paths: Json = {};
  for (const [path, item] of Object.entries(isObject(doc.paths) ? doc.paths : {})) {
    if (!isObject(item)) continue;
    const shared = Array.isArray(item.parameters) ? (item.parameters as Json[]) : [];
    const outItem: Json = {};
    for (const method of METHODS) {
      const op = item[method];
      if (!isObject(op)) continue;
      const own = Array.isArray(op.parameters) ? (op.parameters as Json[]) : [];
      const merged = [...shared.filter((p) => !own.some((o) => o.name === p.name && o.in === p.in)), ...own];
      const parameters = merged.map(parameter2).filter((p): p is Json => p !== undefined);

      let consumes: string[] | undefined;
      if (isObject(op.requestBody)) {
        const body = op.requestBody;
        const { schema, types } = contentSchema(body.content);
        consumes = types.length ? types : undefined;
        parameters.push({
          name: 'body',
          in: 'body',
          required: body.required === true,
          description: typeof body.description === 'string' && body.description ? body.description : 'Request body',
          schema: toSchema2(schema ?? { type: 'object' }),
        });
      }

      const responses: Json = {};
      const produces = new Set<string>();
      for (const [status, r] of Object.entries(isObject(op.responses) ? op.responses : {})) {
        if (!isObject(r)) continue;
        const { schema, types } = contentSchema(r.content);
        types.forEach((t) => produces.add(t));
        const headers: Json = {};
        for (const [name, h] of Object.entries(isObject(r.headers) ? r.headers : {})) {
          if (!isObject(h)) continue;
          const header: Json = { description: h.description ?? name };
          simpleType(isObject(h.schema) ? h.schema : {}, header);
          headers[name] = header;
        }
        responses[status] = {
          description: typeof r.description === 'string' && r.description ? r.description : 'Response',
          ...(schema !== undefined ? { schema: toSchema2(schema) } : {}),
          ...(Object.keys(headers).length ? { headers } : {}),
        };
      }

      const security = security2(op.security, securityDefinitions);
      outItem[method] = {
        ...(Array.isArray(op.tags) ? { tags: op.tags } : {}),
        summary: op.summary,
        description: op.description ?? op.summary,
        operationId: op.operationId,
        ...(consumes ? { consumes } : {}),
        produces: produces.size ? [...produces] : ['application/json'],
        parameters,
        responses,
        ...(op.deprecated === true ? { deprecated: true } : {}),
        ...(security ? { security } : {}),
      };
    }
    if (Object.keys(outItem).length) paths[path] = outItem;
  }

  const info = isObject(doc.info) ? doc.info : {};
  const definitions = Object.fromEntries(Object.entries(isObject(components.schemas) ? components.schemas : {}).map(([name, s]) => [name, toSchema2(s)]));
  const security = security2(doc.security, securityDefinitions);
  return {
    swagger: '2.0',
    info: Object.fromEntries(['title', 'version', 'description', 'termsOfService', 'contact', 'license'].filter((k) => info[k] !== undefined).map((k) => [k, info[k]])),
    ...(options.host && HOST.test(options.host) ? { host: options.host } : {}),
    basePath: '/',
    schemes: ['https', 'http'],
    consumes: ['application/json'],
    produces: ['application/json'],
    ...(Object.keys(securityDefinitions).length ? { securityDefinitions } : {}),
    ...(security?.length ? { security } : {}),
    paths,
    ...(Object.keys(definitions).length ? { definitions } : {}),
  };
}
