import { type MigrationInterface, type QueryRunner } from "typeorm";
import { createIndexesConcurrently, dropIndexesConcurrently, type IndexDefinition } from "../src/infra/database/concurrent-indexes";

/**
 * Generated, then made to build without blocking writes on the largest table (see
 * concurrent-indexes.ts). Serves MessageStore.waitingFor (a server paused, deleted or its limits
 * changed), which read every server's pending mail to find one server's.
 */
const INDEXES: IndexDefinition[] = [
    {
        name: "IDX_messages_server_waiting",
        definition: `ON "messages" ("server_id")
            WHERE "status" IN ('QUEUED', 'DEFERRED') AND "server_id" IS NOT NULL`,
    },
];

export class MessageServerWaitingIndex1796683208799 implements MigrationInterface {
    name = 'MessageServerWaitingIndex1796683208799'
    transaction = false

    public async up(queryRunner: QueryRunner): Promise<void> {
        await createIndexesConcurrently(queryRunner, INDEXES);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await dropIndexesConcurrently(queryRunner, INDEXES);
    }

}
