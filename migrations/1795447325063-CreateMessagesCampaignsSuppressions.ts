import { type MigrationInterface, type QueryRunner } from "typeorm";

export class CreateMessagesCampaignsSuppressions1795447325063 implements MigrationInterface {
    name = 'CreateMessagesCampaignsSuppressions1795447325063'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            CREATE TYPE "public"."suppression_reason" AS ENUM('HARD_BOUNCE', 'COMPLAINT', 'MANUAL')
        `);
        await queryRunner.query(`
            CREATE TABLE "suppressions" (
                "account_id" uuid NOT NULL,
                "email" character varying(320) NOT NULL,
                "reason" "public"."suppression_reason" NOT NULL,
                "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_5cc5ed20d5bac5442e3dc6f35b4" PRIMARY KEY ("account_id", "email")
            )
        `);
        await queryRunner.query(`
            CREATE TYPE "public"."campaign_status" AS ENUM('DRAFT', 'SENDING', 'PAUSED', 'COMPLETED')
        `);
        await queryRunner.query(`
            CREATE TABLE "campaigns" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "account_id" uuid NOT NULL,
                "name" character varying(200) NOT NULL,
                "from_address" character varying(320) NOT NULL,
                "subject" character varying(998) NOT NULL,
                "html" text,
                "text" text,
                "status" "public"."campaign_status" NOT NULL DEFAULT 'DRAFT',
                "pause_reason" character varying(1000),
                "pause_code" character varying(64),
                "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
                "started_at" TIMESTAMP(3) WITH TIME ZONE,
                "completed_at" TIMESTAMP(3) WITH TIME ZONE,
                CONSTRAINT "PK_831e3fcd4fc45b4e4c3f57a9ee4" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_campaigns_account_created" ON "campaigns" ("account_id", "created_at", "id")
        `);
        await queryRunner.query(`
            CREATE TABLE "campaign_recipients" (
                "campaign_id" uuid NOT NULL,
                "email" character varying(320) NOT NULL,
                CONSTRAINT "PK_b3a2fe9f66db8ede2561ed756f9" PRIMARY KEY ("campaign_id", "email")
            )
        `);
        await queryRunner.query(`
            CREATE TYPE "public"."message_source" AS ENUM(
                'CAMPAIGN',
                'ONE_OFF',
                'AUTOMATION',
                'REMINDER',
                'TEST'
            )
        `);
        await queryRunner.query(`
            CREATE TYPE "public"."message_status" AS ENUM(
                'QUEUED',
                'DEFERRED',
                'SENDING',
                'SENT',
                'DELIVERED',
                'FAILED',
                'BOUNCED',
                'COMPLAINED',
                'SUPPRESSED',
                'REJECTED'
            )
        `);
        await queryRunner.query(`
            CREATE TYPE "public"."transport_kind" AS ENUM('API', 'SMTP')
        `);
        await queryRunner.query(`
            CREATE TABLE "messages" (
                "id" uuid NOT NULL,
                "account_id" uuid NOT NULL,
                "campaign_id" uuid,
                "source" "public"."message_source" NOT NULL,
                "from_address" character varying(320) NOT NULL,
                "to_address" character varying(320) NOT NULL,
                "reply_to" character varying(320),
                "subject" character varying(998) NOT NULL,
                "html" text,
                "text" text,
                "headers" jsonb,
                "status" "public"."message_status" NOT NULL DEFAULT 'QUEUED',
                "server_id" uuid,
                "transport" "public"."transport_kind",
                "provider_message_id" character varying(255),
                "attempts" integer NOT NULL DEFAULT '0',
                "dispatch_seq" integer NOT NULL DEFAULT '0',
                "next_attempt_at" TIMESTAMP(3) WITH TIME ZONE,
                "error" jsonb,
                "idempotency_key" character varying(255),
                "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
                "sent_at" TIMESTAMP(3) WITH TIME ZONE,
                "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_18325f38ae6de43878487eff986" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_7ee9933e7f3d3f6c5a4cfeb154" ON "messages" ("campaign_id")
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_53e8170f736f8b0ad29a5bfa91" ON "messages" ("provider_message_id")
        `);
        await queryRunner.query(`
            CREATE UNIQUE INDEX "UQ_messages_idempotency" ON "messages" ("account_id", "idempotency_key")
            WHERE "idempotency_key" IS NOT NULL
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_messages_server_sent" ON "messages" ("server_id", "sent_at")
            WHERE "sent_at" IS NOT NULL
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_messages_campaign_pending" ON "messages" ("campaign_id")
            WHERE "status" IN ('QUEUED', 'DEFERRED', 'SENDING')
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_messages_pending" ON "messages" ("status", "next_attempt_at")
            WHERE "status" IN ('QUEUED', 'DEFERRED', 'SENDING')
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_messages_account_created" ON "messages" ("account_id", "created_at", "id")
        `);
        await queryRunner.query(`
            CREATE TYPE "public"."message_event_type" AS ENUM(
                'QUEUED',
                'ROUTED',
                'DEFERRED',
                'SENT',
                'DELIVERED',
                'SOFT_BOUNCE',
                'HARD_BOUNCE',
                'COMPLAINT',
                'FAILED',
                'REJECTED'
            )
        `);
        await queryRunner.query(`
            CREATE TABLE "message_events" (
                "id" BIGSERIAL NOT NULL,
                "message_id" uuid NOT NULL,
                "type" "public"."message_event_type" NOT NULL,
                "occurred_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
                "detail" character varying(1000),
                "server_id" uuid,
                "external_id" character varying(255),
                CONSTRAINT "PK_1ee7d4682c056e24ee0b00d1e3b" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE UNIQUE INDEX "UQ_message_events_external" ON "message_events" ("message_id", "external_id")
            WHERE "external_id" IS NOT NULL
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_message_events_message" ON "message_events" ("message_id", "id")
        `);
        await queryRunner.query(`
            ALTER TABLE "suppressions"
            ADD CONSTRAINT "FK_0fa137f43808fa222f550fe539e" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "campaigns"
            ADD CONSTRAINT "FK_6fca73bc027c168f88c54e2f112" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "campaign_recipients"
            ADD CONSTRAINT "FK_37f67f778844dcc3a0d641a6173" FOREIGN KEY ("campaign_id") REFERENCES "campaigns"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "messages"
            ADD CONSTRAINT "FK_d61d1bec4a104d044b6e5abd843" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "messages"
            ADD CONSTRAINT "FK_7ee9933e7f3d3f6c5a4cfeb154b" FOREIGN KEY ("campaign_id") REFERENCES "campaigns"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "messages"
            ADD CONSTRAINT "FK_8bf4aabe3640acd2296f28556bb" FOREIGN KEY ("server_id") REFERENCES "delivery_servers"("id") ON DELETE
            SET NULL ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "message_events"
            ADD CONSTRAINT "FK_f898c800595db4f3ce702e466bc" FOREIGN KEY ("message_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "message_events" DROP CONSTRAINT "FK_f898c800595db4f3ce702e466bc"
        `);
        await queryRunner.query(`
            ALTER TABLE "messages" DROP CONSTRAINT "FK_8bf4aabe3640acd2296f28556bb"
        `);
        await queryRunner.query(`
            ALTER TABLE "messages" DROP CONSTRAINT "FK_7ee9933e7f3d3f6c5a4cfeb154b"
        `);
        await queryRunner.query(`
            ALTER TABLE "messages" DROP CONSTRAINT "FK_d61d1bec4a104d044b6e5abd843"
        `);
        await queryRunner.query(`
            ALTER TABLE "campaign_recipients" DROP CONSTRAINT "FK_37f67f778844dcc3a0d641a6173"
        `);
        await queryRunner.query(`
            ALTER TABLE "campaigns" DROP CONSTRAINT "FK_6fca73bc027c168f88c54e2f112"
        `);
        await queryRunner.query(`
            ALTER TABLE "suppressions" DROP CONSTRAINT "FK_0fa137f43808fa222f550fe539e"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_message_events_message"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."UQ_message_events_external"
        `);
        await queryRunner.query(`
            DROP TABLE "message_events"
        `);
        await queryRunner.query(`
            DROP TYPE "public"."message_event_type"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_messages_account_created"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_messages_pending"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_messages_campaign_pending"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_messages_server_sent"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."UQ_messages_idempotency"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_53e8170f736f8b0ad29a5bfa91"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_7ee9933e7f3d3f6c5a4cfeb154"
        `);
        await queryRunner.query(`
            DROP TABLE "messages"
        `);
        await queryRunner.query(`
            DROP TYPE "public"."transport_kind"
        `);
        await queryRunner.query(`
            DROP TYPE "public"."message_status"
        `);
        await queryRunner.query(`
            DROP TYPE "public"."message_source"
        `);
        await queryRunner.query(`
            DROP TABLE "campaign_recipients"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_campaigns_account_created"
        `);
        await queryRunner.query(`
            DROP TABLE "campaigns"
        `);
        await queryRunner.query(`
            DROP TYPE "public"."campaign_status"
        `);
        await queryRunner.query(`
            DROP TABLE "suppressions"
        `);
        await queryRunner.query(`
            DROP TYPE "public"."suppression_reason"
        `);
    }

}
