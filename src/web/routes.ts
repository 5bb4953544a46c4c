// The web UI: one HTML shell at /, static ES modules and CSS from src/web/public (no build step),
// uPlot from node_modules, and the session endpoints (sign in with an API key, who am I, sign out).
// The pages call the /api routes with the session cookie (see session.ts).
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { hashKey } from '../api/auth.js';
import { ApiError } from '../api/errors.js';
import type { Services } from '../services.js';
import { clearSessionCookie, SessionStore, sessionIdOf, setSessionCookie, UI_HEADER } from './session.js';

// src/web/routes.ts and dist/web/routes.js both sit two levels below the package root; the assets
// stay in src/web/public in both cases (the build compiles only .ts).
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PUBLIC_DIR = path.join(PACKAGE_ROOT, 'src', 'web', 'public');
const UPLOT_DIR = path.dirname(createRequire(import.meta.url).resolve('uplot'));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};
/** File names the asset route serves: flat names only, so no path can leave the folder. */
const ASSET_NAME = /^[a-z0-9][a-z0-9-]*\.(js|css|svg)$/;

// Pages run only this server's scripts and styles; data is inserted as text, never as HTML.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

export interface WebOptions {
  services: Services;
  sessions: SessionStore;
}

export const webRoutes: FastifyPluginAsync<WebOptions> = async (app, { services, sessions }) => {
  const cache = new Map<string, Asset & { mtimeMs: number }>();

  /** A file's bytes and ETag, read again only when it changed on disk; null when it does not exist. */
  const load = (file: string): Asset | null => {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(file).mtimeMs;
    } catch {
      return null;
    }
    const cached = cache.get(file);
    if (cached && cached.mtimeMs === mtimeMs) return cached;
    const body = readFileSync(file);
    const asset = { body, mtimeMs, type: TYPES[path.extname(file)] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
    cache.set(file, asset);
    return asset;
  };

  const send = (reply: FastifyReply, asset: Asset, ifNoneMatch: string | undefined) => {
    reply.header('content-type', asset.type).header('etag', asset.etag).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff');
    if (ifNoneMatch === asset.etag) return reply.status(304).send();
    return reply.send(asset.body);
  };

  const page = async (request: { headers: Record<string, string | string[] | undefined> }, reply: FastifyReply) => {
    const asset = load(path.join(PUBLIC_DIR, 'index.html'));
    if (!asset) throw new ApiError('InternalError', `the web UI files are missing (looked in ${PUBLIC_DIR})`);
    reply.header('content-security-policy', CSP).header('referrer-policy', 'no-referrer').header('x-frame-options', 'DENY');
    return send(reply, asset, request.headers['if-none-match'] as string | undefined);
  };
  app.get('/', { schema: { hide: true } }, page);
  app.get('/ui', { schema: { hide: true } }, page);

  app.get<{ Params: { file: string } }>('/ui/assets/:file', { schema: { hide: true } }, async (request, reply) => {
    const { file } = request.params;
    const asset = ASSET_NAME.test(file) ? load(path.join(PUBLIC_DIR, file)) : null;
    if (!asset) throw new ApiError('NotFound', `no asset '${file}'`, 'file');
    return send(reply, asset, request.headers['if-none-match']);
  });

  const vendor: Record<string, string> = { 'uplot.js': 'uPlot.iife.min.js', 'uplot.css': 'uPlot.min.css' };
  app.get<{ Params: { file: string } }>('/ui/vendor/:file', { schema: { hide: true } }, async (request, reply) => {
    const name = vendor[request.params.file];
    const asset = name ? load(path.join(UPLOT_DIR, name)) : null;
    if (!asset) throw new ApiError('NotFound', `no vendor file '${request.params.file}'`, 'file');
    return send(reply, asset, request.headers['if-none-match']);
  });

  /** The key behind a key hash if it may still be used, as the UI needs to know it. */
  const keyInfo = async (keyHash: string) => {
    // Through the authenticator: the same cache, revocation and role rules as every API request.
    const record = await services.auth.lookup(keyHash);
    if (!record) return undefined;
    return { role: record.role, instanceId: record.instanceId, name: record.name, prefix: record.prefix, expiresAt: record.expiresAt };
  };

  // Sign in: JSON {key}. The custom header keeps cross-site forms from signing a browser in.
  app.post<{ Body: unknown }>('/ui/session', { schema: { hide: true } }, async (request, reply) => {
    if (!request.headers[UI_HEADER]) throw new ApiError('Forbidden', `sign-in requests must send the header 'X-Kindred-UI: 1'`, 'X-Kindred-UI');
    const body = request.body as { key?: unknown } | undefined;
    const key = typeof body?.key === 'string' ? body.key.trim() : '';
    if (!key) throw new ApiError('BadRequest', 'the body must be JSON {"key": "<API key>"}', 'key');
    if (key.length > 512) throw new ApiError('BadRequest', 'the API key is too long', 'key');
    const keyHash = hashKey(key);
    const info = await keyInfo(keyHash);
    if (!info) throw new ApiError('Unauthorized', 'the API key is not valid (unknown, revoked or expired)', 'key');
    await sessions.delete(sessionIdOf(request));
    const id = await sessions.create(keyHash);
    setSessionCookie(request, reply, id, sessions.maxAgeMs);
    reply.header('cache-control', 'no-store');
    return reply.status(201).send({ ...info, idleTimeoutSeconds: Math.floor(sessions.idleMs / 1000) });
  });

  app.get('/ui/session', { schema: { hide: true } }, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const keyHash = await sessions.resolve(sessionIdOf(request));
    const info = keyHash ? await keyInfo(keyHash) : undefined;
    if (!info) throw new ApiError('Unauthorized', 'not signed in (or the session ended)');
    return { ...info, idleTimeoutSeconds: Math.floor(sessions.idleMs / 1000) };
  });

  app.delete('/ui/session', { schema: { hide: true } }, async (request, reply) => {
    if (!request.headers[UI_HEADER]) throw new ApiError('Forbidden', `sign-out requests must send the header 'X-Kindred-UI: 1'`, 'X-Kindred-UI');
    await sessions.delete(sessionIdOf(request));
    clearSessionCookie(request, reply);
    return reply.status(204).send();
  });
};
