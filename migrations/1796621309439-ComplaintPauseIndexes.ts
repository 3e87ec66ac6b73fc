import { type MigrationInterface, type QueryRunner } from "typeorm";

/**
 * Generated, then made to build without blocking writes: messages and message_events are the two
 * largest tables, and a plain CREATE INDEX holds off every insert and update on them for the whole
 * build. CONCURRENTLY cannot run in a transaction, hence `transaction = false` (which TypeORM
 * accepts only with migrationsTransactionMode 'each' or 'none': data-source-options.ts).
 *
 * A concurrent build that fails (cancelled, timed out, a deadlock, the connection lost) leaves
 * an INVALID index of that name behind, which IF NOT EXISTS would then take for done, and the
 * migration is not recorded, so it runs again on the next start: up() drops an invalid leftover
 * first.
 *
 * Reverting must run outside a transaction too: `migration:revert -d ormconfig.ts -t none`.
 */
const INDEXES = [
    {
        name: "IDX_messages_server_complained",
        definition: `ON "messages" ("server_id", "sent_at", "id")
            WHERE "status" = 'COMPLAINED'`,
    },
    {
        name: "IDX_message_events_server_complaints",
        definition: `ON "message_events" ("server_id", "occurred_at", "message_id")
            WHERE "type" = 'COMPLAINT'`,
    },
];

export class ComplaintPauseIndexes1796621309439 implements MigrationInterface {
    name = 'ComplaintPauseIndexes1796621309439'
    transaction = false

    public async up(queryRunner: QueryRunner): Promise<void> {
        for (const { name, definition } of INDEXES) {
            const [found] = (await queryRunner.query(
                `SELECT "indisvalid" AS "valid" FROM "pg_index" WHERE "indexrelid" = to_regclass($1)`,
                [`"public"."${name}"`],
            )) as { valid: boolean }[];
            if (found && !found.valid) {
                await queryRunner.query(`
                    DROP INDEX CONCURRENTLY "public"."${name}"
                `);
            }
            await queryRunner.query(`
                CREATE INDEX CONCURRENTLY IF NOT EXISTS "${name}" ${definition}
            `);
        }
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        for (const { name } of [...INDEXES].reverse()) {
            await queryRunner.query(`
                DROP INDEX CONCURRENTLY IF EXISTS "public"."${name}"
            `);
        }
    }

}
