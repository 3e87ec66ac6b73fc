import { join } from 'node:path';
import type { DataSourceOptions } from 'typeorm';

/** One definition for the app, the migration runner, the TypeORM CLI (ormconfig.ts) and tests. */
export function dataSourceOptions(url: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    // Globs work from src (ts-node, jest) and from the build (dist/src, dist/migrations).
    entities: [join(__dirname, '..', '..', 'modules', '**', '*.entity.{ts,js}')],
    migrations: [join(__dirname, '..', '..', '..', 'migrations', '*.{ts,js}')],
    migrationsTableName: 'typeorm_migrations',
    // Each migration in its own transaction (runMigrations and `npm run migration:run` alike), so
    // one may opt out with `transaction = false` (CREATE INDEX CONCURRENTLY); TypeORM refuses that
    // in the default mode 'all'. A failure keeps the migrations before it, which are recorded.
    migrationsTransactionMode: 'each',
    // gen_random_uuid() is built into PostgreSQL 13+: no extension to install.
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    synchronize: false,
    migrationsRun: false,
    extra: { max: 20, connectionTimeoutMillis: 5_000 },
  };
}
