import { type MigrationInterface, type QueryRunner } from "typeorm";

/** A `secret=` value in a webhook URL, or in an error quoting it (server-vault.ts, URL_SECRET). */
const URL_SECRET = String.raw`([?&]secret=)[^&#\s)"'<>,;.]*`;

/**
 * Data only, no schema change: masks the webhook URL secrets (Elastic Email's `?secret=…`) that
 * rows registered before they were stored masked hold in the clear in `webhook`'s url and error.
 * The secret stays in the sealed webhook state, from which the API shows the full URL where its
 * owner must paste it (NOT_SUPPORTED). Idempotent: a masked value stays as it is.
 */
export class MaskWebhookSecrets1796623381220 implements MigrationInterface {
    name = 'MaskWebhookSecrets1796623381220'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            UPDATE "delivery_servers"
            SET "webhook" = "webhook"
                || CASE WHEN jsonb_typeof("webhook"->'url') = 'string'
                        THEN jsonb_build_object('url', regexp_replace("webhook"->>'url', $1, $2, 'gi'))
                        ELSE '{}'::jsonb END
                || CASE WHEN jsonb_typeof("webhook"->'error') = 'string'
                        THEN jsonb_build_object('error', regexp_replace("webhook"->>'error', $1, $2, 'gi'))
                        ELSE '{}'::jsonb END
            WHERE "webhook"->>'url' ~* '[?&]secret=' OR "webhook"->>'error' ~* '[?&]secret='
        `, [URL_SECRET, String.raw`\1****`]);
    }

    public async down(): Promise<void> {
        // Nothing to undo: the secrets cannot be put back from SQL (they are sealed), and a masked
        // URL is what the code before this migration showed too, NOT_SUPPORTED apart.
    }

}
