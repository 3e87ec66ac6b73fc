import { type MigrationInterface, type QueryRunner } from "typeorm";

export class AddCampaignLaunchCursor1796223912963 implements MigrationInterface {
    name = 'AddCampaignLaunchCursor1796223912963'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "campaigns"
            ADD "launch_cursor" character varying(320)
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "campaigns" DROP COLUMN "launch_cursor"
        `);
    }

}
