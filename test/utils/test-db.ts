import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** The server tests run against (CI and developers: the local PostgreSQL, trust auth). */
export const TEST_PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/**
 * One id per jest run (set by global-setup, inherited by the workers), so runs started side by
 * side never drop each other's databases.
 */
export const runId = (): string => process.env.MAILROUTE_TEST_RUN ?? `solo${process.pid}`;
/** Migrated once per run by global-setup; every test file clones it (CREATE DATABASE … TEMPLATE). */
export const templateDb = (): string => `mailroute_tpl_${runId()}`;
export const RUN_DB_PREFIX = (): string => `mailroute_test_${runId()}_`;

export function urlFor(database: string): string {
  const url = new URL(TEST_PG_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function withAdminClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Rows of one statement on a connection of its own, outside the app (what is really stored). */
export async function rawRows(databaseUrl: string, sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

/** A fresh database for one test file, cloned from the migrated template. */
export async function createTestDatabase(): Promise<string> {
  const name = `${RUN_DB_PREFIX()}${randomBytes(4).toString('hex')}`;
  await withAdminClient(async (client) => {
    // Two clones of one template at the same moment can collide on PostgreSQL's template lock; retry briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE "${name}" TEMPLATE "${templateDb()}"`);
        return;
      } catch (err) {
        if (attempt >= 20 || (err as { code?: string }).code !== '55006') throw err;
        await new Promise((r) => setTimeout(r, 100 + attempt * 50));
      }
    }
  });
  return name;
}

export async function dropTestDatabase(name: string): Promise<void> {
  await withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}
