import { type MigrationInterface, type QueryRunner } from "typeorm";

export class CampaignSweepIndexes1796609944438 implements MigrationInterface {
    name = 'CampaignSweepIndexes1796609944438'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            CREATE INDEX "IDX_campaigns_launching" ON "campaigns" ("updated_at")
            WHERE "launch_cursor" IS NOT NULL
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_campaigns_sending" ON "campaigns" ("id")
            WHERE "status" = 'SENDING'
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            DROP INDEX "public"."IDX_campaigns_sending"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_campaigns_launching"
        `);
    }

}
