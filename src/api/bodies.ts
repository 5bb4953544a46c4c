// Request bodies as clients send them.
import { ApiError } from './errors.js';
import { jsonDepthExceeded, loneSurrogateEscape, MAX_JSON_DEPTH, nulEscape } from './limits.js';

/** A request body sent as NDJSON (application/x-ndjson), kept as text for the route to split. */
export class NdjsonBody {
  constructor(readonly text: string) {}
}

/** The published Customer Insights client sends the JSON object as a JSON string; accept both. */
export function unwrapBody(body: unknown): unknown {
  if (body instanceof NdjsonBody) throw new ApiError('BadRequest', 'NDJSON bodies are accepted only by $batch; send one JSON object', 'body');
  if (body === undefined || body === null || body === '')
    throw new ApiError('BadRequest', 'the body is missing, empty or null; send a JSON object', 'body');
  if (typeof body !== 'string') return body;
  if (jsonDepthExceeded(body, MAX_JSON_DEPTH) >= 0)
    throw new ApiError('BadRequest', `the body is a string of JSON that nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`, 'body');
  if (loneSurrogateEscape(body) >= 0 || /[\uD800-\uDFFF]/.test(body.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, '')))
    throw new ApiError('BadRequest', 'the body is a string of JSON with a lone UTF-16 surrogate; strings must be Unicode text', 'body');
  const nul = nulEscape(body);
  if (nul >= 0) throw new ApiError('BadRequest', `the body is a string of JSON with a NUL character escape (\\u0000) at offset ${nul}; text cannot hold NUL`, 'body');
  try {
    return JSON.parse(body);
  } catch (err) {
    throw new ApiError('BadRequest', `the body is a string that is not valid JSON: ${(err as Error).message}`, 'body');
  }
}
