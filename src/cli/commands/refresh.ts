import { openServices, type DatabaseOptions } from '../../services.js';
import type { RefreshClaim } from '../../storage/store.js';
import { CliError } from '../errors.js';
import { cliActor } from './keys.js';
import { stageBars } from '../progress.js';

export async function refresh(instanceId: string, dataDir: string, database?: DatabaseOptions): Promise<void> {
  // In a process of its own, as the server runs refreshes: with its own connection and the V8 flags
  // a refresh wants (REFRESH_PROCESS_FLAGS in pipeline.ts), which this process cannot change.
  const services = await openServices({ dataDir, database, refreshInOwnProcess: true });
  const bars = stageBars();
  const controller = new AbortController();
  const onSignal = () => {
    process.stderr.write('\ncancelling the refresh…\n');
    controller.abort();
  };
  process.once('SIGINT', onSignal);
  let claim: RefreshClaim | null = null;
  try {
    if (!(await services.store.getInstance(instanceId))) throw new CliError(`instance '${instanceId}' does not exist; apply its definition first`);
    // Held until the run ended, like a server's runner does: servers on the same database leave the run alone.
    claim = await services.store.claimRefresh(instanceId);
    if (!claim) {
      const active = await services.store.activeRun(instanceId);
      throw new CliError(`a refresh of '${instanceId}' is already running in another process${active ? ` (${active.jobId}, ${active.status})` : ''}`);
    }
    const { run, created } = await services.store.createRun(instanceId, 'cli');
    if (!created) throw new CliError(`refresh ${run.jobId} is already ${run.status} for '${instanceId}'`);
    process.stderr.write(`refresh ${run.jobId} of '${instanceId}'\n`);
    await services.access.audit({ instanceId, principalId: cliActor(), action: 'refresh.start', target: run.jobId, outcome: 'success', detail: { via: 'cli' } });
    const result = await services.executeRefresh(
      run,
      controller.signal,
      (stage, done, total) => bars.progress(stage, done, total),
      (s) => bars.stage(s),
    );
    bars.stop();
    const issues = result.stages.flatMap((s) => s.issues.map((i) => `  ${s.name}: ${i.message} (${i.count})${i.samples.length ? `\n      e.g. ${i.samples.slice(0, 3).join('\n      e.g. ')}` : ''}`));
    if (issues.length) process.stderr.write(`issues:\n${issues.join('\n')}\n`);
    if (result.status === 'cancelled')
      await services.access.audit({ instanceId, principalId: cliActor(), action: 'refresh.cancel', target: run.jobId, outcome: 'success', detail: { via: 'cli', signal: 'SIGINT' } });
    if (result.status !== 'successful') throw new CliError(`refresh ${result.status}${result.error ? `: ${result.error}` : ''}`);
    const s = result.summary;
    process.stdout.write(`refresh successful: ${s.recordsRead} records → ${s.profiles} profiles, ${s.activities} activities\n`);
  } finally {
    process.off('SIGINT', onSignal);
    bars.stop();
    await claim?.release();
    await services.close();
  }
}
