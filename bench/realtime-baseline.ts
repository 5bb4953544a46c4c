/**
 * Baseline for bench/realtime.ts: a bare Fastify 5 server with one route, POST /echo, which
 * answers 200 with the JSON body it received. Started as a child process; prints
 * "listening on <address>" once it accepts connections and stops on SIGTERM/SIGINT.
 *
 *   node --import tsx bench/realtime-baseline.ts [--port 0]
 */
import Fastify from 'fastify';

const i = process.argv.indexOf('--port');
const port = i >= 0 ? Number(process.argv[i + 1]) : 0;

const app = Fastify({ logger: false });
app.post('/echo', async (request) => request.body);

const address = await app.listen({ port, host: '127.0.0.1' });
process.stdout.write(`listening on ${address}\n`);

let closing = false;
const stop = async () => {
  if (closing) return;
  closing = true;
  await app.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
