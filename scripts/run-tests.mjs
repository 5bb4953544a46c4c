#!/usr/bin/env node
// Runs every test file with node's test runner on SQLite, then runs the real-time API and refresh
// tests a second time on PostgreSQL (each workspace on a fresh schema), when PostgreSQL answers.
// Node 20 does not expand globs itself, so the files are listed here (sorted, so runs are comparable).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';

function testFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...testFiles(full));
    else if (name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

/**
 * The files of the PostgreSQL pass: those that open their store through the shared helpers, which
 * pick the store from KINDRED_TEST_STORE (test/storage/test-store.ts, or test/api/helpers.ts's workspace()).
 */
function runsOnEitherStore(file) {
  const text = readFileSync(file, 'utf8');
  if (/from '(?:\.\.\/)+storage\/test-store\.js'/.test(text)) return true;
  return path.dirname(path.resolve(file)) === path.resolve('test/api') && /from '\.\/helpers\.js'/.test(text) && /\bworkspace\(/.test(text);
}

/** null when PostgreSQL answers at `url`, else why the PostgreSQL pass is skipped. */
async function postgresUnavailable(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return `PostgreSQL does not answer at ${url.replace(/\/\/[^@]*@/, '//')}: ${err.message}`;
  } finally {
    await client.end().catch(() => {});
  }
}

function runPass(files, env) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env });
  return result.status ?? 1;
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
const postgresUrl = env.KINDRED_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const sqliteStatus = runPass(files, { ...env, KINDRED_TEST_STORE: 'sqlite' });

let postgresStatus = 0;
const postgresFiles = files.filter(runsOnEitherStore);
if (postgresFiles.length) {
  const unavailable = await postgresUnavailable(postgresUrl);
  if (unavailable) {
    console.log(`PostgreSQL pass skipped: ${unavailable}`);
  } else {
    console.log(`\nPostgreSQL pass: ${postgresFiles.length} files again with KINDRED_TEST_STORE=postgres`);
    postgresStatus = runPass(postgresFiles, { ...env, KINDRED_TEST_STORE: 'postgres' });
  }
}
if (sqliteStatus !== 0 || postgresStatus !== 0) {
  console.log(`failed: ${[sqliteStatus !== 0 && 'SQLite pass', postgresStatus !== 0 && 'PostgreSQL pass'].filter(Boolean).join(' and ')}`);
}
process.exit(sqliteStatus || postgresStatus);
