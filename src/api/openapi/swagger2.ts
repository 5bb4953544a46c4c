// Converts the served OpenAPI 3 document to Swagger 2.0, the format low-code connector importers
// take. Covers what this API's document uses: path and query parameters, JSON bodies, JSON
// responses, component schemas and the API key / bearer security schemes.
type Json = Record<string, unknown>;

function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value && typeof value === 'object') {
    const out: Json = {};
    for (const [k, v] of Object.entries(value as Json)) {
      if (k === '$ref' && typeof v === 'string') out[k] = v.replace('#/components/schemas/', '#/definitions/');
      else if (k === 'nullable') out['x-nullable'] = v;
      else out[k] = rewriteRefs(v);
    }
    return out;
  }
  return value;
}

export function toSwagger2(doc: Json): Json {
  const components = (doc.components ?? {}) as Json;
  const schemes = (components.securitySchemes ?? {}) as Record<string, Json>;
  const securityDefinitions: Json = {};
  for (const [name, s] of Object.entries(schemes)) {
    if (s.type === 'apiKey') securityDefinitions[name] = { type: 'apiKey', in: s.in, name: s.name };
    else if (s.type === 'http' && s.scheme === 'bearer')
      securityDefinitions[name] = { type: 'apiKey', in: 'header', name: 'Authorization', description: 'Bearer <API key>' };
  }
  const paths: Json = {};
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Record<string, Json>)) {
    const outItem: Json = {};
    for (const [method, op] of Object.entries(item) as [string, Json][]) {
      const parameters = ((op.parameters ?? []) as Json[]).map((p) => {
        const schema = (p.schema ?? {}) as Json;
        const param: Json = { name: p.name, in: p.in, required: p.in === 'path' ? true : Boolean(p.required), description: p.description ?? schema.description ?? p.name };
        param.type = typeof schema.type === 'string' ? schema.type : 'string';
        for (const k of ['format', 'enum', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'default'])
          if (schema[k] !== undefined) param[k] = schema[k];
        return param;
      });
      const body = op.requestBody as Json | undefined;
      if (body) {
        const content = (body.content ?? {}) as Record<string, Json>;
        const json = content['application/json'] ?? Object.values(content)[0];
        parameters.push({ name: 'body', in: 'body', required: Boolean(body.required), description: (body.description as string) ?? 'Request body', schema: rewriteRefs(json?.schema ?? { type: 'object' }) });
      }
      const responses: Json = {};
      for (const [status, r] of Object.entries((op.responses ?? {}) as Record<string, Json>)) {
        const content = (r.content ?? {}) as Record<string, Json>;
        const json = content['application/json'] ?? Object.values(content)[0];
        responses[status] = { description: (r.description as string) || 'Response', ...(json?.schema ? { schema: rewriteRefs(json.schema) } : {}) };
      }
      outItem[method] = {
        operationId: op.operationId,
        summary: op.summary,
        description: op.description ?? op.summary,
        tags: op.tags,
        consumes: body ? Object.keys((body.content ?? {}) as Json) : undefined,
        produces: ['application/json'],
        parameters,
        responses,
      };
    }
    paths[path] = outItem;
  }
  const info = doc.info as Json;
  return {
    swagger: '2.0',
    info: { title: info.title, version: info.version, description: info.description },
    basePath: '/',
    schemes: ['http', 'https'],
    consumes: ['application/json'],
    produces: ['application/json'],
    securityDefinitions,
    security: Object.keys(securityDefinitions).map((k) => ({ [k]: [] })),
    paths,
    definitions: rewriteRefs(components.schemas ?? {}),
  };
}
