// Cookies the server sets (the customer-card UI's session, when it has one): never readable by page
// scripts (HttpOnly), never sent on cross-site requests (SameSite=Strict), and only over TLS when the
// server is behind it (Secure).

export interface CookieOptions {
  /** The request came over TLS (directly or, with a trusted proxy, X-Forwarded-Proto: https). */
  secure: boolean;
  /** Lifetime in seconds; absent: a session cookie (gone when the browser closes). */
  maxAgeSeconds?: number;
  path?: string;
}

const NAME_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VALUE_RE = /^[!#$%&'()*+\-./0-9:<=>?@A-Z[\]^_`a-z{|}~]*$/;

/** A Set-Cookie value for a session cookie with the safe attributes. */
export function sessionCookie(name: string, value: string, options: CookieOptions): string {
  if (!NAME_RE.test(name)) throw new Error(`cookie name '${name}' has characters a cookie name cannot have`);
  if (!VALUE_RE.test(value)) throw new Error('the cookie value has characters a cookie value cannot have (encode it first)');
  const parts = [`${name}=${value}`, `Path=${options.path ?? '/'}`, 'HttpOnly', 'SameSite=Strict'];
  if (options.maxAgeSeconds !== undefined) parts.push(`Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`);
  if (options.secure) parts.push('Secure');
  return parts.join('; ');
}
