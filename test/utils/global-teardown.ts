import { RUN_DB_PREFIX, templateDb, withAdminClient } from './test-db';

/** Drops this run's template and any database a crashed test file of this run left behind. */
export default async function globalTeardown(): Promise<void> {
  await withAdminClient(async (client) => {
    await client.query(`DROP DATABASE IF EXISTS "${templateDb()}" WITH (FORCE)`);
    const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [RUN_DB_PREFIX()]);
    for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  });
}
