import { setTimeout as delay } from 'node:timers/promises';
import { DataSource, type QueryRunner } from 'typeorm';
import { dataSourceOptions } from './data-source-options';

/** Any constant shared by every mailroute process: serialises migrations across processes. */
const MIGRATION_LOCK_ID = 0x6d61696c; // "mail"
/** How often a process waiting for another's migrations asks for the lock again. */
const LOCK_POLL_MS = 250;

/**
 * Runs pending migrations under a PostgreSQL advisory lock, so two processes starting together
 * (an API and a worker) never race to apply the same migration.
 *
 * The lock is polled with pg_try_advisory_lock, never waited for in pg_advisory_lock: a session
 * blocked in that SELECT holds a snapshot, and CREATE INDEX CONCURRENTLY (run by the process
 * holding the lock) waits for every older snapshot in the database to end — a deadlock that
 * PostgreSQL cannot see, since the lock's holder is another connection of the waiting process.
 */
export async function runMigrations(url: string): Promise<string[]> {
  const dataSource = new DataSource(dataSourceOptions(url));
  await dataSource.initialize();
  const lock = dataSource.createQueryRunner();
  try {
    await lock.connect();
    while (!(await tryLock(lock))) await delay(LOCK_POLL_MS);
    try {
      // migrationsTransactionMode 'each' (data-source-options.ts): one transaction per migration.
      const applied = await dataSource.runMigrations();
      return applied.map((m) => m.name);
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
    }
  } finally {
    await lock.release();
    await dataSource.destroy();
  }
}

async function tryLock(lock: QueryRunner): Promise<boolean> {
  const [row] = (await lock.query('SELECT pg_try_advisory_lock($1) AS "locked"', [MIGRATION_LOCK_ID])) as { locked: boolean }[];
  return row.locked;
}
