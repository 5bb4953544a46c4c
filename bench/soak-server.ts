// `kindred serve` for the soak test (bench/soak.ts): the same serve() as the CLI, plus the
// process's memory sent to the parent over IPC every second (RSS covers the refresh worker
// thread too; heap figures are the main thread's).
//   node --import tsx bench/soak-server.ts <data-dir>     (KINDRED_ADMIN_KEY and KINDRED_READER_THREADS set by the parent)
import { serve } from '../src/cli/commands/serve.js';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: soak-server.ts <data-dir>');
// KINDRED_READER_THREADS as `kindred serve` takes it (the soak's --reader-threads).
const readers = process.env.KINDRED_READER_THREADS;
await serve({ demo: false, port: 0, host: '127.0.0.1', dataDir, adminKey: process.env.KINDRED_ADMIN_KEY, readerThreads: readers === undefined ? undefined : Number(readers) });
setInterval(() => {
  const m = process.memoryUsage();
  process.send?.({ at: Date.now(), rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers });
}, 1000).unref();
