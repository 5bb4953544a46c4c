#!/usr/bin/env node
// Runs every test file with node's test runner. Node 20 does not expand globs itself, so the
// files are listed here (sorted, so runs are comparable).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

function testFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...testFiles(full));
    else if (name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

const only = process.argv.slice(2);
const files = only.length ? only : testFiles('test');
if (!files.length) {
  console.error('no test files found under test/');
  process.exit(1);
}
// A DATABASE_URL in the shell would turn every `kindred serve` a test starts into a PostgreSQL
// node on the shared schema: the tests get it as KINDRED_TEST_POSTGRES_URL instead, and the ones
// that want PostgreSQL pass it on themselves (each with a fresh schema).
const env = { ...process.env };
if (env.DATABASE_URL && !env.KINDRED_TEST_POSTGRES_URL) env.KINDRED_TEST_POSTGRES_URL = env.DATABASE_URL;
delete env.DATABASE_URL;
delete env.KINDRED_DATABASE_SCHEMA;
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
