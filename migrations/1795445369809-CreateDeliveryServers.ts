import { type MigrationInterface, type QueryRunner } from "typeorm";

export class CreateDeliveryServers1795445369809 implements MigrationInterface {
    name = 'CreateDeliveryServers1795445369809'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            CREATE TYPE "public"."delivery_provider" AS ENUM(
                'SMTP',
                'AMAZON_SES',
                'SENDGRID',
                'MAILGUN',
                'SPARKPOST',
                'ELASTIC_EMAIL'
            )
        `);
        await queryRunner.query(`
            CREATE TYPE "public"."server_origin" AS ENUM('DELIVERY_SERVER', 'CUSTOM_SMTP')
        `);
        await queryRunner.query(`
            CREATE TYPE "public"."delivery_server_status" AS ENUM('PAUSED', 'ACTIVE')
        `);
        await queryRunner.query(`
            CREATE TABLE "delivery_servers" (
                "id" uuid NOT NULL,
                "account_id" uuid,
                "name" character varying(200) NOT NULL,
                "provider" "public"."delivery_provider" NOT NULL,
                "origin" "public"."server_origin" NOT NULL,
                "status" "public"."delivery_server_status" NOT NULL DEFAULT 'PAUSED',
                "sending_domain" character varying(253),
                "sender_address" character varying(320),
                "test_email" character varying(320),
                "sealed_credentials" jsonb NOT NULL,
                "credential_summary" jsonb NOT NULL,
                "ip_pool" character varying(64),
                "quota_hourly" integer,
                "quota_daily" integer,
                "quota_monthly" integer,
                "pause_ms" integer NOT NULL DEFAULT '0',
                "is_default_for_account" boolean NOT NULL DEFAULT false,
                "is_default_for_sub_accounts" boolean NOT NULL DEFAULT false,
                "last_test" jsonb,
                "verified_at" TIMESTAMP(3) WITH TIME ZONE,
                "paused_reason" character varying(500),
                "webhook" jsonb NOT NULL,
                "sealed_webhook_state" jsonb,
                "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_0a2426850e1ee00d1a0b5628ca1" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_9d50a23d9384d08d21bb45af35" ON "delivery_servers" ("account_id")
        `);
        // Written by hand: one default per owner, scope and sending domain, a null domain counting as one value.
        await queryRunner.query(`
            CREATE UNIQUE INDEX "UQ_default_for_account" ON "delivery_servers" ("account_id", (coalesce("sending_domain", '')))
            WHERE "is_default_for_account"
        `);
        await queryRunner.query(`
            CREATE UNIQUE INDEX "UQ_default_for_sub_accounts" ON "delivery_servers" ("account_id", (coalesce("sending_domain", '')))
            WHERE "is_default_for_sub_accounts"
        `);
        await queryRunner.query(`
            CREATE UNIQUE INDEX "UQ_custom_smtp_owner_domain" ON "delivery_servers" ("account_id", "sending_domain")
            WHERE "origin" = 'CUSTOM_SMTP'
        `);
        await queryRunner.query(`
            CREATE TABLE "server_assignments" (
                "server_id" uuid NOT NULL,
                "account_id" uuid NOT NULL,
                "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_ce5f4c3027b1ca2fbfe609ad318" PRIMARY KEY ("server_id", "account_id")
            )
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_d995a152d127b62b45c33a6bc0" ON "server_assignments" ("account_id")
        `);
        await queryRunner.query(`
            ALTER TABLE "delivery_servers"
            ADD CONSTRAINT "FK_9d50a23d9384d08d21bb45af353" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "server_assignments"
            ADD CONSTRAINT "FK_019d5c88d708adae3d4f7392899" FOREIGN KEY ("server_id") REFERENCES "delivery_servers"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "server_assignments"
            ADD CONSTRAINT "FK_d995a152d127b62b45c33a6bc05" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "server_assignments" DROP CONSTRAINT "FK_d995a152d127b62b45c33a6bc05"
        `);
        await queryRunner.query(`
            ALTER TABLE "server_assignments" DROP CONSTRAINT "FK_019d5c88d708adae3d4f7392899"
        `);
        await queryRunner.query(`
            ALTER TABLE "delivery_servers" DROP CONSTRAINT "FK_9d50a23d9384d08d21bb45af353"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_d995a152d127b62b45c33a6bc0"
        `);
        await queryRunner.query(`
            DROP TABLE "server_assignments"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."UQ_custom_smtp_owner_domain"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."UQ_default_for_sub_accounts"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."UQ_default_for_account"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_9d50a23d9384d08d21bb45af35"
        `);
        await queryRunner.query(`
            DROP TABLE "delivery_servers"
        `);
        await queryRunner.query(`
            DROP TYPE "public"."delivery_server_status"
        `);
        await queryRunner.query(`
            DROP TYPE "public"."server_origin"
        `);
        await queryRunner.query(`
            DROP TYPE "public"."delivery_provider"
        `);
    }

}
