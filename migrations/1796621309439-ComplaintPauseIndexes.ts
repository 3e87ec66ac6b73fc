import { type MigrationInterface, type QueryRunner } from "typeorm";

export class ComplaintPauseIndexes1796621309439 implements MigrationInterface {
    name = 'ComplaintPauseIndexes1796621309439'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            CREATE INDEX "IDX_messages_server_complained" ON "messages" ("server_id", "sent_at", "id")
            WHERE "status" = 'COMPLAINED'
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_message_events_server_complaints" ON "message_events" ("server_id", "occurred_at", "message_id")
            WHERE "type" = 'COMPLAINT'
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            DROP INDEX "public"."IDX_message_events_server_complaints"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_messages_server_complained"
        `);
    }

}
