import { setTimeout as delay } from 'node:timers/promises';
import { DataSource, type QueryRunner } from 'typeorm';
import { dataSourceOptions } from './data-source-options';

/** Any constant shared by every mailroute process: serialises migrations across processes. */
const MIGRATION_LOCK_ID = 0x6d61696c; // "mail"
/** How often a process waiting for another's migrations asks for the lock again. */
const LOCK_POLL_MS = 250;

/**
 * Runs pending migrations under a PostgreSQL advisory lock, so two processes starting together
 * (an API and a worker), or a start and `npm run migration:run`, never race to apply the same
 * migration. `report` hears what is being waited for and what was applied.
 *
 * The lock is polled with pg_try_advisory_lock, never waited for in pg_advisory_lock: a session
 * blocked in that SELECT holds a snapshot, and CREATE INDEX CONCURRENTLY (run by the process
 * holding the lock) waits for every older snapshot in the database to end — a deadlock that
 * PostgreSQL cannot see, since the lock's holder is another connection of the waiting process.
 */
export async function runMigrations(url: string, report: (line: string) => void = () => undefined): Promise<string[]> {
  const dataSource = new DataSource(dataSourceOptions(url));
  await dataSource.initialize();
  const lock = dataSource.createQueryRunner();
  try {
    await lock.connect();
    if (!(await tryLock(lock))) {
      // Said once: a start that seems stuck here is another process's migrations (an index build waits for old transactions).
      report('waiting for another process to finish applying database migrations');
      while (!(await tryLock(lock))) await delay(LOCK_POLL_MS);
    }
    try {
      if (await dataSource.showMigrations()) report('applying database migrations');
      // migrationsTransactionMode 'each' (data-source-options.ts): one transaction per migration.
      const applied = await dataSource.runMigrations();
      if (applied.length) report(`applied ${applied.length} database migration(s): ${applied.map((m) => m.name).join(', ')}`);
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
