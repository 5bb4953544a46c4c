// The server log: JSON lines (Fastify's pino logger). Secrets never reach it: the headers that
// carry API keys, tokens and cookies, and key fields of bodies, are redacted wherever they appear.
import type { FastifyServerOptions } from 'fastify';

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
