// HMAC-SHA256 signatures of outgoing requests (exports to HTTP, notification webhooks). The
// receiver recomputes HMAC(secret, `${timestamp}.${body}`) and compares it with the header; the
// timestamp lets it refuse replays.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-kindred-signature';
export const TIMESTAMP_HEADER = 'x-kindred-timestamp';

export function sign(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** For receivers (and tests): is `signature` the one of this body and timestamp? */
export function verifySignature(secret: string, timestamp: string, body: string, signature: string): boolean {
  const expected = Buffer.from(sign(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
