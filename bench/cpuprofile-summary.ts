/**
 * Summarises a V8 CPU profile (node --cpu-prof) per refresh stage: the functions with the most
 * self time, and the project functions with the most total (inclusive) time.
 *
 *   node --import tsx bench/cpuprofile-summary.ts <file.cpuprofile> [<child-output.json>] [--top 15]
 *
 * <child-output.json>: the JSON line printed by bench/refresh-child.ts for that run; its stage
 * windows (monotonic µs, the profile's clock) split the samples by stage. Without it the whole
 * profile is summarised as one block.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--top');
const topIdx = process.argv.indexOf('--top');
const TOP = topIdx >= 0 ? Number(process.argv[topIdx + 1]) : 15;
const [profileFile, childFile] = args;
if (!profileFile) throw new Error('usage: cpuprofile-summary.ts <file.cpuprofile> [<child-output.json>]');
const profile = JSON.parse(readFileSync(profileFile, 'utf8')) as Profile;
const windows: { stage: string; startUs: number; endUs: number }[] = childFile
  ? (JSON.parse(readFileSync(childFile, 'utf8').trim().split('\n').filter((l) => l.startsWith('{')).pop()!) as { cpu: { stage: string; startUs: number; endUs: number }[] }).cpu
  : [];

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const root = path.resolve(process.cwd());
function label(n: ProfileNode): string {
  const f = n.callFrame;
  const name = f.functionName || '(anonymous)';
  if (!f.url) return name;
  let file = f.url.replace(/^file:\/\//, '');
  if (file.startsWith(root)) file = path.relative(root, file);
  file = file.replace(/^.*node_modules\//, 'node_modules/');
  // Under tsx the line numbers refer to the transformed code and are often 0: leave them out then.
  return f.lineNumber > 0 ? `${name} ${file}:${f.lineNumber + 1}` : `${name} ${file}`;
}
const isProject = (n: ProfileNode) => /\/(src|bench)\//.test(n.callFrame.url) && !n.callFrame.url.includes('node_modules');

interface Block {
  name: string;
  totalUs: number;
  self: Map<string, number>;
  inclusive: Map<string, number>;
}
const blocks: Block[] = (windows.length ? windows.map((w) => w.stage) : ['whole profile']).map((name) => ({ name, totalUs: 0, self: new Map(), inclusive: new Map() }));
const outside: Block = { name: '(outside the stages)', totalUs: 0, self: new Map(), inclusive: new Map() };

let t = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i];
  const dt = profile.timeDeltas[i + 1] ?? 0; // a sample stands for the time until the next one
  let block: Block = outside;
  if (windows.length) {
    const w = windows.findIndex((x) => t >= x.startUs && t <= x.endUs);
    if (w >= 0) block = blocks[w];
  } else block = blocks[0];
  block.totalUs += dt;
  const leaf = byId.get(profile.samples[i])!;
  const selfName = label(leaf);
  block.self.set(selfName, (block.self.get(selfName) ?? 0) + dt);
  const seen = new Set<string>();
  for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
    const n = byId.get(id)!;
    if (!isProject(n)) continue;
    const l = label(n);
    if (seen.has(l)) continue; // recursion
    seen.add(l);
    block.inclusive.set(l, (block.inclusive.get(l) ?? 0) + dt);
  }
}

const ms = (us: number) => (us / 1000).toFixed(0).padStart(7);
const share = (us: number, of: number) => ((100 * us) / of).toFixed(1).padStart(5) + ' %';
for (const b of [...blocks, outside]) {
  if (b.totalUs === 0) continue;
  console.log(`\n=== ${b.name}: ${(b.totalUs / 1000).toFixed(0)} ms of samples`);
  console.log('  self time:');
  for (const [name, us] of [...b.self].sort((x, y) => y[1] - x[1]).slice(0, TOP)) console.log(`    ${ms(us)} ms ${share(us, b.totalUs)}  ${name}`);
  console.log('  project functions, total time (incl. callees):');
  for (const [name, us] of [...b.inclusive].sort((x, y) => y[1] - x[1]).slice(0, TOP)) console.log(`    ${ms(us)} ms ${share(us, b.totalUs)}  ${name}`);
}
