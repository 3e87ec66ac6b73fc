import type { QueryRunner } from 'typeorm';

/** An index a migration builds: its name and the rest of its CREATE INDEX statement ("ON … (…) WHERE …"). */
export interface IndexDefinition {
  name: string;
  definition: string;
}

/**
 * Builds indexes without blocking writes (CREATE INDEX CONCURRENTLY), for tables that may be large
 * in production. The migration must set `transaction = false`: CONCURRENTLY cannot run in a
 * transaction (TypeORM accepts that with migrationsTransactionMode 'each', data-source-options.ts).
 *
 * A concurrent build that fails (cancelled, timed out, a deadlock, the connection lost) leaves
 * an INVALID index of that name behind, which IF NOT EXISTS would take for done, and the
 * migration is not recorded, so it runs again on the next start: an invalid leftover is dropped
 * first.
 */
export async function createIndexesConcurrently(queryRunner: QueryRunner, indexes: IndexDefinition[]): Promise<void> {
  for (const { name, definition } of indexes) {
    const [found] = (await queryRunner.query(`SELECT "indisvalid" AS "valid" FROM "pg_index" WHERE "indexrelid" = to_regclass($1)`, [`"public"."${name}"`])) as {
      valid: boolean;
    }[];
    if (found && !found.valid) await queryRunner.query(`DROP INDEX CONCURRENTLY "public"."${name}"`);
    await queryRunner.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS "${name}" ${definition}`);
  }
}

/** The reverse, last built first. Reverting must run outside a transaction too: `migration:revert -d ormconfig.ts -t none`. */
export async function dropIndexesConcurrently(queryRunner: QueryRunner, indexes: IndexDefinition[]): Promise<void> {
  for (const { name } of [...indexes].reverse()) await queryRunner.query(`DROP INDEX CONCURRENTLY IF EXISTS "public"."${name}"`);
}
