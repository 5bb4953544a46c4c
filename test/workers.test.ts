import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { REFRESH_PROCESS_FLAGS, REFRESH_SEMI_SPACE_MIB } from '../src/refresh/pipeline.js';
import { forkModule } from '../src/workers.js';

const REFRESH_PROCESS = new URL('./fixtures/workers/refresh-process.js', import.meta.url);
const RETAIN_MIB = 256;

interface HeapReport {
  newSpaceMiB: number;
  majors: number;
  kept: number;
}

interface ProcessReport extends HeapReport {
  mainTicks: number;
  otherTicks: number;
  thread: HeapReport;
}

async function report(execArgv: string[]): Promise<ProcessReport> {
  const child = forkModule(REFRESH_PROCESS, execArgv);
  child.send({ retainMiB: RETAIN_MIB });
  const [result] = (await once(child, 'message')) as [ProcessReport];
  await once(child, 'exit');
  assert.equal(result.kept, RETAIN_MIB / 8);
  assert.equal(result.thread.kept, RETAIN_MIB / 8);
  return result;
}

test("a refresh's process collects garbage on its own thread only, with its semi-spaces at their size from the start and no full collection below its initial old space; threads it starts get V8's default heap", async () => {
  const plain = await report([]);
  assert.ok(plain.majors > 0, `with V8's defaults the heap is collected while it grows to ${RETAIN_MIB} MiB (${plain.majors} full collections)`);
  assert.ok(plain.newSpaceMiB < 16, `V8 starts with a small new space (${plain.newSpaceMiB} MiB)`);
  assert.ok(plain.otherTicks > plain.mainTicks * 0.1, `V8's helper threads collect beside the main thread by default (${plain.otherTicks} ticks against ${plain.mainTicks})`);

  const refresh = await report([...REFRESH_PROCESS_FLAGS]);
  assert.equal(refresh.majors, 0);
  assert.ok(refresh.newSpaceMiB >= REFRESH_SEMI_SPACE_MIB, `new space at start: ${refresh.newSpaceMiB} MiB`);
  assert.ok(refresh.otherTicks <= refresh.mainTicks * 0.05, `no helper thread collects (${refresh.otherTicks} ticks against ${refresh.mainTicks} on the main thread)`);
  assert.ok(refresh.thread.majors > 0, `a thread started after the reset collects as V8 does by default (${refresh.thread.majors} full collections)`);
  assert.ok(refresh.thread.newSpaceMiB < 16, `its new space at start: ${refresh.thread.newSpaceMiB} MiB`);
});
