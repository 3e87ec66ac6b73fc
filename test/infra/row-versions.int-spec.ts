import { rowVersions, rowVersionsFrom, rowVersionsSql } from '../../src/infra/database/row-versions';
import { withAdminClient } from '../utils/test-db';

/**
 * A kept answer records the row versions of the rows it was made from (worked out in the app) and
 * is served again only while PostgreSQL works out the same for the rows now there: the two must
 * agree exactly, and differ as soon as any row does.
 */
describe('row versions', () => {
  it('are the same worked out by the app over rows read and by PostgreSQL, and change with any row', async () => {
    await withAdminClient(async (db) => {
      await db.query('CREATE TEMP TABLE versioned (id uuid PRIMARY KEY, name text)');
      const inSql = async (): Promise<string> =>
        rowVersionsFrom((await db.query<{ n: number; versions: string }>(`SELECT ${rowVersionsSql("id::text || ':' || xmin::text")} FROM versioned`)).rows[0]);
      const inApp = async (): Promise<string> => rowVersions((await db.query<{ pair: string }>(`SELECT id::text || ':' || xmin::text AS pair FROM versioned`)).rows.map((r) => r.pair));

      const seen: string[] = [];
      const check = async (): Promise<void> => {
        const fingerprint = await inSql();
        expect(await inApp()).toBe(fingerprint);
        expect(seen).not.toContain(fingerprint);
        seen.push(fingerprint);
      };
      await check(); // no rows
      // One statement: every row shares its xmin.
      await db.query(`INSERT INTO versioned SELECT gen_random_uuid(), 'row ' || i FROM generate_series(1, 20) AS i`);
      await check();
      await db.query(`UPDATE versioned SET name = name WHERE name = 'row 7'`);
      await check();
      await db.query(`DELETE FROM versioned WHERE name = 'row 3'`);
      await check();
      await db.query(`INSERT INTO versioned VALUES (gen_random_uuid(), 'row 3')`);
      await check();
    });
  });
});
