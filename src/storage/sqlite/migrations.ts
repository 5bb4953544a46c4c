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
];
