import { type MigrationInterface, type QueryRunner } from "typeorm";
import { createIndexesConcurrently, dropIndexesConcurrently, type IndexDefinition } from "../src/infra/database/concurrent-indexes";

/** Generated, then made to build without blocking webhook writes (see concurrent-indexes.ts). */
const INDEXES: IndexDefinition[] = [
    {
        name: "IDX_webhook_events_unmatched_received",
        definition: `ON "webhook_events_unmatched" ("received_at")`,
    },
];

export class EarlyEventsIndex1796622367365 implements MigrationInterface {
    name = 'EarlyEventsIndex1796622367365'
    transaction = false

    public async up(queryRunner: QueryRunner): Promise<void> {
        await createIndexesConcurrently(queryRunner, INDEXES);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await dropIndexesConcurrently(queryRunner, INDEXES);
    }

}
