import type { DeliveryProvider, ServerRecord } from './mock-records';

/** The events each provider's webhook is registered for, as the real adapters register them. */
const WEBHOOK_EVENTS: Record<DeliveryProvider, string[]> = {
  AMAZON_SES: ['Bounce', 'Complaint', 'Delivery', 'Reject'],
  SENDGRID: ['bounce', 'dropped', 'deferred', 'delivered', 'spamreport'],
  MAILGUN: ['permanent_fail', 'temporary_fail', 'delivered', 'complained'],
  SPARKPOST: ['bounce', 'delivery', 'spam_complaint', 'policy_rejection'],
  ELASTIC_EMAIL: ['Sent', 'Delivery', 'Bounce', 'Complaint'],
  SMTP: [],
};

/** Where webhooks would be registered: the contract's POST /webhooks/{provider}/{serverId}. */
const WEBHOOK_PATH: Record<DeliveryProvider, string | null> = {
  AMAZON_SES: 'ses',
  SENDGRID: 'sendgrid',
  MAILGUN: 'mailgun',
  SPARKPOST: 'sparkpost',
  ELASTIC_EMAIL: 'elasticemail',
  SMTP: null,
};

/** A registration as the provider's adapter leaves it; plain SMTP has none to register. */
export function webhookFor(serverId: string, provider: DeliveryProvider, at: string): ServerRecord['webhook'] {
  const path = WEBHOOK_PATH[provider];
  if (!path) {
    return {
      status: 'NOT_SUPPORTED',
      url: null,
      events: [],
      error: 'Bounces for a plain SMTP server come back by DSN to the return path; webhook registration does not apply.',
      registeredAt: null,
    };
  }
  const secret = provider === 'ELASTIC_EMAIL' ? '?secret=****' : '';
  return { status: 'REGISTERED', url: `https://mailroute.example.com/webhooks/${path}/${serverId}${secret}`, events: WEBHOOK_EVENTS[provider], error: null, registeredAt: at };
}

/** A complete server row: the given fields over the defaults of a new, active, unlimited server. */
export function serverRecord(id: string, fields: Partial<ServerRecord> & Pick<ServerRecord, 'name' | 'provider' | 'accountId'>, createdAt: string, verifiedAt: string | null): ServerRecord {
  return {
    id,
    origin: 'DELIVERY_SERVER',
    status: 'ACTIVE',
    pausedReason: null,
    sendingDomain: null,
    senderAddress: null,
    testEmail: null,
    api: null,
    smtp: null,
    ipPool: null,
    quota: { hourly: null, daily: null, monthly: null },
    used: { hourly: 0, daily: 0, monthly: 0 },
    pauseMs: 0,
    isDefaultForAccount: false,
    isDefaultForSubAccounts: false,
    assignedAccountIds: [],
    lastTest: null,
    verifiedAt,
    webhook: webhookFor(id, fields.provider, createdAt),
    createdAt,
    updatedAt: verifiedAt && verifiedAt > createdAt ? verifiedAt : createdAt,
    ...fields,
  };
}

/** Order in which transports are tried: API first, then SMTP. */
export const transportsOf = (server: ServerRecord): string[] => [...(server.api ? ['API'] : []), ...(server.smtp ? ['SMTP'] : [])];
