// CPU time per process group on this machine, from /proc: where a benchmark's CPU went (the
// pipeline's own processes, PostgreSQL, Redis, the kernel and whatever else ran meanwhile).
import { readdirSync, readFileSync } from 'node:fs';

/** CPU ms (user + system) of every live process, by pid, with its command name. */
function snapshot(): Map<number, { comm: string; ms: number }> {
  const out = new Map<number, { comm: string; ms: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      out.set(Number(entry), { comm: stat.slice(stat.indexOf('(') + 1, close), ms: ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 });
    } catch {
      // The process exited between the listing and the read.
    }
  }
  return out;
}

/** CPU time the whole machine has spent (every process and the kernel, idle excluded), in ms. */
export function machineCpuMs(): number {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  return ((user + nice + system + irq + softirq + steal) * 1000) / 100;
}

/**
 * Starts measuring; the returned function gives each group's CPU ms since then. `named` maps
 * known pids to a group; PostgreSQL and Redis are grouped by command name. `unattributed` is the
 * machine's total less every live process: the kernel's interrupt work and processes that exited
 * meanwhile (autovacuum workers, for one).
 */
export function processCpu(named: () => Map<number, string>): () => Record<string, number> {
  const before = snapshot();
  const machineBefore = machineCpuMs();
  return () => {
    const groups = named();
    const after = snapshot();
    const totals: Record<string, number> = {};
    let attributed = 0;
    for (const [pid, { comm, ms }] of after) {
      const used = ms - (before.get(pid)?.ms ?? 0);
      if (used <= 0) continue;
      const group = groups.get(pid) ?? (comm === 'postgres' ? 'postgres' : comm.startsWith('redis-server') ? 'redis' : 'other');
      totals[group] = (totals[group] ?? 0) + used;
      attributed += used;
    }
    totals.unattributed = Math.max(0, machineCpuMs() - machineBefore - attributed);
    return totals;
  };
}
