import { type MigrationInterface, type QueryRunner } from "typeorm";
import { createIndexesConcurrently, dropIndexesConcurrently, type IndexDefinition } from "../src/infra/database/concurrent-indexes";

const RECEIVED: IndexDefinition[] = [{ name: "IDX_webhook_events_unmatched_received", definition: `ON "webhook_events_unmatched" ("received_at")` }];
const RECHECK: IndexDefinition[] = [
    {
        name: "IDX_webhook_events_unmatched_recheck",
        definition: `ON "webhook_events_unmatched" ("recheck_at")
            WHERE "recheck_at" IS NOT NULL`,
    },
];

/**
 * Generated, then made to build its index without blocking webhook writes (concurrent-indexes.ts)
 * and to be re-runnable step by step (it runs outside a transaction). EarlyWebhookEvents claims
 * events by `recheck_at` instead of reading every recent one each sweep; the events of the last
 * two hours that name a provider id are due at once.
 */
export class UnmatchedRecheck1796623632748 implements MigrationInterface {
    name = 'UnmatchedRecheck1796623632748'
    transaction = false

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "webhook_events_unmatched"
            ADD COLUMN IF NOT EXISTS "recheck_at" TIMESTAMP(3) WITH TIME ZONE
        `);
        // While the received_at index still serves this (the table is an audit log, never purged).
        await queryRunner.query(`
            UPDATE "webhook_events_unmatched" SET "recheck_at" = now()
            WHERE "recheck_at" IS NULL AND btrim("provider_message_id", '<> ') <> '' AND "received_at" > now() - interval '2 hours'
        `);
        await createIndexesConcurrently(queryRunner, RECHECK);
        await dropIndexesConcurrently(queryRunner, RECEIVED);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await dropIndexesConcurrently(queryRunner, RECHECK);
        await queryRunner.query(`
            ALTER TABLE "webhook_events_unmatched" DROP COLUMN IF EXISTS "recheck_at"
        `);
        await createIndexesConcurrently(queryRunner, RECEIVED);
    }

}
