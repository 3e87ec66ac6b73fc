import type { DeliveryProvider, SmtpSecurity, TransportKind, WebhookStatus } from './provider.enums';

// ---- Credentials, as the provider layer sees them (decrypted; never leave this layer) ----

export interface SmtpCredentials {
  host: string;
  port: number;
  security: SmtpSecurity;
  username?: string | null;
  password?: string | null;
}
export interface SesCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  configurationSetName?: string | null;
}
/** SendGrid (region GLOBAL|EU), SparkPost (region US|EU), ElasticEmail (no region). */
export interface ApiKeyCredentials {
  apiKey: string;
  region?: string | null;
}
export interface MailgunCredentials {
  apiKey: string;
  domain: string;
  /** US | EU */
  region?: string | null;
  webhookSigningKey?: string | null;
}
export interface ServerCredentials {
  smtp?: SmtpCredentials | null;
  ses?: SesCredentials | null;
  sendgrid?: ApiKeyCredentials | null;
  mailgun?: MailgunCredentials | null;
  sparkpost?: ApiKeyCredentials | null;
  elasticEmail?: ApiKeyCredentials | null;
}

/** Everything an adapter needs to talk to one delivery server. */
export interface ProviderServer {
  id: string;
  provider: DeliveryProvider;
  credentials: ServerCredentials;
  /** SparkPost IP pool applied to every send. */
  ipPool?: string | null;
  /** Forced From: replaces the From of every message (the original becomes Reply-To when none). */
  senderAddress?: string | null;
}

// ---- Messages ----

export interface MessageHeader {
  name: string;
  value: string;
}
export interface OutgoingMessage {
  from: string;
  to: string;
  replyTo?: string | null;
  subject: string;
  html?: string | null;
  text?: string | null;
  headers?: MessageHeader[];
  /** Deterministic Message-ID (with angle brackets) so a duplicate is recognisable downstream. */
  messageId?: string;
}
export interface SendResult {
  transport: TransportKind;
  /** The provider's id for the message (SES MessageId, SendGrid X-Message-Id, …; SMTP: the reply's id or Message-ID). */
  providerMessageId: string;
  /** The final From that was sent (after a forced senderAddress). */
  from: string;
}

export interface SenderCheck {
  verified: boolean;
  /** Why not, for a person: "domain example.org is pending verification at SendGrid". */
  reason?: string;
}

// ---- Webhooks (registration is the webhooks issue's; the shapes live here) ----

export interface WebhookRegistrationResult {
  status: WebhookStatus;
  url: string | null;
  events: string[];
  error?: string | null;
  /** Provider-side ids and secrets needed to remove the registration or verify its posts. */
  state?: Record<string, string>;
}

export interface IncomingWebhookRequest {
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
  /** Full URL path and query, e.g. /webhooks/elasticemail/<id>?secret=… */
  url: string;
}

export type WebhookEventKind = 'DELIVERED' | 'SOFT_BOUNCE' | 'HARD_BOUNCE' | 'COMPLAINT' | 'REJECTED' | 'DEFERRED';
export interface ParsedWebhookEvent {
  kind: WebhookEventKind;
  /** Provider event id when there is one (dedupe); else a hash of the event. */
  eventId: string;
  providerMessageId: string | null;
  recipient: string | null;
  occurredAt: Date;
  detail?: string;
}

/**
 * One stateless adapter per provider. Every method throws a DeliveryError (never a raw SDK
 * error). Transport choice and API→SMTP fallback are the ProviderGateway's job.
 */
export interface ProviderAdapter {
  readonly provider: DeliveryProvider;
  /** Send through the provider's HTTP API. */
  send(server: ProviderServer, message: OutgoingMessage): Promise<SendResult>;
  /** The cheapest call that proves the API key works. */
  verifyCredentials(server: ProviderServer): Promise<void>;
  /** Is this From verified with the provider (address or its domain)? */
  checkSender(server: ProviderServer, address: string): Promise<SenderCheck>;
  /**
   * `previousState`: what the last registration stored (an adapter that generates a secret reuses
   * it, since the URL at the provider still carries it; the others ignore it).
   */
  registerWebhooks(server: ProviderServer, url: string, previousState?: Record<string, string>): Promise<WebhookRegistrationResult>;
  removeWebhooks(server: ProviderServer, registration: WebhookRegistrationResult): Promise<void>;
  parseWebhook(server: ProviderServer, request: IncomingWebhookRequest, state: Record<string, string>): Promise<ParsedWebhookEvent[]>;
  /**
   * For providers where the registration's state can change without us (SendGrid: its signing
   * key is new whenever signing is turned off and on in its dashboard): the state as the provider
   * has it now, or null when it is what `state` holds. Throws a DeliveryError when it cannot tell.
   */
  currentWebhookState?(server: ProviderServer, state: Record<string, string>): Promise<Record<string, string> | null>;
}
