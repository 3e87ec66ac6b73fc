import { type MigrationInterface, type QueryRunner } from "typeorm";
import { createIndexesConcurrently, dropIndexesConcurrently, type IndexDefinition } from "../src/infra/database/concurrent-indexes";

/**
 * Generated, then made to build without blocking writes: messages and message_events are the two
 * largest tables, and a plain CREATE INDEX holds off every insert and update on them for the whole
 * build (see concurrent-indexes.ts).
 */
const INDEXES: IndexDefinition[] = [
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
        await createIndexesConcurrently(queryRunner, INDEXES);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await dropIndexesConcurrently(queryRunner, INDEXES);
    }

}
