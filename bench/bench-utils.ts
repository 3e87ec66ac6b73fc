// Helpers the benchmarks share: polling for a condition, rounding, and SQL on a test database.
import { Client } from 'pg';

/** Polls `probe` every `everyMs` until it holds, failing with `what` after `timeoutMs`. */
export async function until(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 30 * 60_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Seconds since `started` (a process.hrtime.bigint() reading). */
export const secondsSince = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e9;

/** Rounded to `digits` decimals (milliseconds for seconds by default). */
export const round = (n: number, digits = 3): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** A connected client on `databaseUrl`, ended after `fn`. */
export async function withDb<T>(databaseUrl: string, fn: (db: Client) => Promise<T>): Promise<T> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

/** `count(*)` of a query's rows, as a number. */
export async function countRows(db: Client, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM (${sql}) AS counted`, params);
  return Number(rows[0].n);
}

/** CPU milliseconds (user + system, from a process.cpuUsage(previous) delta) per unit of work, to 2 decimals. */
export const cpuMsPer = (cpu: NodeJS.CpuUsage, units: number): number => round((cpu.user + cpu.system) / 1000 / Math.max(units, 1), 2);
