import type { SealedSecret } from '../../infra/crypto/credentials-cipher';
import type { ServerVault } from './server-vault';

/** Runs one statement and answers its rows (a pg client's or a TypeORM data source's `query`). */
export type RowQuery = <T>(sql: string, params: unknown[]) => Promise<T[]>;

interface SealedRow {
  id: string;
  sealed_credentials: SealedSecret;
  sealed_webhook_state: SealedSecret | null;
}

const PAGE = 500;

export interface ResealOutcome {
  resealed: number;
  /** Rows changed between the read and the write (run again to take them too). */
  changedMeanwhile: number;
  /** Secrets no configured key opens (a key missing from the configuration, or a damaged row): left as they are. */
  unopenable: { serverId: string; column: string }[];
  /** Secrets still sealed under another key once the pass is over (0: the old keys can go). */
  remaining: number;
}

/**
 * Seals again, under the current key, every server secret still sealed under an older one
 * (CREDENTIALS_KEYS_PREVIOUS), so the old key can then be dropped from the configuration. A row
 * is written only if it still holds what was read (a change made meanwhile is sealed under the
 * current key already, and wins). A secret no configured key opens is reported and skipped, so
 * one bad row does not stop the rest.
 */
export async function resealServerSecrets(query: RowQuery, vault: ServerVault, currentKeyId: string): Promise<ResealOutcome> {
  let resealed = 0;
  let changedMeanwhile = 0;
  const unopenable: ResealOutcome['unopenable'] = [];
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const rows = await query<SealedRow>(
      `SELECT id, sealed_credentials, sealed_webhook_state FROM delivery_servers
        WHERE id > $1 AND (sealed_credentials->>'k' <> $2 OR sealed_webhook_state->>'k' <> $2)
        ORDER BY id LIMIT ${PAGE}`,
      [after, currentKeyId],
    );
    for (const row of rows) {
      for (const [column, sealed, reseal] of [
        ['sealed_credentials', row.sealed_credentials, () => vault.sealCredentials(row.id, vault.credentials({ id: row.id, sealedCredentials: row.sealed_credentials }))],
        ['sealed_webhook_state', row.sealed_webhook_state, () => vault.sealWebhookState(row.id, vault.webhookState({ id: row.id, sealedWebhookState: row.sealed_webhook_state }))],
      ] as const) {
        if (!sealed || sealed.k === currentKeyId) continue;
        let again: SealedSecret;
        try {
          again = reseal();
        } catch {
          unopenable.push({ serverId: row.id, column });
          continue;
        }
        const written = await query<{ id: string }>(
          `UPDATE delivery_servers SET ${column} = $2::jsonb WHERE id = $1 AND ${column} = $3::jsonb RETURNING id`,
          [row.id, JSON.stringify(again), JSON.stringify(sealed)],
        );
        if (written.length) resealed++;
        else changedMeanwhile++;
      }
    }
    if (rows.length < PAGE) break;
    after = rows[rows.length - 1].id;
  }
  const [left] = await query<{ n: number }>(
    `SELECT (count(*) FILTER (WHERE sealed_credentials->>'k' <> $1) + count(*) FILTER (WHERE sealed_webhook_state->>'k' <> $1))::int AS n FROM delivery_servers`,
    [currentKeyId],
  );
  return { resealed, changedMeanwhile, unopenable, remaining: left.n };
}
