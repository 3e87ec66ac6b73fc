// `npm run migration:run`: the pending migrations, under the same advisory lock as a starting
// process (runMigrations), so running it while the app starts never applies one twice.
// It reads `.env` and makes the database if missing, as a start does (main.ts).
import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { buildAppConfig } from '../../config/configuration';
import { validateEnv } from '../../config/env.validation';
import { checkPostgres } from '../preflight';
import { runMigrations } from './run-migrations';

async function migrate(): Promise<string[]> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const url = buildAppConfig(validateEnv(process.env)).database.url;
  const problem = await checkPostgres(url);
  if (problem) throw new Error(problem);
  return runMigrations(url, (line) => process.stdout.write(`mailroute: ${line}\n`));
}

migrate()
  .then((applied) => {
    if (!applied.length) process.stdout.write('mailroute: the database is up to date\n');
  })
  .catch((err: unknown) => {
    process.stderr.write(`mailroute: migrations failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
