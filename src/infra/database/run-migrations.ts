import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source-options';

/** Any constant shared by every mailroute process: serialises migrations across processes. */
const MIGRATION_LOCK_ID = 0x6d61696c; // "mail"

/**
 * Runs pending migrations under a PostgreSQL advisory lock, so two processes starting together
 * (an API and a worker) never race to apply the same migration.
 */
export async function runMigrations(url: string): Promise<string[]> {
  const dataSource = new DataSource(dataSourceOptions(url));
  await dataSource.initialize();
  const lock = dataSource.createQueryRunner();
  try {
    await lock.connect();
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      return applied.map((m) => m.name);
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
    }
  } finally {
    await lock.release();
    await dataSource.destroy();
  }
}
