// A bounded crash run inside npm test (the full one: npm run test:crash): `kindred serve` as a
// child process, SIGKILLed under concurrent real-time writes three times, restarted on the same
// data dir; no acknowledged write may be lost and no rejected one stored.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCrashTest } from './crash-harness.js';

test('acknowledged real-time writes survive SIGKILL (3 kills, one during a refresh)', { timeout: 300_000 }, async () => {
  const seed = Math.floor(Math.random() * 2 ** 31);
  const lines: string[] = [];
  const report = await runCrashTest({ kills: 3, seed, clients: 24, killAfterMs: [300, 1500], refreshEvery: 3, log: (m) => lines.push(m) });
  const summary = `seed ${seed} (rerun: npm run test:crash -- --seed ${seed} --kills 3 --clients 24 --kill-after 300-1500)\n${lines.join('\n')}\n${report.problems.join('\n')}`;
  assert.equal(report.kills, 3, summary);
  assert.ok(report.acknowledgedActivities > 0 && report.acknowledgedProfileValues > 0, `writes of both kinds were acknowledged: ${summary}`);
  assert.ok(report.rejected > 0, `some writes were rejected (the test sends bad ones): ${summary}`);
  assert.ok(report.checked > 0 && report.found > 0, summary);
  assert.equal(report.lost, 0, `acknowledged writes lost: ${summary}`);
  assert.equal(report.rejectedFound, 0, `rejected writes stored: ${summary}`);
  assert.equal(report.serverErrors, 0, `5xx answers: ${summary}`);
  assert.deepEqual(report.problems, [], summary);
});
