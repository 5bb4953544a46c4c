// kindred tail: prints the change feed of an instance (or one customer), one JSON line per change.
import { KindredClient } from '../../client/index.js';
import { CliError } from '../errors.js';

export interface TailOptions {
  instanceId: string;
  customerId?: string;
  url?: string;
  key?: string;
  /** Stop after this many changes. */
  count?: number;
  stdout?: NodeJS.WritableStream;
  signal?: AbortSignal;
}

export async function tail(o: TailOptions): Promise<number> {
  if (!o.url) throw new CliError('the server address is needed: --url or KINDRED_URL');
  if (!o.key) throw new CliError('an API key is needed: --key or KINDRED_KEY');
  const out = o.stdout ?? process.stdout;
  const client = new KindredClient({ url: o.url, key: o.key });
  const abort = new AbortController();
  o.signal?.addEventListener('abort', () => abort.abort());
  let n = 0;
  try {
    for await (const change of client.changes(o.instanceId, { customerId: o.customerId, signal: abort.signal })) {
      out.write(`${JSON.stringify(change)}\n`);
      n++;
      if (o.count !== undefined && n >= o.count) {
        abort.abort();
        break;
      }
    }
  } catch (err) {
    throw new CliError(`change feed: ${(err as Error).message}`);
  }
  return n;
}
