// Which database the commands use: flags win over environment, PostgreSQL only for a postgres://
// URL, bad values are one clear error, nothing set means SQLite in the data directory.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { databaseOptionsFrom } from '../../src/cli/database-options.js';
import { CliError } from '../../src/cli/errors.js';

describe('database options', () => {
  test('nothing given: SQLite (undefined)', () => {
    assert.equal(databaseOptionsFrom({}, {}), undefined);
    assert.equal(databaseOptionsFrom({}, { DATABASE_URL: '' }), undefined);
  });

  test('environment, and flags over it', () => {
    assert.deepEqual(databaseOptionsFrom({}, { DATABASE_URL: 'postgres://u@db:5432/k' }), { url: 'postgres://u@db:5432/k' });
    assert.deepEqual(databaseOptionsFrom({}, { DATABASE_URL: 'postgresql://u@db/k', KINDRED_DATABASE_SCHEMA: 'tenant_a' }), {
      url: 'postgresql://u@db/k',
      schema: 'tenant_a',
    });
    assert.deepEqual(
      databaseOptionsFrom({ databaseUrl: 'postgres://flag/k', databaseSchema: 'from_flag' }, { DATABASE_URL: 'postgres://env/k', KINDRED_DATABASE_SCHEMA: 'env' }),
      { url: 'postgres://flag/k', schema: 'from_flag' },
    );
  });

  test('bad values name the option', () => {
    const refuses = (flags: Record<string, string>, env: Record<string, string>, pattern: RegExp) =>
      assert.throws(() => databaseOptionsFrom(flags, env), (err: unknown) => err instanceof CliError && pattern.test((err as Error).message));
    refuses({}, { DATABASE_URL: 'mysql://u@db/k' }, /must be a postgres:\/\/ URL, not mysql:/);
    refuses({ databaseUrl: 'db.example:5432' }, {}, /must be a postgres|is not a URL/);
    refuses({ databaseUrl: 'not a url' }, {}, /is not a URL/);
    refuses({ databaseSchema: 'x' }, {}, /needs a PostgreSQL database/);
    refuses({ databaseUrl: 'postgres://db/k', databaseSchema: 'x'.repeat(64) }, {}, /--database-schema must be a name of 1 to 63 bytes/);
  });
});
