// Helpers the benchmarks share: polling for a condition, rounding, and SQL on a test database.
import { Client } from 'pg';
import { DispatchQueue } from '../src/modules/messages/dispatch-queue';
import type { TestApp } from '../test/utils/create-test-app';

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

/**
 * Fails unless campaign `campaignId`'s launch has really finished: `n` of its messages QUEUED,
 * its launch cursor cleared (the launch wrote every recipient), and `n` jobs waiting (or
 * delayed) in the dispatch queue. For an API-only app, whose queue nothing drains. startCampaign's
 * answer cannot show a launch cut short: it answers SENDING whatever happened (a failed chunk is
 * logged and left for a worker), and its stats count the recipients past the cursor as queued.
 */
export async function checkLaunched(t: TestApp, db: Client, campaignId: string, n: number): Promise<void> {
  const queued = await countRows(db, `SELECT 1 FROM messages WHERE campaign_id = $1 AND status = 'QUEUED'`, [campaignId]);
  const { rows } = await db.query<{ launch_cursor: string | null }>('SELECT launch_cursor FROM campaigns WHERE id = $1', [campaignId]);
  const jobs = await t.app.get(DispatchQueue).queue.getJobCounts();
  const problems = [
    queued !== n && `${queued} messages QUEUED, not ${n}`,
    rows.length !== 1 ? `campaign ${campaignId} not found` : rows[0].launch_cursor !== null && `launch cursor still set (${JSON.stringify(rows[0].launch_cursor)})`,
    jobs.waiting + jobs.delayed !== n && `${jobs.waiting} waiting + ${jobs.delayed} delayed dispatch jobs, not ${n}`,
  ].filter((p): p is string => typeof p === 'string');
  if (problems.length) throw new Error(`campaign ${campaignId} not fully launched: ${problems.join('; ')}`);
}
