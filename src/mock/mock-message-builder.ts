import { hexFrom, HOUR, iso, MINUTE } from './mock-ids';
import type { DeliveryErrorRecord, EventRecord, MessageRecord, MessageStatus, ServerRecord } from './mock-records';

/** What a seeded or sent message needs; the rest follows from its status. */
export interface MessageSpec {
  id: string;
  accountId: string;
  status: MessageStatus;
  from: string;
  to: string;
  subject: string;
  /** The server it was routed to; null for SUPPRESSED and REJECTED (never routed). */
  server: ServerRecord | null;
  createdAt: number;
  campaignId?: string | null;
  source?: MessageRecord['source'];
  idempotencyKey?: string | null;
}

const error = (code: string, message: string, extra: Partial<DeliveryErrorRecord> = {}): DeliveryErrorRecord => ({
  code,
  message,
  transport: null,
  smtpResponseCode: null,
  smtpStep: null,
  providerStatus: null,
  ...extra,
});

/**
 * A message whose fields agree with its status, as the worker and the webhooks would have left
 * it: events in order, sentAt and providerMessageId only once the provider accepted it, an error
 * exactly for the failed states, nextAttemptAt only while DEFERRED.
 */
export function buildMessage(spec: MessageSpec): MessageRecord {
  const { status, server, createdAt: at } = spec;
  const serverId = server?.id ?? null;
  const transport = server ? (server.api ? 'API' : 'SMTP') : null;
  const events: EventRecord[] = [{ type: 'QUEUED', occurredAt: iso(at), detail: null, serverId: null }];
  const event = (type: string, offset: number, detail: string | null = null): void => {
    events.push({ type, occurredAt: iso(at + offset), detail, serverId });
  };
  const accepted = ['SENT', 'DELIVERED', 'BOUNCED', 'COMPLAINED'].includes(status);
  let err: DeliveryErrorRecord | null = null;
  let nextAttemptAt: string | null = null;
  let attempts = accepted || status === 'FAILED' || status === 'SENDING' ? 1 : 0;

  if (server) event('ROUTED', 800, `${server.name} (${server.provider})`);
  if (accepted) event('SENT', 2_400);
  switch (status) {
    case 'DELIVERED':
      event('DELIVERED', 41_000);
      break;
    case 'BOUNCED':
      event('HARD_BOUNCE', 52_000, '550 5.1.1 The email account that you tried to reach does not exist');
      err = error('RECIPIENT_REJECTED', '550 5.1.1 The email account that you tried to reach does not exist', { smtpResponseCode: 550 });
      break;
    case 'COMPLAINED':
      event('DELIVERED', 38_000);
      event('COMPLAINT', 2 * HOUR, 'The recipient marked the message as spam');
      break;
    case 'DEFERRED':
      attempts = 2;
      event('DEFERRED', 3_000, 'The provider throttled the send; retried with backoff');
      err = error('THROTTLED', 'Maximum sending rate exceeded', { transport, providerStatus: transport === 'API' ? 429 : null, smtpResponseCode: transport === 'SMTP' ? 421 : null });
      nextAttemptAt = iso(at + 45 * MINUTE);
      break;
    case 'FAILED':
      err =
        transport === 'SMTP'
          ? error('RECIPIENT_REJECTED', '550 5.1.1 <' + spec.to + '>: Recipient address rejected: User unknown', { transport, smtpResponseCode: 550, smtpStep: 'RCPT' })
          : error('MESSAGE_REJECTED', 'The message was rejected: it carries an attachment type the provider blocks (.exe)', { transport, providerStatus: 400 });
      event('FAILED', 2_400, err.message);
      break;
    case 'SUPPRESSED':
      err = error('SUPPRESSED', `${spec.to} is suppressed for this account`);
      event('REJECTED', 300, err.message);
      break;
    case 'REJECTED':
      err = error('NO_ROUTE', `No eligible delivery server can send from ${spec.from.split('@')[1]}`);
      event('REJECTED', 300, err.message);
      break;
    case 'QUEUED':
    case 'SENDING':
    case 'SENT':
      break;
  }
  return {
    id: spec.id,
    accountId: spec.accountId,
    campaignId: spec.campaignId ?? null,
    source: spec.source ?? (spec.campaignId ? 'CAMPAIGN' : 'ONE_OFF'),
    from: spec.from,
    to: spec.to,
    subject: spec.subject,
    status,
    serverId,
    transport: accepted || status === 'FAILED' || status === 'DEFERRED' ? transport : null,
    providerMessageId: accepted ? providerMessageId(server, spec.id) : null,
    attempts,
    nextAttemptAt,
    error: err,
    events,
    createdAt: iso(at),
    sentAt: accepted ? iso(at + 2_400) : null,
    idempotencyKey: spec.idempotencyKey ?? null,
  };
}

/** Shaped like each provider's own ids, so a UI that shows or links them looks right. */
function providerMessageId(server: ServerRecord | null, seed: string): string {
  const hex = hexFrom(seed, 32);
  switch (server?.provider) {
    case 'AMAZON_SES':
      return `0102019${hex.slice(0, 9)}-${hex.slice(9, 17)}-${hex.slice(17, 21)}-${hex.slice(21, 25)}-${hex.slice(25, 32)}-000000`;
    case 'SENDGRID':
      return `${hex.slice(0, 22)}.filterdrecv-${hex.slice(22, 28)}-1`;
    case 'MAILGUN':
      return `<${hex.slice(0, 20)}@mg.mailroute.example>`;
    case 'SPARKPOST':
      return String(BigInt(`0x${hex.slice(0, 15)}`));
    case 'SMTP':
    case 'ELASTIC_EMAIL':
    case undefined:
      return `<${hex.slice(0, 24)}@${server?.smtp?.host ?? 'mailroute.example'}>`;
  }
}
