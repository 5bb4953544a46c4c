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
  // --- versions 3 and 4: access; search, field sources, telemetry (issue 8, sub-ports) ---
  {
    version: 3,
    name: 'access: principals, role assignments, key slots, audit log',
    sql: `
-- Users and apps. A principal has at most one role per instance (instance_id NULL: server-wide).
-- Reference table (small): a principal is found before any instance is known.
CREATE TABLE principals (
  id TEXT COLLATE "C" PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('user', 'app', 'group')),
  display_name TEXT NOT NULL,
  created_at TEXT COLLATE "C" NOT NULL
);
-- Reference table (small): instance_id is NULL for server-wide roles, so it cannot be the distribution column.
CREATE TABLE role_assignments (
  principal_id TEXT COLLATE "C" NOT NULL REFERENCES principals (id),
  instance_id TEXT COLLATE "C",
  role TEXT NOT NULL CHECK (role IN ('Viewer', 'Contributor', 'Administrator')),
  assigned_at TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX role_assignments_one ON role_assignments (principal_id, COALESCE(instance_id, ''));
CREATE INDEX role_assignments_instance ON role_assignments (instance_id, principal_id);
ALTER TABLE api_keys ALTER COLUMN principal_id TYPE TEXT COLLATE "C";
-- Principals and assignments of the keys made before principals existed: the highest role of a
-- principal's live keys in each scope.
INSERT INTO principals (id, kind, display_name, created_at)
  SELECT principal_id, CASE WHEN principal_id LIKE 'user:%' THEN 'user' WHEN principal_id LIKE 'group:%' THEN 'group' ELSE 'app' END,
         MIN(name COLLATE "C"), MIN(created_at)
  FROM api_keys GROUP BY principal_id;
INSERT INTO role_assignments (principal_id, instance_id, role, assigned_at)
  SELECT principal_id, instance_id,
         CASE MAX(CASE role WHEN 'Administrator' THEN 3 WHEN 'Contributor' THEN 2 ELSE 1 END) WHEN 3 THEN 'Administrator' WHEN 2 THEN 'Contributor' ELSE 'Viewer' END,
         MIN(created_at)
  FROM api_keys WHERE revoked_at IS NULL GROUP BY principal_id, instance_id;
-- Two key slots per principal and scope (rotation without downtime); older extra keys keep working without a slot.
ALTER TABLE api_keys ADD COLUMN slot TEXT CHECK (slot IN ('primary', 'secondary'));
UPDATE api_keys k SET slot = CASE ranked.n WHEN 1 THEN 'primary' ELSE 'secondary' END
  FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY principal_id, instance_id ORDER BY created_at DESC, id) AS n
        FROM api_keys WHERE revoked_at IS NULL) ranked
  WHERE ranked.id = k.id AND ranked.n <= 2;
CREATE UNIQUE INDEX api_keys_slot ON api_keys (principal_id, COALESCE(instance_id, ''), slot) WHERE revoked_at IS NULL AND slot IS NOT NULL;
CREATE INDEX api_keys_scope ON api_keys (instance_id, principal_id);
-- Management actions: who did what to what, when, and how it ended ('success' or the error code).
-- Local table on the coordinator (not distributed): instance_id is NULL for server-wide actions and
-- the log is read across scopes, newest id first. Ids are never reused (SQLite's AUTOINCREMENT).
CREATE TABLE audit_log (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at TEXT COLLATE "C" NOT NULL,
  instance_id TEXT COLLATE "C",
  principal_id TEXT COLLATE "C",
  action TEXT COLLATE "C" NOT NULL,
  target TEXT,
  outcome TEXT NOT NULL,
  detail JSONB
);
CREATE INDEX audit_log_instance ON audit_log (instance_id, id);
`,
  },
  {
    version: 4,
    name: 'customer search terms, merged-field provenance, real-time telemetry per minute',
    sql: `
-- Search terms of a generation (folded name words, email, phone digits), built just before the
-- generation commits; removed with the generation. Distribution column: instance_id.
CREATE TABLE search_terms (
  instance_id TEXT COLLATE "C" NOT NULL,
  generation INTEGER NOT NULL,
  kind TEXT COLLATE "C" NOT NULL CHECK (kind IN ('name', 'email', 'phone')),
  term TEXT COLLATE "C" NOT NULL,
  customer_id TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (instance_id, generation, kind, term, customer_id)
);
-- Which source column each merged field came from: per customer one character per merged field
-- (index into that field's source list, '-' for none), explained by the generation's legend.
ALTER TABLE customers ADD COLUMN field_sources TEXT;
ALTER TABLE generations ADD COLUMN field_source_legend JSONB;
-- Real-time API telemetry: one row per (instance, minute, method, entity, caller, status, error
-- code) with counts, bytes and a log-scale latency histogram (jsonb [[bucket index, count], ...],
-- by index). Distribution column: instance_id.
CREATE TABLE telemetry_minutes (
  instance_id TEXT COLLATE "C" NOT NULL,
  minute INTEGER NOT NULL,
  method TEXT COLLATE "C" NOT NULL,
  entity TEXT COLLATE "C" NOT NULL,
  caller TEXT COLLATE "C" NOT NULL,
  status INTEGER NOT NULL,
  error_code TEXT COLLATE "C" NOT NULL,
  requests BIGINT NOT NULL,
  bytes_in BIGINT NOT NULL,
  bytes_out BIGINT NOT NULL,
  latency_histogram JSONB NOT NULL,
  PRIMARY KEY (instance_id, minute, method, entity, caller, status, error_code)
);
CREATE INDEX telemetry_minutes_age ON telemetry_minutes (minute);
`,
  },
  // --- end of versions 3 and 4 ---
  // Versions 5 and 6: the analytics, enrichment, export-run and notification sub-ports.
  {
    version: 5,
    name: 'measures and segments: Customer_Measure rows, segment members, values per run',
    sql: `
-- Distribution column: instance_id (or instance_id + customer_id: the primary key has both).
CREATE TABLE customer_measures (
  instance_id TEXT COLLATE "C" NOT NULL,
  generation INTEGER NOT NULL,
  customer_id TEXT COLLATE "C" NOT NULL,
  data JSONB NOT NULL,
  PRIMARY KEY (instance_id, generation, customer_id)
);
-- Distribution column: instance_id (segments are read by name, not by customer).
CREATE TABLE segment_members (
  instance_id TEXT COLLATE "C" NOT NULL,
  generation INTEGER NOT NULL,
  segment TEXT COLLATE "C" NOT NULL,
  customer_id TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (instance_id, generation, segment, customer_id)
);
CREATE INDEX segment_members_customer ON segment_members (instance_id, generation, customer_id);
-- Distribution column: instance_id. Business measure values, customer measure coverage and
-- segment sizes, one row per run.
CREATE TABLE analytics_history (
  instance_id TEXT COLLATE "C" NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('measure', 'segment')),
  name TEXT COLLATE "C" NOT NULL,
  generation INTEGER NOT NULL,
  job_id TEXT NOT NULL,
  computed_at TEXT COLLATE "C" NOT NULL,
  value JSONB,
  count INTEGER,
  PRIMARY KEY (instance_id, kind, name, generation)
);
`,
  },
  {
    version: 6,
    name: 'customer enrichments, export runs, notification deliveries',
    sql: `
-- Distribution column: instance_id (or instance_id + customer_id). One row per customer and
-- generation, written by the enrich stage before the generation's commit.
CREATE TABLE customer_enrichments (
  instance_id TEXT COLLATE "C" NOT NULL,
  generation INTEGER NOT NULL,
  customer_id TEXT COLLATE "C" NOT NULL,
  data JSONB NOT NULL,
  PRIMARY KEY (instance_id, generation, customer_id)
);
-- Distribution column: instance_id. seq orders runs started in the same millisecond (SQLite's rowid).
CREATE TABLE export_runs (
  instance_id TEXT COLLATE "C" NOT NULL,
  run_id TEXT COLLATE "C" NOT NULL,
  seq BIGINT GENERATED ALWAYS AS IDENTITY,
  export_name TEXT COLLATE "C" NOT NULL,
  trigger TEXT NOT NULL CHECK (trigger IN ('refresh', 'schedule', 'manual')),
  job_id TEXT,
  generation INTEGER,
  status TEXT NOT NULL CHECK (status IN ('running', 'successful', 'failed')),
  target TEXT NOT NULL,
  started_at TEXT COLLATE "C" NOT NULL,
  ended_at TEXT,
  rows INTEGER NOT NULL DEFAULT 0,
  batches INTEGER NOT NULL DEFAULT 0,
  duration_ms INTEGER,
  error TEXT,
  PRIMARY KEY (instance_id, run_id)
);
CREATE INDEX export_runs_recent ON export_runs (instance_id, export_name, started_at);
-- Distribution column: instance_id. The payload is json, not jsonb: the body as sent, key order kept.
CREATE TABLE notification_deliveries (
  instance_id TEXT COLLATE "C" NOT NULL,
  delivery_id TEXT COLLATE "C" NOT NULL,
  seq BIGINT GENERATED ALWAYS AS IDENTITY,
  notification TEXT COLLATE "C" NOT NULL,
  event TEXT NOT NULL,
  payload JSON NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  response_status INTEGER,
  last_error TEXT,
  created_at TEXT COLLATE "C" NOT NULL,
  updated_at TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (instance_id, delivery_id)
);
CREATE INDEX notification_deliveries_recent ON notification_deliveries (instance_id, created_at);
-- Distribution column: instance_id. Last value of each threshold subject (segment size, business
-- measure) per notification.
CREATE TABLE notification_thresholds (
  instance_id TEXT COLLATE "C" NOT NULL,
  notification TEXT COLLATE "C" NOT NULL,
  subject TEXT COLLATE "C" NOT NULL,
  value DOUBLE PRECISION NOT NULL,
  observed_at TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (instance_id, notification, subject)
);
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
  {
    version: 10,
    name: 'documents read whole keep their key order',
    // jsonb keeps no key order, so definitions, run stages and audit details came back reordered
    // (the API answers differently than on SQLite). json keeps the text as written; no statement
    // reads inside these columns.
    sql: `
ALTER TABLE instances ALTER COLUMN definition TYPE JSON USING definition::json;
ALTER TABLE runs ALTER COLUMN summary DROP DEFAULT;
ALTER TABLE runs ALTER COLUMN stages TYPE JSON USING stages::json, ALTER COLUMN summary TYPE JSON USING summary::json;
ALTER TABLE runs ALTER COLUMN summary SET DEFAULT '{}';
ALTER TABLE audit_log ALTER COLUMN detail TYPE JSON USING detail::json;
`,
  },
  {
    version: 11,
    name: 'web UI sessions in the database (any node serves any session); export runs record their node',
    sql: `
-- Reference table (small; found by the session id's hash, like api_keys by the key's hash), or
-- distributed by id_hash. A session is the SHA-256 of the random id in the browser's cookie, never
-- the id itself, and the SHA-256 of the API key it stands for, never the key.
CREATE TABLE ui_sessions (
  id_hash TEXT COLLATE "C" PRIMARY KEY,
  key_hash TEXT COLLATE "C" NOT NULL,
  created_at TEXT COLLATE "C" NOT NULL,
  last_seen_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX ui_sessions_last_seen ON ui_sessions (last_seen_at);
-- The process that executes an export run started by hand or on a schedule (NULL for runs inside a
-- refresh, which the refresh lock covers, and for runs from before this version): a run is failed
-- as interrupted only when that process is gone (its node lock is free; coordination.ts).
ALTER TABLE export_runs ADD COLUMN node_id TEXT COLLATE "C";
`,
  },
  {
    version: 12,
    name: 'real-time activities keep no content hash: a repeated ActivityId is compared with the stored record',
    sql: `
-- The hash was worked out for every posted activity but read only when an ActivityId came again.
ALTER TABLE realtime_activities DROP COLUMN content_hash;
`,
  },
  {
    version: 13,
    name: "alternate keys keep their source record's last-modified time: an override ends with a new or changed record newer than it",
    sql: `
-- The record's last-modified time (ISO), or NULL (unknown, or a generation written before this version).
ALTER TABLE alternate_keys ADD COLUMN source_modified TEXT COLLATE "C";
`,
  },
];
