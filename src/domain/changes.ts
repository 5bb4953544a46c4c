// What the change feed carries: one Change per committed real-time write, and the compact form in
// which a node tells the other nodes about a committed group (a PostgreSQL NOTIFY payload, which
// must stay under 8000 bytes). Pure; no I/O.
import type { RealtimeResult, RealtimeWrite } from './realtime.js';

export interface Change {
  instanceId: string;
  customerId: string;
  kind: 'profile' | 'activity';
  /** When the write committed (ISO). */
  at: string;
  /** Changed attributes (profile updates). */
  attributes?: string[];
  activityId?: string;
  validUntil?: string;
}

/** The changes a group of writes made: updated profiles and newly created activities (replays change nothing). */
export function changesOf(writes: readonly RealtimeWrite[], results: readonly RealtimeResult[], at: string): Change[] {
  const changes: Change[] = [];
  results.forEach((r, i) => {
    const w = writes[i];
    if (r.status === 'updated' && w.kind === 'profile')
      changes.push({ instanceId: w.instanceId, customerId: w.customerId, kind: 'profile', at, attributes: Object.keys(w.changes), validUntil: w.validUntil });
    else if (r.status === 'created')
      changes.push({
        instanceId: w.instanceId,
        customerId: r.activity.CustomerId,
        kind: 'activity',
        at,
        activityId: r.activity.ActivityId,
        validUntil: r.activity.ValidUntil ?? undefined,
      });
  });
  return changes;
}

/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; this leaves room for the envelope. */
export const MAX_CHANGE_MESSAGE_BYTES = 7900;

/** One change as a tuple: [instanceId, customerId, 'p' | 'a', attributes or activityId or null, validUntil or null]. */
type ChangeTuple = [string, string, 'p' | 'a', string[] | string | null, string | null];

interface ChangeMessage {
  /** The node that committed the writes (it served its own subscribers already). */
  n: string;
  at: string;
  c: ChangeTuple[];
}

function tupleOf(c: Change): ChangeTuple {
  return c.kind === 'profile'
    ? [c.instanceId, c.customerId, 'p', c.attributes ?? null, c.validUntil ?? null]
    : [c.instanceId, c.customerId, 'a', c.activityId ?? null, c.validUntil ?? null];
}

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/**
 * The changes of one committed group as messages of at most maxBytes each, in order. A change too
 * large for a message of its own (hundreds of long attribute names) goes without its attribute
 * list: subscribers reload the profile anyway. Every change is sent; all carry the same `at`.
 */
export function encodeChangeMessages(nodeId: string, changes: readonly Change[], maxBytes = MAX_CHANGE_MESSAGE_BYTES): string[] {
  if (!changes.length) return [];
  const at = changes[0].at;
  const head = `{"n":${JSON.stringify(nodeId)},"at":${JSON.stringify(at)},"c":[`;
  const messages: string[] = [];
  let body = '';
  for (const change of changes) {
    let item = JSON.stringify(tupleOf(change));
    if (bytes(head) + bytes(item) + 2 > maxBytes) item = JSON.stringify(tupleOf({ ...change, attributes: undefined }));
    if (body && bytes(head) + bytes(body) + 1 + bytes(item) + 2 > maxBytes) {
      messages.push(`${head}${body}]}`);
      body = '';
    }
    body = body ? `${body},${item}` : item;
  }
  messages.push(`${head}${body}]}`);
  return messages;
}

/** The node and the changes of a message made by encodeChangeMessages; null for anything else. */
export function decodeChangeMessage(text: string): { nodeId: string; changes: Change[] } | null {
  let message: ChangeMessage;
  try {
    message = JSON.parse(text) as ChangeMessage;
  } catch {
    return null;
  }
  if (typeof message?.n !== 'string' || typeof message.at !== 'string' || !Array.isArray(message.c)) return null;
  const changes = message.c.map(([instanceId, customerId, kind, detail, validUntil]): Change => {
    const change: Change = { instanceId, customerId, kind: kind === 'p' ? 'profile' : 'activity', at: message.at };
    if (kind === 'p') {
      if (Array.isArray(detail)) change.attributes = detail;
    } else if (typeof detail === 'string') change.activityId = detail;
    if (validUntil !== null) change.validUntil = validUntil;
    return change;
  });
  return { nodeId: message.n, changes };
}
