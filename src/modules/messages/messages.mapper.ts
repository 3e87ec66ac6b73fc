import type { DeliveryErrorCode } from '../../providers/provider.enums';
import type { DeliveryErrorModel, SmtpStepEnum } from '../delivery-servers/delivery-server.model';
import type { MessageEntity, MessageEventEntity, StoredDeliveryError } from './message.entity';
import type { MessageEventModel, MessageModel } from './message.model';

export function toErrorModel(e: StoredDeliveryError | null): DeliveryErrorModel | null {
  if (!e) return null;
  return {
    code: e.code as DeliveryErrorCode,
    message: e.message,
    transport: e.transport,
    smtpResponseCode: e.smtpResponseCode,
    providerStatus: e.providerStatus,
    smtpStep: e.step as SmtpStepEnum | null,
  };
}

/** Bodies and headers stay out of the API's Message: it reports delivery, not content. */
export function toMessageModel(m: MessageEntity): MessageModel {
  return {
    id: m.id,
    accountId: m.accountId,
    campaignId: m.campaignId,
    serverId: m.serverId,
    source: m.source,
    from: m.from,
    to: m.to,
    subject: m.subject,
    status: m.status,
    transport: m.transport,
    providerMessageId: m.providerMessageId,
    attempts: m.attempts,
    nextAttemptAt: m.nextAttemptAt,
    error: toErrorModel(m.error),
    createdAt: m.createdAt,
    sentAt: m.sentAt,
  };
}

export const toEventModel = (e: MessageEventEntity): MessageEventModel => ({ type: e.type, occurredAt: e.occurredAt, detail: e.detail, serverId: e.serverId });
