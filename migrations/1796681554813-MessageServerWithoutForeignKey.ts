import { type MigrationInterface, type QueryRunner } from "typeorm";

/**
 * Generated. messages.server_id keeps the id of a deleted server, as message_events.server_id
 * does: with ON DELETE SET NULL, deleting a server cleared it on every message the server ever
 * sent, one statement scanning the whole table (no index serves it) inside the delete's
 * transaction, and rewrote the history. Down: ids of servers deleted since are cleared first, or
 * the constraint could not be added back.
 */
export class MessageServerWithoutForeignKey1796681554813 implements MigrationInterface {
    name = 'MessageServerWithoutForeignKey1796681554813'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "messages" DROP CONSTRAINT "FK_8bf4aabe3640acd2296f28556bb"
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            UPDATE "messages" m SET "server_id" = NULL
            WHERE m."server_id" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "delivery_servers" s WHERE s."id" = m."server_id")
        `);
        await queryRunner.query(`
            ALTER TABLE "messages"
            ADD CONSTRAINT "FK_8bf4aabe3640acd2296f28556bb" FOREIGN KEY ("server_id") REFERENCES "delivery_servers"("id") ON DELETE
            SET NULL ON UPDATE NO ACTION
        `);
    }

}
