#!/usr/bin/env node
// The `kindred` command.
import { Command, InvalidArgumentError } from 'commander';
import { CliError } from './errors.js';
import { applyInstance, validateInstanceFile } from './commands/instance.js';
import { exportEntity } from './commands/export.js';
import { generate } from './commands/generate.js';
import { refresh } from './commands/refresh.js';
import { serve } from './commands/serve.js';
import { addServerFlags, serverOptionsFrom } from './server-options.js';

function integer(name: string, min: number, max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
}

const dataDirOption = ['--data-dir <dir>', 'data directory (default: $KINDRED_DATA_DIR or ./data)'] as const;
const dataDir = (opt: string | undefined) => opt ?? process.env.KINDRED_DATA_DIR ?? './data';

export function buildCli(): Command {
  const program = new Command('kindred').description('Kindred: unified customer profiles from your source systems').showHelpAfterError();

  addServerFlags(program.command('serve'))
    .description('start the HTTP server')
    .option('--demo', 'create the demo instance from bundled sample data and refresh it')
    .option('--port <n>', 'port (default: $PORT or 3000)', integer('port', 0, 65535))
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option(...dataDirOption)
    .action(async (opts) => {
      const port = opts.port ?? (process.env.PORT ? integer('PORT', 0, 65535)(process.env.PORT) : 3000);
      const server = serverOptionsFrom(opts, process.env);
      await serve({ demo: Boolean(opts.demo), port, host: opts.host, dataDir: dataDir(opts.dataDir), adminKey: process.env.KINDRED_ADMIN_KEY, server });
    });

  const instance = program.command('instance').description('manage instance definitions');
  instance
    .command('apply <file>')
    .description('register or update an instance from a YAML or JSON definition')
    .option(...dataDirOption)
    .action(async (file: string, opts) => {
      await applyInstance(file, dataDir(opts.dataDir));
    });
  instance
    .command('validate <file>')
    .description('check a definition without registering it')
    .action(async (file: string) => {
      validateInstanceFile(file);
    });

  program
    .command('refresh')
    .description('run a refresh now, showing each stage')
    .requiredOption('--instance <id>', 'instance id')
    .option(...dataDirOption)
    .action(async (opts) => {
      await refresh(opts.instance, dataDir(opts.dataDir));
    });

  program
    .command('export <entity>')
    .description('write Customer, UnifiedActivity or AlternateKey of an instance')
    .requiredOption('--instance <id>', 'instance id')
    .option('--format <format>', 'csv or jsonl', 'csv')
    .option('--out <file>', 'output file (default: standard output)')
    .option(...dataDirOption)
    .action(async (entity: string, opts) => {
      await exportEntity({ entity, instanceId: opts.instance, format: opts.format, out: opts.out, dataDir: dataDir(opts.dataDir) });
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
