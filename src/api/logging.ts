// The server log: JSON lines (Fastify's pino logger). Secrets never reach it: the headers that
// carry API keys, tokens and cookies, and key fields of bodies, are redacted wherever they appear.
import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';

export interface LogOptions {
  /** pino level; default 'info'. */
  level?: string;
  /** Where the lines go (default: standard output); tests capture them. */
  stream?: { write(line: string): void };
}

// pino paths: plain names after a dot, names with a dash in brackets.
const SECRET_HEADERS = ['.authorization', '["ocp-apim-subscription-key"]', '.cookie', '["set-cookie"]', '["proxy-authorization"]', '["x-api-key"]'];
const SECRET_FIELDS = ['key', 'apiKey', 'token', 'access_token', 'id_token', 'secret', 'password'];

/** pino redact paths: secret headers of requests/responses however they are logged, and key fields of bodies. */
export const REDACT_PATHS: string[] = [
  ...SECRET_HEADERS.flatMap((h) => [`req.headers${h}`, `res.headers${h}`, `headers${h}`, `request.headers${h}`, `*.headers${h}`]),
  ...SECRET_FIELDS.flatMap((f) => [`body.${f}`, `req.body.${f}`, `*.body.${f}`, f]),
];

export function loggerOptions(options: boolean | LogOptions | undefined): FastifyServerOptions['logger'] {
  if (!options) return false;
  const o = options === true ? {} : options;
  return {
    level: o.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(o.stream ? { stream: o.stream } : {}),
  };
}

type ChildLoggerFactory = (logger: FastifyBaseLogger, bindings: Record<string, unknown>, options: object) => FastifyBaseLogger;

/**
 * Fastify's per-request child logger (it binds the request id), made without pino's redaction of
 * the binding: with wildcard redact paths pino runs every binding through the redactor, which for
 * that one server-made string changes nothing but costs about 3 µs and 7 KB of garbage per request
 * (some 5 % of the main thread under real-time load). The binding is appended as pino writes it.
 * Anything else (route log options, other values) takes pino's own way.
 */
export function requestChildLoggerFactory(): ChildLoggerFactory {
  let chindings: symbol | undefined | null;
  return (logger, bindings, options) => {
    const keys = Object.keys(bindings);
    const value = keys.length === 1 ? bindings[keys[0]] : undefined;
    if (chindings === null || (typeof value !== 'string' && typeof value !== 'number') || Object.keys(options).length) return logger.child(bindings, options);
    const child = logger.child({});
    // pino keeps a child's bindings as JSON text under its (unexported) chindings symbol.
    chindings ??= Object.getOwnPropertySymbols(child).find((s) => s.description === 'pino.chindings') ?? null;
    const record = child as unknown as Record<symbol, unknown>;
    if (chindings === null || typeof record[chindings] !== 'string') {
      chindings = null;
      return logger.child(bindings, options);
    }
    record[chindings] += `,${JSON.stringify(keys[0])}:${JSON.stringify(value)}`;
    return child;
  };
}
