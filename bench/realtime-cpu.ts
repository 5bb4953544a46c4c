// CPU accounting for bench/realtime.ts (Linux /proc; elsewhere every figure is null): how many
// cores the bench's own processes used during a window, and how many everything else on the
// machine used (other benchmarks, builds), to tell a slow server from a busy machine.
import { readFileSync } from 'node:fs';

const TICKS_PER_S = 100; // USER_HZ; /proc reports CPU time in these ticks on Linux.

function machineBusyTicks(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    // cpu user nice system idle iowait irq softirq steal guest guest_nice
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    return f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
  } catch {
    return null;
  }
}

function processTicks(pid: number | 'self'): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) in parentheses.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime, stime
  } catch {
    return 0;
  }
}

export interface CpuWindow {
  /** Cores used by the bench process and its children over the window. */
  benchCores: number | null;
  /** Cores used by each tracked child (by name). */
  children: Record<string, number>;
  /** Cores used by everything else on the machine. */
  otherCores: number | null;
}

/** Starts a window; the returned function ends it. `pids`: the bench's children by name. */
export function cpuWindow(pids: () => Record<string, number | undefined>): () => CpuWindow {
  const t0 = process.hrtime.bigint();
  const busy0 = machineBusyTicks();
  const self0 = processTicks('self');
  const child0 = Object.fromEntries(Object.entries(pids()).map(([name, pid]) => [name, pid ? processTicks(pid) : 0]));
  return () => {
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const busy1 = machineBusyTicks();
    const cores = (ticks: number) => Math.round((ticks / TICKS_PER_S / seconds) * 100) / 100;
    const children: Record<string, number> = {};
    let own = processTicks('self') - self0;
    for (const [name, pid] of Object.entries(pids())) {
      const used = (pid ? processTicks(pid) : 0) - (child0[name] ?? 0);
      children[name] = cores(used);
      own += used;
    }
    if (busy0 === null || busy1 === null) return { benchCores: null, children, otherCores: null };
    return { benchCores: cores(own), children, otherCores: Math.max(0, cores(busy1 - busy0 - own)) };
  };
}
