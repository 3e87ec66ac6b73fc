/**
 * The rows of the mock's in-memory data set. Field names follow schema.gql so the default
 * resolver reads them as they are; relations are kept as ids (`accountId`, `serverId`…) and
 * resolved by mock-type-resolvers.ts, so one account is one object wherever it appears.
 */

export type Role = 'ADMIN' | 'ACCOUNT';
export type QuotaExhaustedAction = 'WAIT' | 'FAILOVER';
export type DeliveryProvider = 'SMTP' | 'AMAZON_SES' | 'SENDGRID' | 'MAILGUN' | 'SPARKPOST' | 'ELASTIC_EMAIL';
export type TransportKind = 'API' | 'SMTP';
export type MessageStatus = 'QUEUED' | 'DEFERRED' | 'SENDING' | 'SENT' | 'DELIVERED' | 'FAILED' | 'BOUNCED' | 'COMPLAINED' | 'SUPPRESSED' | 'REJECTED';
export type CampaignStatus = 'DRAFT' | 'SENDING' | 'PAUSED' | 'COMPLETED';

export interface AccountRecord {
  id: string;
  name: string;
  timezone: string;
  parentId: string | null;
  onQuotaExhausted: QuotaExhaustedAction;
  addons: string[];
  createdAt: string;
}

export interface DeliveryErrorRecord {
  code: string;
  message: string;
  transport: TransportKind | null;
  smtpResponseCode: number | null;
  smtpStep: string | null;
  providerStatus: number | null;
}

export interface TestRecord {
  serverId: string;
  ok: boolean;
  to: string;
  transport: TransportKind | null;
  messageId: string | null;
  durationMs: number;
  error: DeliveryErrorRecord | null;
  testedAt: string;
}

export interface QuotaRecord {
  hourly: number | null;
  daily: number | null;
  monthly: number | null;
}

export interface ServerRecord {
  id: string;
  /** null: a platform server (ADMIN only). */
  accountId: string | null;
  name: string;
  provider: DeliveryProvider;
  origin: 'DELIVERY_SERVER' | 'CUSTOM_SMTP';
  status: 'ACTIVE' | 'PAUSED';
  pausedReason: string | null;
  sendingDomain: string | null;
  senderAddress: string | null;
  testEmail: string | null;
  api: { keyHint: string; region: string | null } | null;
  smtp: { host: string; port: number; security: 'NONE' | 'STARTTLS' | 'TLS'; username: string | null } | null;
  ipPool: string | null;
  quota: QuotaRecord;
  /** Sends counted in the current hour, day and month windows. */
  used: { hourly: number; daily: number; monthly: number };
  pauseMs: number;
  isDefaultForAccount: boolean;
  isDefaultForSubAccounts: boolean;
  assignedAccountIds: string[];
  lastTest: TestRecord | null;
  verifiedAt: string | null;
  webhook: { status: 'PENDING' | 'REGISTERED' | 'FAILED' | 'NOT_SUPPORTED'; url: string | null; events: string[]; error: string | null; registeredAt: string | null };
  createdAt: string;
  updatedAt: string;
}

export interface EventRecord {
  type: string;
  occurredAt: string;
  detail: string | null;
  serverId: string | null;
}

export interface MessageRecord {
  id: string;
  accountId: string;
  campaignId: string | null;
  source: 'CAMPAIGN' | 'ONE_OFF' | 'AUTOMATION' | 'REMINDER' | 'TEST';
  from: string;
  to: string;
  subject: string;
  status: MessageStatus;
  serverId: string | null;
  transport: TransportKind | null;
  providerMessageId: string | null;
  attempts: number;
  nextAttemptAt: string | null;
  error: DeliveryErrorRecord | null;
  events: EventRecord[];
  createdAt: string;
  sentAt: string | null;
  idempotencyKey: string | null;
}

export interface CampaignRecord {
  id: string;
  accountId: string;
  name: string;
  from: string;
  subject: string;
  status: CampaignStatus;
  pauseReason: string | null;
  pauseCode: string | null;
  recipients: string[];
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
}

export interface SuppressionRecord {
  accountId: string;
  email: string;
  reason: 'HARD_BOUNCE' | 'COMPLAINT' | 'MANUAL';
  createdAt: string;
}

export interface TokenRecord {
  id: string;
  name: string;
  role: Role;
  accountId: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  /** The bearer token itself, for tokens createApiToken issued in this mock (seeded ones have none). */
  secret: string | null;
}

export interface MockData {
  accounts: AccountRecord[];
  servers: ServerRecord[];
  messages: MessageRecord[];
  campaigns: CampaignRecord[];
  suppressions: SuppressionRecord[];
  tokens: TokenRecord[];
}
