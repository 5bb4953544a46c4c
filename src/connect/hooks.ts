// Webhooks: which hook a name means, its compiled mapping, and the HMAC signature check.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { CatalogEntry } from '../api/catalog.js';
import type { ConsumerDef, HookDef } from '../config/schema.js';
import { compileMapping, type CompiledMapping, type MappingDef } from './mapping.js';

export const DEFAULT_SIGNATURE_HEADER = 'X-Kindred-Signature';

const compiled = new WeakMap<CatalogEntry, Map<string, CompiledMapping>>();

/** The mapping of a hook or consumer (a consumer may name a hook to reuse its mapping). */
export function mappingOf(def: HookDef | ConsumerDef, hooks: readonly HookDef[] = []): MappingDef {
  if ('hook' in def && def.hook) {
    const hook = hooks.find((h) => h.name === def.hook);
    if (!hook) throw new Error(`consumer '${def.name}' names hook '${def.hook}', which does not exist`);
    return hook;
  }
  return { entity: def.entity!, customer: def.customer, fields: def.fields ?? {}, each: def.each };
}

/** Compiled once per catalog entry (the entry changes when the definition does). */
export function compiledMapping(entry: CatalogEntry, kind: 'hook' | 'consumer', def: HookDef | ConsumerDef): CompiledMapping {
  let cache = compiled.get(entry);
  if (!cache) {
    cache = new Map();
    compiled.set(entry, cache);
  }
  const key = `${kind}:${def.name}`;
  let mapping = cache.get(key);
  if (!mapping) {
    mapping = compileMapping(mappingOf(def, entry.record.definition.hooks ?? []));
    cache.set(key, mapping);
  }
  return mapping;
}

export type SignatureCheck = { ok: true } | { ok: false; status: 401 | 503; message: string };

/** Checks the HMAC of the raw body in constant time; `env` holds the secrets. */
export function checkSignature(hook: HookDef, raw: Buffer, headers: Record<string, string | string[] | undefined>, env: Record<string, string | undefined>): SignatureCheck {
  const sig = hook.signature;
  if (!sig) return { ok: true };
  const secret = env[sig.secretEnv];
  if (!secret) return { ok: false, status: 503, message: `hook '${hook.name}' needs its secret in the environment variable ${sig.secretEnv}, which is not set on the server` };
  const headerName = (sig.header ?? DEFAULT_SIGNATURE_HEADER).toLowerCase();
  const value = headers[headerName];
  const presented = Array.isArray(value) ? value[0] : value;
  if (!presented) return { ok: false, status: 401, message: `the request has no signature header ${sig.header ?? DEFAULT_SIGNATURE_HEADER}` };
  const prefix = sig.prefix ?? '';
  if (!presented.startsWith(prefix)) return { ok: false, status: 401, message: `the signature must start with '${prefix}'` };
  const expected = createHmac(sig.algorithm ?? 'sha256', secret).update(raw).digest();
  const text = presented.slice(prefix.length).trim();
  const given = (sig.encoding ?? 'hex') === 'hex' ? (/^[0-9a-fA-F]*$/.test(text) ? Buffer.from(text, 'hex') : Buffer.alloc(0)) : Buffer.from(text, 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, status: 401, message: 'the signature does not match the body' };
  return { ok: true };
}

/** The signature a sender computes (docs, tests and the client use it). */
export function sign(body: string | Buffer, secret: string, algorithm: 'sha256' | 'sha1' | 'sha512' = 'sha256', encoding: 'hex' | 'base64' = 'hex'): string {
  return createHmac(algorithm, secret).update(body).digest(encoding);
}
