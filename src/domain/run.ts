// Refresh runs as recorded: a job with stages, the shape the jobs API reports.
export type RunStatus = 'queued' | 'running' | 'successful' | 'failed' | 'cancelled';
export type StageStatus = 'pending' | 'running' | 'successful' | 'failed' | 'cancelled' | 'skipped';

// enrich (like measures and segments) writes into the generation before its commit; export reads
// the committed generation, after the run is recorded successful.
export const STAGE_NAMES = ['pull', 'normalize', 'dedupe', 'match', 'merge', 'activities', 'measures', 'segments', 'write', 'enrich', 'export'] as const;
export type StageName = (typeof STAGE_NAMES)[number];

export interface StageRecord {
  name: StageName;
  status: StageStatus;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  /** Record counts, named by what they count (e.g. recordsIn, profiles, unresolved). */
  counts: Record<string, number>;
  /** Problems that did not stop the run (bad rows, unresolved activities): located, capped samples. */
  issues: { message: string; count: number; samples: string[] }[];
  error: string | null;
}

export interface RunRecord {
  jobId: string;
  instanceId: string;
  status: RunStatus;
  trigger: 'manual' | 'schedule' | 'api' | 'cli' | 'demo';
  submittedAt: string;
  startedAt: string | null;
  endedAt: string | null;
  error: string | null;
  generation: number | null;
  stages: StageRecord[];
  summary: Record<string, number>;
}

export function newStages(): StageRecord[] {
  return STAGE_NAMES.map((name) => ({
    name,
    status: 'pending',
    startedAt: null,
    endedAt: null,
    durationMs: null,
    counts: {},
    issues: [],
    error: null,
  }));
}
