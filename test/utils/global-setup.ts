import { randomBytes } from 'node:crypto';
import { runMigrations } from '../../src/infra/database/run-migrations';
import { templateDb, urlFor, withAdminClient } from './test-db';

/** Builds the migrated template database every test file of this run clones. */
export default async function globalSetup(): Promise<void> {
  process.env.MAILROUTE_TEST_RUN = `${process.pid}${randomBytes(2).toString('hex')}`;
  await withAdminClient((client) => client.query(`CREATE DATABASE "${templateDb()}"`));
  await runMigrations(urlFor(templateDb()));
}
