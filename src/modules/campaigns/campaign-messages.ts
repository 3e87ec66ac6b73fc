import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { DeliveryErrorCode } from '../../providers/provider.enums';
import { MessageStatus } from '../messages/message.entity';
import type { CampaignEntity } from './campaign.entity';

/** Rows per INSERT; every statement carries a few arrays, not a parameter per column and row. */
const INSERT_BATCH = 1_000;

export interface WrittenMessage {
  id: string;
  dispatchSeq: number;
  status: MessageStatus.QUEUED | MessageStatus.SUPPRESSED;
}

/**
 * One message per recipient, with its first event, inside the caller's transaction: the same
 * rows MessageStore.accept writes (QUEUED with a QUEUED event; a suppressed address SUPPRESSED
 * with error SUPPRESSED and a REJECTED event), but shaped for a campaign's bulk: the shared
 * fields (account, campaign, From, subject, bodies) are sent once per batch and the per-row ones
 * as arrays through unnest. accept's generic multi-row INSERT binds a parameter per column and
 * row, which made a 50,000-recipient start take over ten seconds of statement building.
 */
export async function writeCampaignMessages(tx: EntityManager, campaign: CampaignEntity, recipients: string[], suppressed: Set<string>): Promise<WrittenMessage[]> {
  const rows: WrittenMessage[] = [];
  for (let i = 0; i < recipients.length; i += INSERT_BATCH) {
    const batch = recipients.slice(i, i + INSERT_BATCH).map((to): { id: string; to: string; status: WrittenMessage['status'] } => ({
      id: randomUUID(),
      to,
      status: suppressed.has(to) ? MessageStatus.SUPPRESSED : MessageStatus.QUEUED,
    }));
    const ids = batch.map((r) => r.id);
    const statuses = batch.map((r) => r.status);
    await tx.query(
      `INSERT INTO messages (id, account_id, campaign_id, source, from_address, to_address, subject, html, text, status, error, attempts, dispatch_seq)
       SELECT r.id, $1, $2, 'CAMPAIGN', $3, r.to_address, $4, $5, $6, r.status::message_status,
              CASE WHEN r.status = 'SUPPRESSED' THEN jsonb_build_object(
                'code', $10::text, 'message', r.to_address || ' is suppressed for this account',
                'transport', NULL, 'smtpResponseCode', NULL, 'providerStatus', NULL, 'step', NULL) END,
              0, 0
         FROM unnest($7::uuid[], $8::text[], $9::text[]) AS r(id, to_address, status)`,
      [campaign.accountId, campaign.id, campaign.from, campaign.subject, campaign.html, campaign.text, ids, batch.map((r) => r.to), statuses, DeliveryErrorCode.SUPPRESSED],
    );
    await tx.query(
      `INSERT INTO message_events (message_id, type, detail)
       SELECT r.id,
              CASE WHEN r.status = 'QUEUED' THEN 'QUEUED' ELSE 'REJECTED' END::message_event_type,
              CASE WHEN r.status = 'QUEUED' THEN NULL ELSE r.to_address || ' is suppressed for this account' END
         FROM unnest($1::uuid[], $2::text[], $3::text[]) AS r(id, to_address, status)`,
      [ids, batch.map((r) => r.to), statuses],
    );
    for (const r of batch) rows.push({ id: r.id, dispatchSeq: 0, status: r.status });
  }
  return rows;
}
