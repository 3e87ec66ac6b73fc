// `npm run migration:run`: the pending migrations, under the same advisory lock as a starting
// process (runMigrations), so running it while the app starts never applies one twice.
import 'reflect-metadata';
import { buildAppConfig } from '../../config/configuration';
import { validateEnv } from '../../config/env.validation';
import { runMigrations } from './run-migrations';

runMigrations(buildAppConfig(validateEnv(process.env)).database.url, (line) => process.stdout.write(`mailroute: ${line}\n`))
  .then((applied) => {
    if (!applied.length) process.stdout.write('mailroute: the database is up to date\n');
  })
  .catch((err: unknown) => {
    process.stderr.write(`mailroute: migrations failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
