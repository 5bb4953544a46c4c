import type { Migration } from '../migrations.js';

// The PostgreSQL schema, under the same versions as sqlite/migrations.ts (a database of either kind
// at version N has the same tables and meaning).
//
// Distribution (Citus): every instance-scoped table leads with instance_id and every primary key
// and unique index includes it, so each can be distributed by instance_id and all of them
// co-located (create_distributed_table('<table>', 'instance_id', colocate_with => 'runs'));
// instances and api_keys are small reference tables. Unified data (customers,
// alternate_keys, activities, profile_overrides, realtime_activities) carries customer_id in every
// row; customers and profile_overrides have it in their primary key and can be distributed by
// (instance_id, customer_id) as a composite key column (e.g. a generated column
// instance_id || '/' || customer_id) without changing a query: every real-time read and write
// names both. activities and alternate_keys are looked up by ActivityId / key value (not by
// customer) on the real-time path, so they stay distributed by instance_id.
//
// Text that is compared or sorted (keys, ISO timestamps) uses the "C" collation: code point order,
// which is SQLite's BINARY order, whatever the database's default collation is.
// Unified records are jsonb: filters and $orderby read attributes per row without parsing text, and
// the overlay merges overrides with ||; JSON objects are unordered, readers list attributes in the
// schema's order.
export const postgresMigrations: Migration[] = [
  {
    version: 1,
    name: 'instances, runs, generations, unified data, api keys',
    sql: `
-- Distribution: reference table (small), or distributed by id.
CREATE TABLE instances (
  id TEXT COLLATE "C" PRIMARY KEY,
  name TEXT NOT NULL,
  definition JSONB NOT NULL,
  source_file TEXT NOT NULL,
  base_dir TEXT NOT NULL,
  current_generation INTEGER,
  created_at TEXT COLLATE "C" NOT NULL,
  updated_at TEXT COLLATE "C" NOT NULL
);
-- Distribution column: instance_id.
CREATE TABLE generations (
  instance_id TEXT COLLATE "C" NOT NULL,
  generation INTEGER NOT NULL,
  job_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('building', 'live', 'retired')),
  created_at TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (instance_id, generation)
);
-- Distribution column: instance_id. seq orders runs submitted in the same millisecond (SQLite's rowid).
CREATE TABLE runs (
  instance_id TEXT COLLATE "C" NOT NULL,
  job_id TEXT COLLATE "C" NOT NULL,
  seq BIGINT GENERATED ALWAYS AS IDENTITY,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'successful', 'failed', 'cancelled')),
  trigger TEXT NOT NULL,
  submitted_at TEXT COLLATE "C" NOT NULL,
  started_at TEXT,
  ended_at TEXT,
  error TEXT,
  generation INTEGER,
  stages JSONB NOT NULL,
  summary JSONB NOT NULL DEFAULT '{}',
  PRIMARY KEY (instance_id, job_id)
);
-- Never two active runs for one instance, whichever process asks.
CREATE UNIQUE INDEX runs_one_active ON runs (instance_id) WHERE status IN ('queued', 'running');
CREATE INDEX runs_recent ON runs (instance_id, submitted_at);
-- Distribution column: instance_id (or instance_id + customer_id, see above).
CREATE TABLE customers (
  instance_id TEXT COLLATE "C" NOT NULL,
  generation INTEGER NOT NULL,
  customer_id TEXT COLLATE "C" NOT NULL,
  data JSONB NOT NULL,
  PRIMARY KEY (instance_id, generation, customer_id)
);
-- Distribution column: instance_id.
CREATE TABLE alternate_keys (
  instance_id TEXT COLLATE "C" NOT NULL,
  generation INTEGER NOT NULL,
  data_source TEXT COLLATE "C" NOT NULL,
  entity TEXT COLLATE "C" NOT NULL,
  alternate_value TEXT COLLATE "C" NOT NULL,
  customer_id TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (instance_id, generation, data_source, entity, alternate_value)
);
CREATE INDEX alternate_keys_customer ON alternate_keys (instance_id, generation, customer_id);
-- Distribution column: instance_id.
CREATE TABLE activities (
  instance_id TEXT COLLATE "C" NOT NULL,
  generation INTEGER NOT NULL,
  activity_id TEXT COLLATE "C" NOT NULL,
  customer_id TEXT COLLATE "C" NOT NULL,
  activity_time TEXT COLLATE "C" NOT NULL,
  data JSONB NOT NULL,
  PRIMARY KEY (instance_id, generation, activity_id)
);
CREATE INDEX activities_customer ON activities (instance_id, generation, customer_id, activity_time);
-- Reference table: keys are found by hash before the instance is known (server-wide keys have none).
CREATE TABLE api_keys (
  id TEXT COLLATE "C" PRIMARY KEY,
  instance_id TEXT COLLATE "C",
  principal_id TEXT NOT NULL,
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('Viewer', 'Contributor', 'Administrator')),
  prefix TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_at TEXT COLLATE "C" NOT NULL,
  last_used_at TEXT,
  expires_at TEXT,
  revoked_at TEXT
);
`,
  },
  {
    version: 2,
    name: 'real-time overlay: profile overrides and real-time activities',
    sql: `
-- When the newest source record of a profile was modified: an override older than that stops counting.
ALTER TABLE customers ADD COLUMN source_modified TEXT COLLATE "C";
-- Distribution column: instance_id (or instance_id + customer_id: the primary key has both).
CREATE TABLE profile_overrides (
  instance_id TEXT COLLATE "C" NOT NULL,
  customer_id TEXT COLLATE "C" NOT NULL,
  attribute TEXT COLLATE "C" NOT NULL,
  value JSONB NOT NULL,
  caller TEXT,
  set_at TEXT COLLATE "C" NOT NULL,
  valid_until TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (instance_id, customer_id, attribute)
);
CREATE INDEX profile_overrides_expiry ON profile_overrides (valid_until);
-- Distribution column: instance_id.
CREATE TABLE realtime_activities (
  instance_id TEXT COLLATE "C" NOT NULL,
  activity_id TEXT COLLATE "C" NOT NULL,
  customer_id TEXT COLLATE "C" NOT NULL,
  activity_time TEXT COLLATE "C" NOT NULL,
  valid_until TEXT COLLATE "C" NOT NULL,
  content_hash TEXT NOT NULL,
  caller TEXT,
  created_at TEXT COLLATE "C" NOT NULL,
  -- For activities posted in a source entity's format: the source customer key, re-resolved
  -- through the key ring at each refresh so the activity follows its customer through splits.
  source_data_source TEXT COLLATE "C",
  source_entity TEXT COLLATE "C",
  source_key TEXT COLLATE "C",
  data JSONB NOT NULL,
  PRIMARY KEY (instance_id, activity_id)
);
CREATE INDEX realtime_activities_customer ON realtime_activities (instance_id, customer_id, activity_time);
CREATE INDEX realtime_activities_expiry ON realtime_activities (valid_until);
`,
  },
  {
    version: 8,
    name: 'real-time activities in an append-ordered (rowid) table with a unique index on ActivityId',
    // SQLite's v3 moved the rows out of a clustered primary key. PostgreSQL tables are heaps
    // (rows append in insertion order already); the same meaning here is a unique index named as
    // in SQLite instead of the primary key constraint.
    sql: `
ALTER TABLE realtime_activities DROP CONSTRAINT realtime_activities_pkey;
CREATE UNIQUE INDEX realtime_activities_id ON realtime_activities (instance_id, activity_id);
`,
  },
  {
    version: 9,
    name: 'scheduled runs record their slot: several nodes never run one slot twice',
    sql: `
-- The cron time a scheduled run is for (ISO); NULL for runs started by hand, the API or the CLI.
ALTER TABLE runs ADD COLUMN scheduled_for TEXT COLLATE "C";
CREATE UNIQUE INDEX runs_scheduled_slot ON runs (instance_id, scheduled_for) WHERE scheduled_for IS NOT NULL;
`,
  },
];
