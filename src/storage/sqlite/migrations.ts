import type { Migration } from '../migrations.js';

// Every table leads with instance_id (and, for unified data, generation then customer_id) so that
// each instance's data can later be distributed by instance and customer.
export const sqliteMigrations: Migration[] = [
  {
    version: 1,
    name: 'instances, runs, generations, unified data, api keys',
    sql: `
CREATE TABLE instances (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  definition TEXT NOT NULL,
  source_file TEXT NOT NULL,
  base_dir TEXT NOT NULL,
  current_generation INTEGER,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE generations (
  instance_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  job_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('building', 'live', 'retired')),
  created_at TEXT NOT NULL,
  PRIMARY KEY (instance_id, generation)
);
CREATE TABLE runs (
  instance_id TEXT NOT NULL,
  job_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'successful', 'failed', 'cancelled')),
  trigger TEXT NOT NULL,
  submitted_at TEXT NOT NULL,
  started_at TEXT,
  ended_at TEXT,
  error TEXT,
  generation INTEGER,
  stages TEXT NOT NULL,
  summary TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (instance_id, job_id)
);
-- Never two active runs for one instance, whichever process asks.
CREATE UNIQUE INDEX runs_one_active ON runs (instance_id) WHERE status IN ('queued', 'running');
CREATE INDEX runs_recent ON runs (instance_id, submitted_at);
CREATE TABLE customers (
  instance_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  customer_id TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (instance_id, generation, customer_id)
) WITHOUT ROWID;
CREATE TABLE alternate_keys (
  instance_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  data_source TEXT NOT NULL,
  entity TEXT NOT NULL,
  alternate_value TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  PRIMARY KEY (instance_id, generation, data_source, entity, alternate_value)
) WITHOUT ROWID;
CREATE INDEX alternate_keys_customer ON alternate_keys (instance_id, generation, customer_id);
CREATE TABLE activities (
  instance_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  activity_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  activity_time TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (instance_id, generation, activity_id)
) WITHOUT ROWID;
CREATE INDEX activities_customer ON activities (instance_id, generation, customer_id, activity_time);
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  instance_id TEXT,
  principal_id TEXT NOT NULL,
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('Viewer', 'Contributor', 'Administrator')),
  prefix TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
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
ALTER TABLE customers ADD COLUMN source_modified TEXT;
CREATE TABLE profile_overrides (
  instance_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  attribute TEXT NOT NULL,
  value TEXT NOT NULL,
  caller TEXT,
  set_at TEXT NOT NULL,
  valid_until TEXT NOT NULL,
  PRIMARY KEY (instance_id, customer_id, attribute)
) WITHOUT ROWID;
CREATE INDEX profile_overrides_expiry ON profile_overrides (valid_until);
CREATE TABLE realtime_activities (
  instance_id TEXT NOT NULL,
  activity_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  activity_time TEXT NOT NULL,
  valid_until TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  caller TEXT,
  created_at TEXT NOT NULL,
  -- For activities posted in a source entity's format: the source customer key, re-resolved
  -- through the key ring at each refresh so the activity follows its customer through splits.
  source_data_source TEXT,
  source_entity TEXT,
  source_key TEXT,
  data TEXT NOT NULL,
  PRIMARY KEY (instance_id, activity_id)
) WITHOUT ROWID;
CREATE INDEX realtime_activities_customer ON realtime_activities (instance_id, customer_id, activity_time);
CREATE INDEX realtime_activities_expiry ON realtime_activities (valid_until);
`,
  },
  {
    version: 3,
    name: 'access: principals, role assignments, key slots, audit log',
    sql: `
-- Users and apps. A principal has at most one role per instance (instance_id NULL: server-wide).
CREATE TABLE principals (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('user', 'app', 'group')),
  display_name TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE role_assignments (
  principal_id TEXT NOT NULL REFERENCES principals (id),
  instance_id TEXT,
  role TEXT NOT NULL CHECK (role IN ('Viewer', 'Contributor', 'Administrator')),
  assigned_at TEXT NOT NULL
);
CREATE UNIQUE INDEX role_assignments_one ON role_assignments (principal_id, COALESCE(instance_id, ''));
CREATE INDEX role_assignments_instance ON role_assignments (instance_id);
-- Principals and assignments of the keys made before principals existed: the highest role of a
-- principal's live keys in each scope.
INSERT INTO principals (id, kind, display_name, created_at)
  SELECT principal_id, CASE WHEN principal_id LIKE 'user:%' THEN 'user' WHEN principal_id LIKE 'group:%' THEN 'group' ELSE 'app' END,
         MIN(name), MIN(created_at)
  FROM api_keys GROUP BY principal_id;
INSERT INTO role_assignments (principal_id, instance_id, role, assigned_at)
  SELECT principal_id, instance_id,
         CASE MAX(CASE role WHEN 'Administrator' THEN 3 WHEN 'Contributor' THEN 2 ELSE 1 END) WHEN 3 THEN 'Administrator' WHEN 2 THEN 'Contributor' ELSE 'Viewer' END,
         MIN(created_at)
  FROM api_keys WHERE revoked_at IS NULL GROUP BY principal_id, instance_id;
-- Two key slots per principal and scope (rotation without downtime); older extra keys keep working without a slot.
ALTER TABLE api_keys ADD COLUMN slot TEXT CHECK (slot IN ('primary', 'secondary'));
UPDATE api_keys SET slot = (
  SELECT CASE n WHEN 1 THEN 'primary' WHEN 2 THEN 'secondary' END FROM (
    SELECT k.id, ROW_NUMBER() OVER (PARTITION BY k.principal_id, k.instance_id ORDER BY k.created_at DESC, k.id) AS n
    FROM api_keys k WHERE k.revoked_at IS NULL) ranked WHERE ranked.id = api_keys.id)
WHERE revoked_at IS NULL;
CREATE UNIQUE INDEX api_keys_slot ON api_keys (principal_id, COALESCE(instance_id, ''), slot) WHERE revoked_at IS NULL AND slot IS NOT NULL;
CREATE INDEX api_keys_scope ON api_keys (instance_id, principal_id);
-- Management actions: who did what to what, when, and how it ended ('success' or the error code).
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  instance_id TEXT,
  principal_id TEXT,
  action TEXT NOT NULL,
  target TEXT,
  outcome TEXT NOT NULL,
  detail TEXT
);
CREATE INDEX audit_log_instance ON audit_log (instance_id, id);
`,
  },
  {
    version: 4,
    name: 'customer search terms, merged-field provenance, real-time telemetry per minute',
    sql: `
-- Search terms of a generation (folded name words, email, E.164 phone), built in one sorted
-- INSERT ... SELECT just before the generation commits; removed with the generation.
CREATE TABLE search_terms (
  instance_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('name', 'email', 'phone')),
  term TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  PRIMARY KEY (instance_id, generation, kind, term, customer_id)
) WITHOUT ROWID;
-- Which source column each merged field came from: per customer one character per merged field
-- (index into that field's source list, '-' for none), explained by the generation's legend.
ALTER TABLE customers ADD COLUMN field_sources TEXT;
ALTER TABLE generations ADD COLUMN field_source_legend TEXT;
-- Real-time API telemetry: one row per (instance, minute, method, entity, caller, status, error
-- code) with counts, bytes and a log-scale latency histogram ("index:count" pairs).
CREATE TABLE telemetry_minutes (
  instance_id TEXT NOT NULL,
  minute INTEGER NOT NULL,
  method TEXT NOT NULL,
  entity TEXT NOT NULL,
  caller TEXT NOT NULL,
  status INTEGER NOT NULL,
  error_code TEXT NOT NULL,
  requests INTEGER NOT NULL,
  bytes_in INTEGER NOT NULL,
  bytes_out INTEGER NOT NULL,
  latency_histogram TEXT NOT NULL,
  PRIMARY KEY (instance_id, minute, method, entity, caller, status, error_code)
) WITHOUT ROWID;
CREATE INDEX telemetry_minutes_age ON telemetry_minutes (minute);
`,
  },
  {
    version: 5,
    name: 'measures and segments: Customer_Measure rows, segment members, values per run',
    sql: `
CREATE TABLE customer_measures (
  instance_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  customer_id TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (instance_id, generation, customer_id)
) WITHOUT ROWID;
CREATE TABLE segment_members (
  instance_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  segment TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  PRIMARY KEY (instance_id, generation, segment, customer_id)
) WITHOUT ROWID;
CREATE INDEX segment_members_customer ON segment_members (instance_id, generation, customer_id);
-- Business measure values, customer measure coverage and segment sizes, one row per run.
CREATE TABLE analytics_history (
  instance_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('measure', 'segment')),
  name TEXT NOT NULL,
  generation INTEGER NOT NULL,
  job_id TEXT NOT NULL,
  computed_at TEXT NOT NULL,
  value TEXT,
  count INTEGER,
  PRIMARY KEY (instance_id, kind, name, generation)
) WITHOUT ROWID;
`,
  },
  {
    version: 6,
    name: 'customer enrichments, export runs, notification deliveries',
    sql: `
-- One row per customer and generation, written by the enrich stage before the generation's commit.
CREATE TABLE customer_enrichments (
  instance_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  customer_id TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (instance_id, generation, customer_id)
) WITHOUT ROWID;
CREATE TABLE export_runs (
  instance_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  export_name TEXT NOT NULL,
  trigger TEXT NOT NULL CHECK (trigger IN ('refresh', 'schedule', 'manual')),
  job_id TEXT,
  generation INTEGER,
  status TEXT NOT NULL CHECK (status IN ('running', 'successful', 'failed')),
  target TEXT NOT NULL,
  started_at TEXT NOT NULL,
  ended_at TEXT,
  rows INTEGER NOT NULL DEFAULT 0,
  batches INTEGER NOT NULL DEFAULT 0,
  duration_ms INTEGER,
  error TEXT,
  PRIMARY KEY (instance_id, run_id)
);
CREATE INDEX export_runs_recent ON export_runs (instance_id, export_name, started_at);
CREATE TABLE notification_deliveries (
  instance_id TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  notification TEXT NOT NULL,
  event TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  response_status INTEGER,
  last_error TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (instance_id, delivery_id)
);
CREATE INDEX notification_deliveries_recent ON notification_deliveries (instance_id, created_at);
-- Last value of each threshold subject (segment size, business measure) per notification.
CREATE TABLE notification_thresholds (
  instance_id TEXT NOT NULL,
  notification TEXT NOT NULL,
  subject TEXT NOT NULL,
  value REAL NOT NULL,
  observed_at TEXT NOT NULL,
  PRIMARY KEY (instance_id, notification, subject)
) WITHOUT ROWID;
`,
  },
  {
    version: 8,
    name: 'real-time activities in an append-ordered (rowid) table with a unique index on ActivityId',
    // ActivityIds are random: as the primary key of a WITHOUT ROWID table every insert landed the
    // whole row (JSON included) on a random page, and each grouped commit rewrote about a page per
    // activity. Rows now append in insertion order; only the small index entries land at random.
    sql: `
CREATE TABLE realtime_activities_v8 (
  instance_id TEXT NOT NULL,
  activity_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  activity_time TEXT NOT NULL,
  valid_until TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  caller TEXT,
  created_at TEXT NOT NULL,
  source_data_source TEXT,
  source_entity TEXT,
  source_key TEXT,
  data TEXT NOT NULL
);
INSERT INTO realtime_activities_v8 (instance_id, activity_id, customer_id, activity_time, valid_until, content_hash, caller, created_at,
  source_data_source, source_entity, source_key, data)
  SELECT instance_id, activity_id, customer_id, activity_time, valid_until, content_hash, caller, created_at,
    source_data_source, source_entity, source_key, data FROM realtime_activities ORDER BY created_at;
DROP TABLE realtime_activities;
ALTER TABLE realtime_activities_v8 RENAME TO realtime_activities;
CREATE UNIQUE INDEX realtime_activities_id ON realtime_activities (instance_id, activity_id);
CREATE INDEX realtime_activities_customer ON realtime_activities (instance_id, customer_id, activity_time);
CREATE INDEX realtime_activities_expiry ON realtime_activities (valid_until);
`,
  },
  {
    version: 9,
    name: 'scheduled runs record their slot: several nodes never run one slot twice',
    sql: `
-- The cron time a scheduled run is for (ISO); NULL for runs started by hand, the API or the CLI.
ALTER TABLE runs ADD COLUMN scheduled_for TEXT;
CREATE UNIQUE INDEX runs_scheduled_slot ON runs (instance_id, scheduled_for) WHERE scheduled_for IS NOT NULL;
`,
  },
  {
    version: 10,
    name: 'documents read whole keep their key order',
    // PostgreSQL's change (jsonb to json); SQLite stores JSON as the text given already.
    sql: `SELECT 1;`,
  },
  {
    version: 11,
    name: 'web UI sessions in the database (any node serves any session); export runs record their node',
    sql: `
-- A session is the SHA-256 of the random id in the browser's cookie, never the id itself, and the
-- SHA-256 of the API key it stands for, never the key.
CREATE TABLE ui_sessions (
  id_hash TEXT PRIMARY KEY,
  key_hash TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_seen_at TEXT NOT NULL
);
CREATE INDEX ui_sessions_last_seen ON ui_sessions (last_seen_at);
-- The process that executes an export run started by hand or on a schedule (the same column as on
-- PostgreSQL, where several processes share the database).
ALTER TABLE export_runs ADD COLUMN node_id TEXT;
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
    // PostgreSQL's change (one shared table). Here each generation's own alternate_keys table has
    // the column from its creation (statements.ts); those of older generations, and the shared
    // table, are left as they are (carryOverlay reads no time for them).
    sql: `SELECT 1;`,
  },
];
