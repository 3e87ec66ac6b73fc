import { type MigrationInterface, type QueryRunner } from "typeorm";

export class CreateUnmatchedWebhookEvents1795449836116 implements MigrationInterface {
    name = 'CreateUnmatchedWebhookEvents1795449836116'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            CREATE TABLE "webhook_events_unmatched" (
                "id" BIGSERIAL NOT NULL,
                "server_id" uuid NOT NULL,
                "provider" "public"."delivery_provider" NOT NULL,
                "kind" "public"."message_event_type" NOT NULL,
                "provider_message_id" character varying(255),
                "recipient" character varying(320),
                "external_id" character varying(255) NOT NULL,
                "occurred_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
                "detail" character varying(1000),
                "received_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_376218a7952716c53b7d1cd70ac" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE UNIQUE INDEX "UQ_webhook_events_unmatched_external" ON "webhook_events_unmatched" ("server_id", "external_id")
        `);
        await queryRunner.query(`
            ALTER TABLE "webhook_events_unmatched"
            ADD CONSTRAINT "FK_1b4e73c943cb68b388cf9a60568" FOREIGN KEY ("server_id") REFERENCES "delivery_servers"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "webhook_events_unmatched" DROP CONSTRAINT "FK_1b4e73c943cb68b388cf9a60568"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."UQ_webhook_events_unmatched_external"
        `);
        await queryRunner.query(`
            DROP TABLE "webhook_events_unmatched"
        `);
    }

}
