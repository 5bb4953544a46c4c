#!/usr/bin/env node
// The `kindred` command.
import { Command, InvalidArgumentError, Option } from 'commander';
import { CliError } from './errors.js';
import { applyInstance, validateInstanceFile } from './commands/instance.js';
import { exportEntity } from './commands/export.js';
import { generate } from './commands/generate.js';
import { createKey, listKeys, revokeKey, rotateKey } from './commands/keys.js';
import { refresh } from './commands/refresh.js';
import { serve } from './commands/serve.js';
import { addServerFlags, serverOptionsFrom } from './server-options.js';
import { addDatabaseFlags, databaseOptionsFrom } from './database-options.js';
import { push } from './commands/push.js';
import { tail } from './commands/tail.js';

function integer(name: string, min: number, max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
}

const dataDirOption = ['--data-dir <dir>', 'data directory (default: $KINDRED_DATA_DIR or ./data)'] as const;
const dataDir = (opt: string | undefined) => opt ?? process.env.KINDRED_DATA_DIR ?? './data';
const database = (opts: { databaseUrl?: string; databaseSchema?: string }) => databaseOptionsFrom(opts, process.env);

export function buildCli(): Command {
  const program = new Command('kindred').description('Kindred: unified customer profiles from your source systems').showHelpAfterError();

  addDatabaseFlags(addServerFlags(program.command('serve')))
    .description('start the HTTP server')
    .option('--demo', 'create the demo instance from bundled sample data and refresh it')
    .option('--port <n>', 'port (default: $PORT or 3000)', integer('port', 0, 65535))
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option(...dataDirOption)
    .option('--nats <servers>', 'NATS server(s) for the stream consumers of the instances (default: $KINDRED_NATS_URL; none: no consumers)')
    .option('--reader-threads <n>', 'SQLite: threads answering data API queries (default: $KINDRED_READER_THREADS or cores - 1; 0: the main thread)', integer('reader-threads', 0, 64))
    .action(async (opts) => {
      const port = opts.port ?? (process.env.PORT ? integer('PORT', 0, 65535)(process.env.PORT) : 3000);
      const server = serverOptionsFrom(opts, process.env);
      await serve({
        demo: Boolean(opts.demo),
        port,
        host: opts.host,
        dataDir: dataDir(opts.dataDir),
        database: database(opts),
        adminKey: process.env.KINDRED_ADMIN_KEY,
        server,
        nats: opts.nats ?? process.env.KINDRED_NATS_URL,
        readerThreads: opts.readerThreads ?? (process.env.KINDRED_READER_THREADS ? integer('KINDRED_READER_THREADS', 0, 64)(process.env.KINDRED_READER_THREADS) : undefined),
      });
    });

  const instance = program.command('instance').description('manage instance definitions');
  addDatabaseFlags(
    instance
      .command('apply <file>')
      .description('register or update an instance from a YAML or JSON definition')
      .option(...dataDirOption),
  ).action(async (file: string, opts) => {
    await applyInstance(file, dataDir(opts.dataDir), database(opts));
  });
  instance
    .command('validate <file>')
    .description('check a definition without registering it')
    .action(async (file: string) => {
      validateInstanceFile(file);
    });

  const keys = program.command('keys').description('manage API keys (shown once; stored as SHA-256 hashes)');
  const scope = (cmd: Command) =>
    addDatabaseFlags(
      cmd
        .option('--instance <id>', 'instance the key belongs to')
        .option('--server', 'a server-wide key (valid for every instance; Administrators manage instances)')
        .option(...dataDirOption),
    );
  const roleChoice = new Option('--role <role>', 'Viewer, Contributor or Administrator').choices(['Viewer', 'Contributor', 'Administrator']).makeOptionMandatory();
  scope(
    keys
      .command('create')
      .description('create a key for a principal and print it once')
      .addOption(roleChoice)
      .requiredOption('--name <name>', 'name of the key (and of the principal app:NAME when --principal is not given)')
      .option('--principal <id>', 'principal id, e.g. user:ana@example.com (default app:NAME)')
      .option('--expires <date-time>', 'RFC 3339 expiry, e.g. 2027-06-30T00:00:00Z (default: never)'),
  ).action(async (opts) => {
    await createKey({ ...opts, dataDir: dataDir(opts.dataDir), database: database(opts) });
  });
  scope(keys.command('list').description('list keys (never the keys themselves)').option('--all', 'include revoked keys')).action(async (opts) => {
    await listKeys({ ...opts, dataDir: dataDir(opts.dataDir), database: database(opts) });
  });
  scope(keys.command('revoke <keyId>').description('revoke a key; a running server refuses it within 2 s')).action(async (keyId: string, opts) => {
    await revokeKey(keyId, { ...opts, dataDir: dataDir(opts.dataDir), database: database(opts) });
  });
  scope(
    keys
      .command('rotate')
      .description("replace a principal's primary or secondary key and print the new one once (the old one stops working)")
      .requiredOption('--principal <id>', 'principal id, e.g. app:crm-sync')
      .addOption(new Option('--slot <slot>', 'primary or secondary').choices(['primary', 'secondary']).makeOptionMandatory())
      .option('--expires <date-time>', 'RFC 3339 expiry of the new key (default: never)'),
  ).action(async (opts) => {
    await rotateKey({ ...opts, dataDir: dataDir(opts.dataDir), database: database(opts) });
  });

  addDatabaseFlags(
    program
      .command('refresh')
      .description('run a refresh now, showing each stage')
      .requiredOption('--instance <id>', 'instance id')
      .option(...dataDirOption),
  ).action(async (opts) => {
    await refresh(opts.instance, dataDir(opts.dataDir), database(opts));
  });

  addDatabaseFlags(
    program
      .command('export <entity>')
      .description('write Customer, UnifiedActivity, AlternateKey, CustomerEnrichment or Customer_Measure of an instance')
      .requiredOption('--instance <id>', 'instance id')
      .option('--format <format>', 'csv or jsonl', 'csv')
      .option('--out <file>', 'output file (default: standard output)')
      .option(...dataDirOption),
  ).action(async (entity: string, opts) => {
    await exportEntity({ entity, instanceId: opts.instance, format: opts.format, out: opts.out, dataDir: dataDir(opts.dataDir), database: database(opts) });
  });

  program
    .command('generate')
    .description('write synthetic source files for three systems, with duplicates, typos and a ground truth')
    .requiredOption('--out <dir>', 'output directory')
    .option('--records <n>', 'customer records across the three systems', integer('records', 1, 50_000_000), 10_000)
    .option('--seed <n>', 'random seed', integer('seed', 0, 2 ** 31), 42)
    .option('--instance-id <id>', 'id of the instance definition written beside the data', 'generated')
    .action(async (opts) => {
      await generate({ outDir: opts.out, records: opts.records, seed: opts.seed, instanceId: opts.instanceId });
    });
  const remote = (cmd: Command) =>
    cmd
      .option('--url <url>', 'server address (default: $KINDRED_URL)')
      .option('--key <key>', 'API key (default: $KINDRED_KEY)');
  const push_ = program.command('push').description('send real-time data to a server from NDJSON or CSV, in $batch calls');
  for (const kind of ['activities', 'profiles'] as const) {
    const cmd = push_
      .command(`${kind} [file]`)
      .description(kind === 'activities' ? 'publish activities (UnifiedActivity or --entity DataSource_Entity); file or - for standard input' : 'update profiles ({CustomerId, changes} or CustomerId plus attributes); file or - for standard input')
      .requiredOption('--instance <id>', 'instance id');
    if (kind === 'activities') cmd.option('--entity <name>', 'UnifiedActivity or a source activity entity (DataSource_Entity)', 'UnifiedActivity');
    remote(cmd)
      .option('--format <format>', 'ndjson or csv (default: from the file extension)')
      .option('--rejects <file>', 'where rejected records go with their reasons (default: next to the input)')
      .option('--batch-size <n>', 'records per $batch call', integer('batch-size', 1, 10_000), 1000)
      .option('--valid-until <time>', 'RFC 3339 expiry of the real-time data')
      .action(async (file: string | undefined, opts) => {
        const summary = await push({
          kind,
          instanceId: opts.instance,
          entity: opts.entity,
          input: file,
          format: opts.format,
          url: opts.url ?? process.env.KINDRED_URL,
          key: opts.key ?? process.env.KINDRED_KEY,
          rejects: opts.rejects,
          batchSize: opts.batchSize,
          validUntil: opts.validUntil,
        });
        // Some records were rejected: the run worked, the data needs a look (exit 2).
        if (summary.rejected) process.exitCode = 2;
      });
  }

  remote(
    program
      .command('tail')
      .description('print the change feed of an instance, one JSON line per change')
      .requiredOption('--instance <id>', 'instance id')
      .option('--customer <id>', 'only the changes of this CustomerId')
      .option('--count <n>', 'stop after n changes', integer('count', 1, Number.MAX_SAFE_INTEGER)),
  ).action(async (opts) => {
    await tail({ instanceId: opts.instance, customerId: opts.customer, url: opts.url ?? process.env.KINDRED_URL, key: opts.key ?? process.env.KINDRED_KEY, count: opts.count });
  });
  return program;
}

buildCli()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    if (err instanceof CliError || (err as Error).name === 'InstanceDefinitionError') {
      process.stderr.write(`kindred: ${(err as Error).message}\n`);
    } else {
      process.stderr.write(`kindred: ${(err as Error).stack ?? String(err)}\n`);
    }
    process.exitCode = 1;
  });
