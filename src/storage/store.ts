// The one storage port. Adapters (sqlite/, postgres/) implement it with the same file set,
// and test/storage/conformance.test.ts runs the same suite against each.
import type { InstanceDefinition } from '../config/schema.js';
import type { FilterNode } from '../api/odata/filter.js';
import type { OrderByItem } from '../api/odata/options.js';
import type { AttributeType } from '../api/odata/sql.js';
import type { ActivityRecord, AlternateKeyRecord, CustomerRecord } from '../domain/profile.js';
import type { EncodedEnrichments } from '../domain/enrich-batch.js';
import type { ProfileOverride, RealtimeResult, RealtimeWrite } from '../domain/realtime.js';
import type { RunRecord, RunStatus, StageRecord } from '../domain/run.js';
import type { FieldSourceLegend } from '../domain/field-sources.js';
import type { SearchSpec } from '../domain/search-terms.js';
import type { CardStore } from './card.js';
import type { SearchStore } from './search.js';
import type { TelemetryStore } from './telemetry.js';
import type { AnalyticsStore, CustomerMeasureRow } from './analytics.js';
import type { EnrichmentStore } from './enrichment.js';
import type { ExportRunStore } from './exports.js';
import type { NotificationStore } from './notifications.js';
import type { AccessStore } from './access.js';
import type { UiSessionStore } from './sessions.js';

export interface InstanceRecord {
  id: string;
  name: string;
  definition: InstanceDefinition;
  /** Where the definition was applied from, for messages. */
  sourceFile: string;
  /** Directory that relative data source paths resolve against. */
  baseDir: string;
  currentGeneration: number | null;
  createdAt: string;
  updatedAt: string;
}

export type Role = 'Viewer' | 'Contributor' | 'Administrator';

export interface ApiKeyRecord {
  id: string;
  /** null: a server-wide key (valid for every instance). */
  instanceId: string | null;
  principalId: string;
  name: string;
  role: Role;
  /** The first characters of the key, shown in listings so people can tell keys apart. */
  prefix: string;
  /** SHA-256 of the key, hex. The key itself is never stored. */
  hash: string;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
}

export type UnifiedEntityName = 'Customer' | 'UnifiedActivity' | 'AlternateKey' | 'CustomerEnrichment' | 'Customer_Measure';

export interface Page {
  skip?: number;
  top?: number;
}

/** A read of a unified entity through the real-time overlay, expressed as a parsed OData query. */
export interface EntityQuery {
  /** The entity's attributes and their types: the whitelist filters and sorting may use. */
  attributes: Record<string, AttributeType>;
  filter?: FilterNode;
  orderby: OrderByItem[];
  top: number;
  skip: number;
  count: boolean;
}

export interface ProfileView {
  customer: CustomerRecord;
  /** Newest last-modified time of the profile's source records (ISO), if known. */
  sourceModified: string | null;
  /** Every stored override of the profile; callers decide which count (domain/realtime.ts). */
  overrides: ProfileOverride[];
}

/** What a GenerationWriter writes, part by part. */
export type GenerationPart = 'customers' | 'alternateKeys' | 'activities' | 'measures' | 'segments';

/**
 * Writes one generation of unified data; nothing is visible to readers until commit(). The writes
 * happen in the order they are called, but an adapter may do them behind the caller (a thread of its
 * own): a write's promise can resolve before its rows are stored, and a write that failed then makes
 * a later call, flush() or commit() reject.
 */
export interface GenerationWriter {
  readonly generation: number;
  /** sourceModified[i]: newest last-modified time among rows[i]'s source records (ISO), or null. */
  /** fieldSources[i]: where rows[i]'s merged fields came from (domain/field-sources.ts), or null. */
  writeCustomers(rows: CustomerRecord[], sourceModified?: (string | null)[], fieldSources?: (string | null)[]): Promise<void>;
  /** The legend that explains the customers' fieldSources strings. */
  setFieldSourceLegend(legend: FieldSourceLegend): Promise<void>;
  /** Builds the customer search terms from the customers written; call after the last writeCustomers. */
  buildSearchTerms(spec: SearchSpec): Promise<number>;
  /**
   * Indexes these Customer attributes for `$filter` (the instance's filterIndex); call after the
   * last writeCustomers. Returns how many indexes there are for them. Results never depend on
   * it, only the time a filter takes.
   */
  indexCustomerAttributes(attributes: readonly { name: string; type: AttributeType }[]): Promise<number>;
  /**
   * sourceModified[i]: last-modified time of rows[i]'s source record (ISO), or null. The refresh
   * commit compares them with the previous generation's to find the records that are new or
   * changed (an override older than such a record stops counting).
   */
  writeAlternateKeys(rows: AlternateKeyRecord[], sourceModified?: (string | null)[]): Promise<void>;
  writeActivities(rows: ActivityRecord[]): Promise<void>;
  /** Per-customer measure values (one row per customer: CustomerId and the measures). */
  writeCustomerMeasures(rows: CustomerMeasureRow[]): Promise<void>;
  writeSegmentMembers(segment: string, customerIds: string[]): Promise<void>;
  /**
   * Enrichment rows (domain/enrich-batch.ts), in CustomerId order across calls. May be called
   * while other parts are being written; resolves once the rows are stored.
   */
  writeEnrichments(rows: EncodedEnrichments): Promise<void>;
  /**
   * No more rows of this part will be written: a store may build its indexes now, behind the
   * caller, instead of at commit.
   */
  complete(part: GenerationPart): Promise<void>;
  /** Resolves once everything written so far is stored; rejects with the first failed write. */
  flush(): Promise<void>;
  /**
   * In one transaction: makes this generation the one readers see and records the run as
   * successful with its final stages, so a crash can never leave one without the other.
   */
  commit(run: {
    stages: StageRecord[];
    summary: Record<string, number>;
    endedAt: string;
    /** Retired CustomerId → the id that absorbed it: real-time data follows its customer. */
    remap?: [string, string][];
  }): Promise<void>;
  /** Throws away everything written; readers keep seeing the previous generation. */
  abort(): Promise<void>;
}

/** Held while a process executes an instance's refresh (Store.claimRefresh). */
export interface RefreshClaim {
  release(): Promise<void>;
}

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  /** Real-time API telemetry per minute (storage/telemetry.ts). */
  readonly telemetry: TelemetryStore;
  /** Customer search (storage/search.ts). */
  readonly search: SearchStore;
  /** Reads of the customer card (storage/card.ts). */
  readonly card: CardStore;
  /** CustomerEnrichment rows per generation. */
  readonly enrichment: EnrichmentStore;
  /** Measures (Customer_Measure, business values) and segment membership per generation. */
  readonly analytics: AnalyticsStore;
  /** Recorded export runs. */
  readonly exportRuns: ExportRunStore;
  /** Webhook deliveries and threshold state. */
  readonly notifications: NotificationStore;
  /** Web UI sessions (storage/sessions.ts). */
  readonly sessions: UiSessionStore;
  close(): Promise<void>;

  putInstance(instance: Pick<InstanceRecord, 'id' | 'name' | 'definition' | 'sourceFile' | 'baseDir'>): Promise<'created' | 'updated'>;
  getInstance(id: string): Promise<InstanceRecord | undefined>;
  listInstances(): Promise<InstanceRecord[]>;

  /**
   * Queues a run unless the instance already has one queued or running (then returns the active one
   * and created=false). A scheduled run names its slot (the cron time, ISO): a slot runs once, so a
   * second node whose timer fires for the same slot gets created=false and the slot's run.
   */
  createRun(instanceId: string, trigger: RunRecord['trigger'], options?: { scheduledFor?: string }): Promise<{ run: RunRecord; created: boolean }>;
  updateRun(
    instanceId: string,
    jobId: string,
    patch: Partial<Pick<RunRecord, 'status' | 'startedAt' | 'endedAt' | 'error' | 'generation' | 'summary'>> & { stages?: StageRecord[] },
  ): Promise<void>;
  getRun(instanceId: string, jobId: string): Promise<RunRecord | undefined>;
  listRuns(instanceId: string, limit?: number): Promise<RunRecord[]>;
  /**
   * Runs left queued or running by a process that died are marked failed; returns how many. Runs
   * whose refresh claim is held (claimRefresh: a live process executes them) are left alone.
   */
  failInterruptedRuns(reason: string): Promise<number>;
  /**
   * The right to execute an instance's refresh, one process at a time across every process on the
   * database (coordination.ts of each adapter). The executing process takes it before creating the
   * run and releases it after the run ended; null when another holder has it.
   */
  claimRefresh(instanceId: string): Promise<RefreshClaim | null>;
  activeRun(instanceId: string): Promise<RunRecord | undefined>;

  /** `expectedRows`: about how many rows the caller will write (an adapter may load a large generation differently). */
  beginGeneration(instanceId: string, jobId: string, options?: { expectedRows?: number }): Promise<GenerationWriter>;
  /** Removes generations that are neither current nor being built (and leftovers of crashed builds). */
  pruneGenerations(instanceId: string): Promise<number>;

  /** PreviousCustomerId of every current customer that has one. */
  loadPreviousCustomerIds(instanceId: string): Promise<Map<string, string>>;

  getCustomer(instanceId: string, customerId: string): Promise<CustomerRecord | undefined>;
  findCustomerIdByKey(instanceId: string, dataSource: string, entity: string, key: string): Promise<string | undefined>;
  alternateKeysOf(instanceId: string, customerId: string): Promise<AlternateKeyRecord[]>;
  /** Batch and live real-time activities of a customer, newest first. */
  activitiesOf(instanceId: string, customerId: string, page?: Page, nowIso?: string): Promise<ActivityRecord[]>;
  count(instanceId: string, entity: UnifiedEntityName): Promise<number>;
  /** Streams a whole unified entity of the current generation in pages (exports; merge reads the previous key ring this way). */
  scan(instanceId: string, entity: UnifiedEntityName, batchSize?: number): AsyncIterable<Record<string, unknown>[]>;

  /**
   * Applies real-time writes in one transaction (a grouped commit); each write succeeds or fails
   * on its own. When the promise resolves, every successful write is committed to disk.
   */
  applyRealtime(writes: RealtimeWrite[]): Promise<RealtimeResult[]>;
  /** A profile of the current generation with its stored overrides. */
  getProfile(instanceId: string, customerId: string): Promise<ProfileView | undefined>;
  /** A batch activity, or a real-time one that has not expired. */
  getActivity(instanceId: string, activityId: string, nowIso: string): Promise<ActivityRecord | undefined>;
  /** Customer (with counting overrides applied), UnifiedActivity (batch and live real-time) or AlternateKey. */
  queryEntity(instanceId: string, entity: UnifiedEntityName, query: EntityQuery, nowIso: string): Promise<{ rows: Record<string, unknown>[]; count?: number }>;
  /** Deletes expired overrides and real-time activities; returns how many (nothing while another process sweeps). */
  sweepExpired(nowIso: string): Promise<{ overrides: number; activities: number }>;

  createApiKey(key: Omit<ApiKeyRecord, 'lastUsedAt' | 'revokedAt'>): Promise<void>;
  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  listApiKeys(instanceId: string | null): Promise<ApiKeyRecord[]>;
  touchApiKey(id: string, at: string): Promise<void>;

  /** Principals, role assignments, key slots and the audit log (src/storage/access.ts). */
  readonly access: AccessStore;
}

export type { RunRecord, RunStatus, StageRecord };
