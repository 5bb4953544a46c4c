import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../../api/app.js';
import { hashKey } from '../../api/auth.js';
import type { AccessKey } from '../../storage/access.js';
import { loadInstanceDefinition } from '../../config/load.js';
import { defaultReaderThreads } from '../../storage/sqlite/reader-pool.js';
import { openServices, type DatabaseOptions, type Services } from '../../services.js';
import type { ServerOptions } from '../server-options.js';

// src/cli/commands or dist/cli/commands: the package root is three levels up either way.
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const DEMO_DEFINITION = path.join(PACKAGE_ROOT, 'examples/demo/instance.yaml');

/** How often a node on PostgreSQL looks for runs whose node stopped. */
const ORPHAN_CHECK_MS = 60_000;

export interface ServeOptions {
  demo: boolean;
  port: number;
  host: string;
  dataDir: string;
  /** PostgreSQL instead of SQLite in the data directory (several servers may share it). */
  database?: DatabaseOptions;
  adminKey?: string;
  /** Limits, timeouts, tokens and log level (src/cli/server-options.ts). */
  server?: ServerOptions;
  /** NATS servers for the stream consumers (none: consumers do not run). */
  nats?: string;
  /** SQLite: threads answering the data API's entity queries (default: cores − 1, at least 1; 0: the main thread). */
  readerThreads?: number;
}

/** The first start creates a server-wide Administrator key and shows it once; KINDRED_ADMIN_KEY, when set, is that key. */
export async function ensureAdminKey(services: Services, fromEnv: string | undefined): Promise<{ key: string | null; note: string }> {
  const { store, access } = services;
  if (fromEnv) {
    const hash = hashKey(fromEnv);
    const usable = (k: AccessKey | undefined) => k && !k.revokedAt && k.instanceId === null && k.role === 'Administrator';
    const known = await store.access.findKeyByHash(hash);
    if (known && !usable(known)) throw new Error('KINDRED_ADMIN_KEY is a revoked key or not a server-wide Administrator key; unset it or give a new value');
    if (!known) {
      // A changed KINDRED_ADMIN_KEY replaces the previous one (the primary slot of app:admin-env).
      const principalId = 'app:admin-env';
      const had = await store.access.getAssignment(principalId, null);
      try {
        const issued = had
          ? await access.regenerateKey({ instanceId: null, principalId, slot: 'primary', key: fromEnv })
          : await access.createKey({ instanceId: null, role: 'Administrator', name: 'admin (KINDRED_ADMIN_KEY)', principalId, slot: 'primary', key: fromEnv });
        await access.audit({
          instanceId: null,
          principalId: 'system:serve',
          action: had ? 'key.regenerate' : 'key.create',
          target: principalId,
          outcome: 'success',
          detail: { source: 'KINDRED_ADMIN_KEY', keyId: issued.record.id, replacedKeyId: issued.replaced?.id ?? null },
        });
      } catch (err) {
        // Several nodes starting at once with the same new key: one stores it, the others fail on
        // the key's unique hash (or find the slot taken) and find it stored.
        if (!usable(await store.access.findKeyByHash(hash))) throw err;
      }
    }
    return { key: fromEnv, note: 'from KINDRED_ADMIN_KEY' };
  }
  const existing = (await store.access.listKeys(null)).filter((k) => k.role === 'Administrator');
  if (existing.length) return { key: null, note: `already created (prefix ${existing[0].prefix}…); it was shown once at first start` };
  const issued = await access.createKey({ instanceId: null, role: 'Administrator', name: 'admin (first start)', principalId: 'app:admin' });
  await access.audit({ instanceId: null, principalId: 'system:serve', action: 'key.create', target: 'app:admin', outcome: 'success', detail: { keyId: issued.record.id, slot: issued.record.slot } });
  return { key: issued.key, note: 'created now; shown only this once' };
}

export async function applyDemo(services: Services, log: (m: string) => void): Promise<void> {
  const loaded = loadInstanceDefinition(DEMO_DEFINITION);
  const { definition } = loaded;
  await services.store.putInstance({ id: definition.id, name: definition.name ?? definition.id, definition, sourceFile: loaded.file, baseDir: loaded.baseDir });
  const instance = await services.store.getInstance(definition.id);
  if (instance?.currentGeneration == null) {
    log(`demo: first refresh of '${definition.id}'…`);
    const { done } = await services.runner.start(definition.id, 'demo');
    const run = await done;
    log(`demo: refresh ${run.status}: ${run.summary.recordsRead ?? 0} records → ${run.summary.profiles ?? 0} profiles, ${run.summary.activities ?? 0} activities${run.error ? ` (${run.error})` : ''}`);
  }
}

export async function serve(options: ServeOptions): Promise<void> {
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const services = await openServices({
    dataDir: options.dataDir,
    database: options.database,
    log,
    refreshInOwnProcess: true,
    realtimeInWorker: true,
    readerThreads: options.readerThreads ?? defaultReaderThreads(),
  });
  services.sweeper.start();
  const interrupted = await services.store.failInterruptedRuns('interrupted: the server stopped while the run was active');
  if (interrupted) log(`${interrupted} interrupted refresh run(s) marked failed`);
  // Several nodes on PostgreSQL: a node that dies mid-run leaves its run active while the others live
  // on; its refresh lock (export runs: its node lock) is free, so any node can tell and fail the run
  // (a live node's run keeps its lock).
  const orphanCheck =
    services.store.dialect === 'postgres'
      ? setInterval(() => {
          services.store
            .failInterruptedRuns('interrupted: the node executing the run stopped')
            .then((n) => n && log(`${n} refresh run(s) of a stopped node marked failed`))
            .catch((err: Error) => log(`checking for runs of stopped nodes failed: ${err.message}`));
          services.store.exportRuns
            .failInterrupted('interrupted: the node executing the export stopped')
            .then((n) => n && log(`${n} export run(s) of a stopped node marked failed`))
            .catch((err: Error) => log(`checking for export runs of stopped nodes failed: ${err.message}`));
        }, ORPHAN_CHECK_MS).unref()
      : null;
  const exportsInterrupted = await services.store.exportRuns.failInterrupted('interrupted: the server stopped while the export was running');
  if (exportsInterrupted) log(`${exportsInterrupted} interrupted export run(s) marked failed`);
  for (const i of await services.store.listInstances()) await services.store.pruneGenerations(i.id);
  if (options.demo) await applyDemo(services, log);
  const admin = await ensureAdminKey(services, options.adminKey);
  // Installed now, and again when any node (or the CLI) changes a definition.
  await services.followSchedules();

  if (options.nats) {
    const servers = options.nats.split(',').map((s) => s.trim()).filter(Boolean);
    try {
      await services.consumers.start(servers);
      log(`stream consumers: connected to ${servers.join(', ')}`);
    } catch (err) {
      log(`stream consumers: cannot connect to ${servers.join(', ')}: ${(err as Error).message}; consumers do not run`);
    }
  }
  const app = await buildApp({ services, ...options.server });
  const address = await app.listen({ port: options.port, host: options.host });
  process.stdout.write(`Kindred is listening on ${address} (data: ${services.storeLocation})\n`);
  process.stdout.write(admin.key ? `Administrator API key (${admin.note}): ${admin.key}\n` : `Administrator API key ${admin.note}\n`);
  if (options.demo) process.stdout.write(`Try: curl -H "Ocp-Apim-Subscription-Key: <key>" ${address}/api/instances/demo/workflows/main/jobs\n`);

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log(`${signal}: shutting down`);
    if (orphanCheck) clearInterval(orphanCheck);
    await app.close();
    await services.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}
