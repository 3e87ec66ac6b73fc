import { type MigrationInterface, type QueryRunner } from "typeorm";
import { createIndexesConcurrently, dropIndexesConcurrently, type IndexDefinition } from "../src/infra/database/concurrent-indexes";

/**
 * Generated, then made to build without blocking writes on the largest table (see
 * concurrent-indexes.ts). Serves `messages` filtered by a problem status (FAILED, BOUNCED, …),
 * which otherwise walked the account's whole history newest first to find a page.
 */
const INDEXES: IndexDefinition[] = [
    {
        name: "IDX_messages_account_problems",
        definition: `ON "messages" ("account_id", "status", "created_at", "id")
            WHERE "status" IN ('DEFERRED', 'FAILED', 'BOUNCED', 'COMPLAINED', 'SUPPRESSED', 'REJECTED')`,
    },
];

export class MessageProblemsIndex1796680687577 implements MigrationInterface {
    name = 'MessageProblemsIndex1796680687577'
    transaction = false

    public async up(queryRunner: QueryRunner): Promise<void> {
        await createIndexesConcurrently(queryRunner, INDEXES);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await dropIndexesConcurrently(queryRunner, INDEXES);
    }

}
