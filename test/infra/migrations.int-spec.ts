import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/infra/database/data-source-options';
import { runMigrations } from '../../src/infra/database/run-migrations';
import { createTestDatabase, dropTestDatabase, urlFor } from '../utils/test-db';
import { waitFor } from '../utils/wait-for';

const COMPLAINT_PAUSE = 'ComplaintPauseIndexes1796621309439';
const COMPLAINT_INDEXES = ['IDX_messages_server_complained', 'IDX_message_events_server_complaints'];

/**
 * Each test works on its own clone of the migrated template (global-setup): the schema the
 * migrations build, without holding a connection on the template that other files clone.
 */
describe('migrations', () => {
  const databases: string[] = [];
  const clone = async (): Promise<string> => {
    const name = await createTestDatabase();
    databases.push(name);
    return urlFor(name);
  };
  afterAll(async () => {
    for (const name of databases) await dropTestDatabase(name);
  });

  const withClient = async <T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> => {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  /** The statements TypeORM would generate to bring the schema to the entities (migration:generate's diff). */
  const schemaDiff = async (url: string): Promise<string[]> => {
    const dataSource = await new DataSource(dataSourceOptions(url)).initialize();
    try {
      const sql = await dataSource.driver.createSchemaBuilder().log();
      return sql.upQueries.map((q) => q.query.replace(/\s+/g, ' ').trim());
    } finally {
      await dataSource.destroy();
    }
  };
  const invalidIndexes = (url: string): Promise<string[]> =>
    withClient(url, async (c) => (await c.query<{ name: string }>(`SELECT indexrelid::regclass::text AS name FROM pg_index WHERE NOT indisvalid`)).rows.map((r) => r.name));
  const complaintIndexes = (url: string): Promise<{ name: string; valid: boolean }[]> =>
    withClient(url, async (c) =>
      (
        await c.query<{ name: string; valid: boolean }>(
          `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = ANY($1) ORDER BY 1`,
          [COMPLAINT_INDEXES],
        )
      ).rows,
    );
  /** The database as it was before ComplaintPauseIndexes ran: a deploy about to apply it. */
  const beforeComplaintPause = (url: string): Promise<void> =>
    withClient(url, async (c) => {
      for (const name of COMPLAINT_INDEXES) await c.query(`DROP INDEX "public"."${name}"`);
      await c.query(`DELETE FROM typeorm_migrations WHERE name = $1`, [COMPLAINT_PAUSE]);
    });
  const allValid = COMPLAINT_INDEXES.map((name) => ({ name, valid: true })).sort((a, b) => a.name.localeCompare(b.name));

  it('build exactly the schema the entities describe (no statement to generate), with every index valid', async () => {
    const url = await clone();
    expect(await schemaDiff(url)).toEqual([]);
    expect(await invalidIndexes(url)).toEqual([]);
  });

  it('ComplaintPauseIndexes runs again after a concurrent build failed: the INVALID index it left is rebuilt', async () => {
    const url = await clone();
    await beforeComplaintPause(url);
    // A writer's open transaction makes CREATE INDEX CONCURRENTLY wait; its lock_timeout then
    // fails it after the index was entered in the catalog: an INVALID index of the same name.
    await withClient(url, async (writer) => {
      await writer.query('BEGIN');
      await writer.query('LOCK TABLE messages IN ROW EXCLUSIVE MODE');
      await withClient(url, async (deploy) => {
        await deploy.query(`SET lock_timeout = '200ms'`);
        await expect(deploy.query(`CREATE INDEX CONCURRENTLY "IDX_messages_server_complained" ON "messages" ("server_id", "sent_at", "id") WHERE "status" = 'COMPLAINED'`)).rejects.toThrow(
          /lock timeout/,
        );
      });
      await writer.query('ROLLBACK');
    });
    expect(await complaintIndexes(url)).toEqual([{ name: 'IDX_messages_server_complained', valid: false }]);

    expect(await runMigrations(url)).toEqual([COMPLAINT_PAUSE]);
    expect(await complaintIndexes(url)).toEqual(allValid);
  });

  it('two processes starting together both finish while one builds an index concurrently (the other waits without a snapshot)', async () => {
    const url = await clone();
    await beforeComplaintPause(url);
    const lockId = 0x6d61696c; // run-migrations.ts's MIGRATION_LOCK_ID
    const said: string[] = [];
    const applied = await withClient(url, async (holder) => {
      // Hold the lock until both processes are waiting for it, so that whichever gets it next
      // builds the indexes while the other is still waiting.
      await holder.query('SELECT pg_advisory_lock($1)', [lockId]);
      const both = Promise.all([runMigrations(url, (line) => said.push(line)), runMigrations(url, (line) => said.push(line))]);
      both.catch(() => undefined); // awaited below; a failure before then is reported there
      await waitFor(
        'both processes to wait for the migration lock',
        async () => {
          const { rows } = await holder.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%advisory_lock(%'`,
          );
          return rows[0].n >= 2;
        },
        15_000,
      );
      await holder.query('SELECT pg_advisory_unlock($1)', [lockId]);
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('migrations did not finish within 15 s: CREATE INDEX CONCURRENTLY waits for the other process')), 15_000);
      });
      try {
        return await Promise.race([both, stuck]);
      } finally {
        clearTimeout(timer);
      }
    });
    expect(applied.flat()).toEqual([COMPLAINT_PAUSE]);
    expect(await complaintIndexes(url)).toEqual(allValid);
    // What an operator watching a slow start reads: each waited, one applied.
    expect(said.filter((l) => l.startsWith('waiting for another process'))).toHaveLength(2);
    expect(said.filter((l) => l.startsWith('applied '))).toEqual([`applied 1 database migration(s): ${COMPLAINT_PAUSE}`]);
  });
});
