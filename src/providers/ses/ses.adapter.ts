import { createHash, createVerify } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { encodeWord } from 'nodemailer/lib/mime-funcs';
import {
  CreateConfigurationSetCommand,
  CreateConfigurationSetEventDestinationCommand,
  DeleteConfigurationSetCommand,
  DeleteConfigurationSetEventDestinationCommand,
  GetAccountCommand,
  GetConfigurationSetEventDestinationsCommand,
  GetEmailIdentityCommand,
  SESv2Client,
  SendEmailCommand,
  UpdateConfigurationSetEventDestinationCommand,
  type EventDestinationDefinition,
  type GetEmailIdentityCommandOutput,
  type MessageHeader,
} from '@aws-sdk/client-sesv2';
import {
  ConfirmSubscriptionCommand,
  CreateTopicCommand,
  DeleteTopicCommand,
  SNSClient,
  SetTopicAttributesCommand,
  SubscribeCommand,
  UnsubscribeCommand,
} from '@aws-sdk/client-sns';
import { AheadOfRegistrationError, DeliveryError } from '../delivery-error';
import { DeliveryErrorCode, DeliveryProvider, TransportKind, WebhookStatus } from '../provider.enums';
import type {
  IncomingWebhookRequest,
  OutgoingMessage,
  ParsedWebhookEvent,
  ProviderAdapter,
  ProviderServer,
  SendResult,
  SenderCheck,
  SesCredentials,
  WebhookRegistrationResult,
} from '../provider.types';
import type { ProvidersConfig } from '../providers.config';
import { sesErrorFrom, type SesErrorContext } from './ses-errors';
import { SnsCertificates, trustedCertificateUrl } from './sns-certificates';

/**
 * Amazon SES v2 through @aws-sdk/client-sesv2. Stateless: one client per call, destroyed
 * afterwards, so credentials of one delivery server never serve another.
 */
export class SesAdapter implements ProviderAdapter {
  readonly provider = DeliveryProvider.AMAZON_SES;
  private readonly logger = new Logger(SesAdapter.name);

  /** SNS signing keys by certificate URL (a small LRU): public, long-lived, the same for every server. */
  private readonly certificates: SnsCertificates;

  constructor(private readonly config: ProvidersConfig) {
    this.certificates = new SnsCertificates(config.httpTimeoutMs);
  }

  async send(server: ProviderServer, message: OutgoingMessage): Promise<SendResult> {
    const creds = credentialsOf(server);
    const headers: MessageHeader[] = (message.headers ?? []).map((h) => ({ Name: h.name, Value: sesHeaderValue(h.name, h.value) }));
    // SES documents that it replaces a caller's Message-ID with its own; we still pass ours so
    // the header is there wherever SES keeps it, and downstream matching uses SES's MessageId.
    if (message.messageId) headers.push({ Name: 'Message-ID', Value: message.messageId });
    const command = new SendEmailCommand({
      FromEmailAddress: message.from,
      Destination: { ToAddresses: [message.to] },
      ...(message.replyTo ? { ReplyToAddresses: [message.replyTo] } : {}),
      Content: {
        Simple: {
          Subject: { Data: message.subject, Charset: 'UTF-8' },
          Body: {
            ...(message.text ? { Text: { Data: message.text, Charset: 'UTF-8' } } : {}),
            ...(message.html ? { Html: { Data: message.html, Charset: 'UTF-8' } } : {}),
          },
          ...(headers.length ? { Headers: headers } : {}),
        },
      },
      // The configuration set carries event publishing (bounces/complaints via SNS).
      ...(creds.configurationSetName ? { ConfigurationSetName: creds.configurationSetName } : {}),
    });
    const out = await this.run(creds, ({ ses }) => ses.send(command), message.from);
    if (!out.MessageId) {
      throw new DeliveryError({
        code: DeliveryErrorCode.PROVIDER_ERROR,
        message: 'Amazon SES accepted the message but returned no MessageId',
        transient: false,
        transport: TransportKind.API,
        providerStatus: out.$metadata.httpStatusCode,
      });
    }
    return { transport: TransportKind.API, providerMessageId: out.MessageId, from: message.from };
  }

  async verifyCredentials(server: ProviderServer): Promise<void> {
    const creds = credentialsOf(server);
    await this.run(creds, ({ ses }) => ses.send(new GetAccountCommand({})));
  }

  async checkSender(server: ProviderServer, address: string): Promise<SenderCheck> {
    const creds = credentialsOf(server);
    const email = bareAddress(address);
    const domain = email.split('@')[1] ?? '';
    const pending: string[] = [];
    // A From is sendable when the address identity, its domain or any parent domain is verified
    // (SES: a verified example.com covers a.example.com and a.b.example.com).
    for (const identity of [email, ...domainAndParents(domain)].filter(Boolean)) {
      const out = await this.run(creds, async ({ ses }) => {
        try {
          return await ses.send(new GetEmailIdentityCommand({ EmailIdentity: identity }));
        } catch (err) {
          if (isRecord(err) && err.name === 'NotFoundException') return null;
          throw err;
        }
      });
      if (!out) continue;
      if (isVerified(out)) return { verified: true };
      pending.push(`${identity.includes('@') ? '' : 'domain '}${identity} is ${describeStatus(out)}`);
    }
    const where = `in Amazon SES (${creds.region})`;
    return {
      verified: false,
      reason: pending.length
        ? `${pending.join('; ')} ${where}`
        : `neither ${email} nor the domain ${domain} is a verified identity ${where}`,
    };
  }

  /**
   * Configuration set (the server's own, else one we create) → SNS topic that SES may publish
   * to → event destination for bounces, complaints, deliveries and rejects → HTTPS
   * subscription of our URL. Every step is idempotent (AlreadyExists → update / reuse), so a
   * retry creates nothing twice. PENDING until our endpoint confirms the SNS subscription.
   * Note: sends only publish events when they carry the configuration set, so whoever stores
   * this result must put `state.configurationSetName` into the server's SES credentials.
   *
   * A FAILED result carries, as `state`, what the steps before the failure made (removeWebhooks
   * undoes that much when the server is deleted).
   */
  async registerWebhooks(server: ProviderServer, url: string, previousState: Record<string, string> = {}): Promise<WebhookRegistrationResult> {
    const events = [...SES_EVENT_TYPES];
    const made: Record<string, string> = {};
    try {
      const creds = credentialsOf(server);
      const configurationSetName = creds.configurationSetName || `mailroute-${safeName(server.id)}`.slice(0, 64);
      const createdConfigurationSet = !creds.configurationSetName;
      const eventDestinationName = eventDestinationNameOf(server);
      const state = await this.run(creds, async ({ ses, sns }) => {
        if (createdConfigurationSet) {
          await ignoring('AlreadyExistsException', () =>
            ses.send(new CreateConfigurationSetCommand({ ConfigurationSetName: configurationSetName })),
          );
        }
        Object.assign(made, { configurationSetName, createdConfigurationSet: String(createdConfigurationSet) });
        const { TopicArn: topicArn } = await sns.send(new CreateTopicCommand({ Name: topicNameOf(server) }));
        if (!topicArn) throw providerError('SNS created the topic but returned no TopicArn');
        made.topicArn = topicArn;
        await sns.send(
          new SetTopicAttributesCommand({
            TopicArn: topicArn,
            AttributeName: 'Policy',
            AttributeValue: JSON.stringify(publishPolicy(topicArn, creds.region, configurationSetName)),
          }),
        );
        const destination: EventDestinationDefinition = {
          Enabled: true,
          MatchingEventTypes: events,
          SnsDestination: { TopicArn: topicArn },
        };
        const created = await ignoring('AlreadyExistsException', () =>
          ses.send(
            new CreateConfigurationSetEventDestinationCommand({
              ConfigurationSetName: configurationSetName,
              EventDestinationName: eventDestinationName,
              EventDestination: destination,
            }),
          ),
        );
        if (!created) {
          await ses.send(
            new UpdateConfigurationSetEventDestinationCommand({
              ConfigurationSetName: configurationSetName,
              EventDestinationName: eventDestinationName,
              EventDestination: destination,
            }),
          );
        }
        made.eventDestinationName = eventDestinationName;
        // A registration from before destinations were per server named it 'mailroute-sns': one
        // publishing to this server's topic is ours, and next to the new one every event would
        // arrive twice.
        // Best effort: keys allowed to create destinations but not to list or delete them still register.
        const existing = await ses
          .send(new GetConfigurationSetEventDestinationsCommand({ ConfigurationSetName: configurationSetName }))
          .then((out) => out.EventDestinations ?? [])
          .catch(() => []);
        if (existing.some((d) => d.Name === LEGACY_EVENT_DESTINATION_NAME && d.SnsDestination?.TopicArn === topicArn)) {
          await ses
            .send(new DeleteConfigurationSetEventDestinationCommand({ ConfigurationSetName: configurationSetName, EventDestinationName: LEGACY_EVENT_DESTINATION_NAME }))
            .catch(() => undefined);
        }
        // SNS returns the existing subscription for the same endpoint, so this is idempotent too.
        const sub = await sns.send(
          new SubscribeCommand({
            TopicArn: topicArn,
            Protocol: url.startsWith('http:') ? 'http' : 'https',
            Endpoint: url,
            ReturnSubscriptionArn: true,
          }),
        );
        // The last registration's subscription to this topic for another endpoint (PUBLIC_URL
        // moved): SNS would keep posting there. Best effort: one it no longer knows is gone anyway.
        const before = previousState.subscriptionArn;
        if (before && before !== sub.SubscriptionArn && before.startsWith(`${topicArn}:`)) {
          await sns.send(new UnsubscribeCommand({ SubscriptionArn: before })).catch(() => undefined);
        }
        return {
          configurationSetName,
          createdConfigurationSet: String(createdConfigurationSet),
          topicArn,
          eventDestinationName,
          subscriptionArn: sub.SubscriptionArn ?? '',
        };
      });
      return { status: WebhookStatus.PENDING, url, events, error: null, state };
    } catch (err) {
      if (!(err instanceof DeliveryError)) throw err;
      return { status: WebhookStatus.FAILED, url, events, error: err.message, ...(Object.keys(made).length ? { state: made } : {}) };
    }
  }

  /**
   * Undo what registerWebhooks created, and only that, from whatever part of its state there is
   * (a PENDING registration, or a FAILED one that stopped half way); anything already gone is
   * fine. Every step is tried even when one before it failed; the first failure is thrown after.
   */
  async removeWebhooks(server: ProviderServer, registration: WebhookRegistrationResult): Promise<void> {
    const state = registration.state ?? {};
    const creds = credentialsOf(server);
    await this.run(creds, async ({ ses, sns }) => {
      const steps: (() => Promise<unknown>)[] = [];
      if (state.subscriptionArn?.startsWith('arn:')) {
        steps.push(() => sns.send(new UnsubscribeCommand({ SubscriptionArn: state.subscriptionArn })));
      }
      if (state.configurationSetName && state.eventDestinationName) {
        steps.push(() =>
          ses.send(
            new DeleteConfigurationSetEventDestinationCommand({
              ConfigurationSetName: state.configurationSetName,
              EventDestinationName: state.eventDestinationName,
            }),
          ),
        );
      }
      if (state.topicArn) steps.push(() => sns.send(new DeleteTopicCommand({ TopicArn: state.topicArn })));
      if (state.createdConfigurationSet === 'true' && state.configurationSetName) {
        steps.push(() => ses.send(new DeleteConfigurationSetCommand({ ConfigurationSetName: state.configurationSetName })));
      }
      let firstFailure: unknown;
      for (const step of steps) {
        try {
          await ignoring(NOT_FOUND, step);
        } catch (err) {
          firstFailure ??= err;
        }
      }
      if (firstFailure !== undefined) throw firstFailure;
    });
  }

  /**
   * An SNS post: accepted only from our topic and with a valid SNS signature (v1 SHA1 or v2
   * SHA256) whose certificate comes from an SNS host (or from the configured SNS endpoint,
   * which is how tests point at a fake). A SubscriptionConfirmation is confirmed through the
   * SNS API with its token, so no URL taken from the post is fetched except the certificate.
   */
  async parseWebhook(
    server: ProviderServer,
    request: IncomingWebhookRequest,
    state: Record<string, string>,
  ): Promise<ParsedWebhookEvent[]> {
    let body: unknown;
    try {
      body = JSON.parse(request.rawBody.toString('utf8'));
    } catch {
      throw webhookError(DeliveryErrorCode.MESSAGE_REJECTED, 'body is not JSON');
    }
    if (!isRecord(body) || Array.isArray(body) || typeof body.Type !== 'string') {
      throw webhookError(DeliveryErrorCode.MESSAGE_REJECTED, 'not an SNS message');
    }
    if (!state.topicArn || body.TopicArn !== state.topicArn) {
      if (body.Type === 'SubscriptionConfirmation' && isTopicBeingRegistered(server, body.TopicArn)) {
        // SNS posts the confirmation as soon as it has made the subscription, which may be before
        // the registration that asked for it has stored its topic. 5xx: SNS retries (4xx it drops).
        await this.verifySnsSignature(body);
        throw new AheadOfRegistrationError('SES webhook: a subscription confirmation came before its registration was recorded; SNS retries it');
      }
      throw webhookError(DeliveryErrorCode.AUTH_FAILED, 'message is not from our SNS topic');
    }
    await this.verifySnsSignature(body);

    if (body.Type === 'SubscriptionConfirmation') {
      const token = String(body.Token ?? '');
      await this.run(credentialsOf(server), ({ sns }) =>
        sns.send(
          new ConfirmSubscriptionCommand({ TopicArn: state.topicArn, Token: token, AuthenticateOnUnsubscribe: 'true' }),
        ),
      ).catch((err: unknown) => {
        // The post is genuine (its signature was checked above): failing to confirm it, our keys
        // refused included, is ours to fix, and SNS is asked to post it again (5xx), not told
        // the post was forged (4xx, never retried).
        const cause = err instanceof DeliveryError ? err : null;
        throw new DeliveryError({
          // Not the cause's code: a refusal of the confirm call (MESSAGE_REJECTED, say) would be
          // read as a malformed post; the cause is kept in the message, for the log.
          code: DeliveryErrorCode.PROVIDER_ERROR,
          transient: true,
          transport: TransportKind.API,
          providerStatus: cause?.providerStatus,
          message: `SES webhook: the SNS subscription could not be confirmed: ${cause?.message ?? 'unexpected error'}`,
        });
      });
      return [];
    }
    if (body.Type !== 'Notification') return [];
    let event: unknown;
    try {
      event = JSON.parse(String(body.Message ?? ''));
    } catch {
      event = undefined;
    }
    if (!isRecord(event)) {
      // Signed, from our topic, yet no event: SES's own plain-text "Successfully validated SNS
      // topic for Amazon SES event publishing." when the event destination is made. Genuine, so
      // not malformed: answered 200 with nothing kept.
      this.logger.log(`SES webhook: a notification from our topic without an SES event was ignored: ${JSON.stringify(String(body.Message ?? '').slice(0, 120))}`);
      return [];
    }
    return parseSesEvent(event, String(body.MessageId ?? ''), String(body.Timestamp ?? ''));
  }

  /**
   * Everything that needs no network first (version, signature, certificate URL on an SNS host),
   * so a post naming any other host is refused without fetching anything. The certificate's host
   * failing to answer is not the post's fault: that error stays transient (5xx, SNS retries).
   */
  private async verifySnsSignature(m: Record<string, unknown>): Promise<void> {
    const version = m.SignatureVersion;
    const algorithm = version === '1' ? 'RSA-SHA1' : version === '2' ? 'RSA-SHA256' : null;
    const certUrl =
      typeof m.SigningCertURL === 'string'
        ? trustedCertificateUrl(m.SigningCertURL, { pattern: this.config.snsCertUrlPattern, snsEndpoint: this.config.snsEndpoint })
        : null;
    if (!algorithm || typeof m.Signature !== 'string' || !certUrl) {
      throw webhookError(DeliveryErrorCode.AUTH_FAILED, 'SNS signature missing or certificate URL not trusted');
    }
    const key = await this.certificates.key(certUrl);
    let ok = false;
    try {
      ok = createVerify(algorithm).update(snsStringToSign(m), 'utf8').verify(key, m.Signature, 'base64');
    } catch {
      ok = false;
    }
    if (!ok) throw webhookError(DeliveryErrorCode.AUTH_FAILED, 'SNS signature does not match');
  }

  /** Run SDK calls on fresh SES and SNS clients; every failure leaves as a classified DeliveryError. */
  private async run<T>(
    creds: SesCredentials,
    fn: (clients: { ses: SESv2Client; sns: SNSClient }) => Promise<T>,
    from?: string,
  ): Promise<T> {
    const ctx: SesErrorContext = { secrets: [creds.secretAccessKey, creds.accessKeyId], from };
    const common = {
      region: creds.region,
      credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey },
      // Our own queue retries with backoff and may fall back to SMTP; SDK retries would
      // multiply attempts and blow the time budget of one send.
      maxAttempts: 1,
      requestHandler: {
        connectionTimeout: this.config.httpTimeoutMs,
        requestTimeout: this.config.httpTimeoutMs,
        // Without this flag the handler only logs a warning when requestTimeout passes.
        throwOnRequestTimeout: true,
      },
    };
    const ses = new SESv2Client({ ...common, endpoint: this.config.sesEndpoint || undefined });
    // SNS is only needed for webhooks, so its client is built on first use.
    let sns: SNSClient | undefined;
    const snsEndpoint = this.config.snsEndpoint || undefined;
    const clients = {
      ses,
      get sns(): SNSClient {
        return (sns ??= new SNSClient({ ...common, endpoint: snsEndpoint }));
      },
    };
    try {
      return await fn(clients);
    } catch (err) {
      throw sesErrorFrom(err, ctx);
    } finally {
      ses.destroy();
      sns?.destroy();
    }
  }
}

/** SES takes header values of printable ASCII only, 995 characters at most with the name within 996. */
const SES_MAX_HEADER_CHARS = 996;

/**
 * A header value as SES takes it: printable ASCII as given; anything else (non-ASCII, control
 * characters) as RFC 2047 encoded words, as an SMTP send would write it. A value still too long
 * is refused here, naming the header, rather than by SES with a 400 that names nothing.
 */
function sesHeaderValue(name: string, value: string): string {
  // encodeWord, not encodeWords: the latter leaves ASCII control characters (a tab) as they are.
  const encoded = /^[\x20-\x7e]*$/.test(value) ? value : encodeWord(value, 'Q', 52);
  if (name.length + encoded.length > SES_MAX_HEADER_CHARS) {
    throw new DeliveryError({
      code: DeliveryErrorCode.MESSAGE_REJECTED,
      message: `The header ${name} is longer than Amazon SES takes (${SES_MAX_HEADER_CHARS} characters with its name, once encoded)`,
      transient: false,
      transport: TransportKind.API,
    });
  }
  return encoded;
}

/** What the issue asks SES to publish: bounces, complaints, deliveries and rejects. */
export const SES_EVENT_TYPES = ['BOUNCE', 'COMPLAINT', 'DELIVERY', 'REJECT'] as const;
const NOT_FOUND = ['NotFoundException', 'NotFound'];

/** The SES-documented topic policy: only SES, for this account and configuration set, may publish. */
function publishPolicy(topicArn: string, region: string, configurationSetName: string): Record<string, unknown> {
  const account = topicArn.split(':')[4] ?? '';
  return {
    Version: '2012-10-17',
    Id: 'mailroute-ses-events',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Service: 'ses.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: topicArn,
        Condition: {
          StringEquals: {
            'AWS:SourceAccount': account,
            'AWS:SourceArn': `arn:aws:ses:${region}:${account}:configuration-set/${configurationSetName}`,
          },
        },
      },
    ],
  };
}

/** The SNS string to sign (PROVIDERS.md §1.7): the listed keys that are present, "key\nvalue\n". */
export function snsStringToSign(m: Record<string, unknown>): string {
  const keys =
    m.Type === 'Notification'
      ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  return keys
    .filter((k) => m[k] !== undefined && m[k] !== null)
    .map((k) => `${k}\n${String(m[k])}\n`)
    .join('');
}

/**
 * What identifies an SES event itself, not the SNS message carrying it: SES publishes at least
 * once, and a second copy comes in an SNS message of its own. A bounce or complaint has its
 * feedback id; a message is delivered or rejected once. Null (use the SNS id) for the rest: a
 * message can be delayed more than once.
 */
function sesEventSource(type: unknown, event: Record<string, unknown>, messageId: string | null): string | null {
  const feedbackId = (v: unknown): string | null => (isRecord(v) && typeof v.feedbackId === 'string' && v.feedbackId ? `feedback:${v.feedbackId}` : null);
  if (type === 'Bounce') return feedbackId(event.bounce);
  if (type === 'Complaint') return feedbackId(event.complaint);
  if ((type === 'Delivery' || type === 'Reject') && messageId) return `${messageId}:${type}`;
  return null;
}

/** One SES event record → one event per affected recipient. */
function parseSesEvent(
  event: Record<string, unknown>,
  snsMessageId: string,
  snsTimestamp: string,
): ParsedWebhookEvent[] {
  const type = event.eventType ?? event.notificationType;
  const mail = isRecord(event.mail) ? event.mail : {};
  const messageId = typeof mail.messageId === 'string' ? mail.messageId : null;
  const when = (v: unknown): Date => {
    const t = Date.parse(typeof v === 'string' ? v : snsTimestamp);
    return Number.isNaN(t) ? new Date() : new Date(t);
  };
  const source = sesEventSource(type, event, messageId) ?? snsMessageId;
  const out = (
    kind: ParsedWebhookEvent['kind'],
    recipient: string,
    at: unknown,
    detail?: string,
  ): ParsedWebhookEvent => ({
    kind,
    // One record can cover several recipients; with the recipient the id is unique, and stable
    // across SNS redeliveries and across SES publishing the same event twice.
    eventId: source
      ? `${source}:${recipient.toLowerCase()}`
      : createHash('sha256')
          .update(JSON.stringify(event) + recipient)
          .digest('hex'),
    providerMessageId: messageId,
    recipient: recipient ? recipient.toLowerCase() : null,
    occurredAt: when(at),
    ...(detail ? { detail } : {}),
  });
  const list = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.filter(isRecord) : []);
  const strings = (v: unknown): string[] =>
    Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

  switch (type) {
    case 'Bounce': {
      const b = isRecord(event.bounce) ? event.bounce : {};
      // Permanent → hard; Transient (SES has stopped retrying) and Undetermined → soft.
      const kind = b.bounceType === 'Permanent' ? 'HARD_BOUNCE' : 'SOFT_BOUNCE';
      return list(b.bouncedRecipients).map((r) =>
        out(
          kind,
          String(r.emailAddress ?? ''),
          b.timestamp,
          [b.bounceType, b.bounceSubType, r.diagnosticCode].filter(Boolean).join(' '),
        ),
      );
    }
    case 'Complaint': {
      const c = isRecord(event.complaint) ? event.complaint : {};
      // A recipient telling their mailbox provider the mail is not spam is no complaint.
      if (c.complaintFeedbackType === 'not-spam') return [];
      // SES did not send it: the address is on the AWS account's suppression list (it complained
      // once, perhaps about another tenant's mail on a shared account). A refusal of this message,
      // not a new complaint to suppress for this account or count against the server.
      if (c.complaintSubType === 'OnAccountSuppressionList') {
        return list(c.complainedRecipients).map((r) =>
          out('REJECTED', String(r.emailAddress ?? ''), c.timestamp, "OnAccountSuppressionList: the address is on the AWS account's suppression list"),
        );
      }
      return list(c.complainedRecipients).map((r) =>
        out('COMPLAINT', String(r.emailAddress ?? ''), c.timestamp, String(c.complaintFeedbackType ?? '')),
      );
    }
    case 'Delivery': {
      const d = isRecord(event.delivery) ? event.delivery : {};
      return strings(d.recipients).map((r) => out('DELIVERED', r, d.timestamp, String(d.smtpResponse ?? '')));
    }
    case 'Reject': {
      const r = isRecord(event.reject) ? event.reject : {};
      return strings(mail.destination).map((d) => out('REJECTED', d, mail.timestamp, String(r.reason ?? '')));
    }
    case 'DeliveryDelay': {
      const d = isRecord(event.deliveryDelay) ? event.deliveryDelay : {};
      return list(d.delayedRecipients).map((r) =>
        out('DEFERRED', String(r.emailAddress ?? ''), d.timestamp, String(d.delayType ?? '')),
      );
    }
    default:
      return [];
  }
}

/** Run an SDK call, treating the named error codes as "nothing to do" (returns undefined). */
async function ignoring<T>(codes: string | string[], fn: () => Promise<T>): Promise<T | undefined> {
  const names = Array.isArray(codes) ? codes : [codes];
  try {
    return await fn();
  } catch (err) {
    if (isRecord(err) && typeof err.name === 'string' && names.includes(err.name)) return undefined;
    throw err;
  }
}

function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, '-');
}

/** The event destination name every server's registration used before they were per server. */
const LEGACY_EVENT_DESTINATION_NAME = 'mailroute-sns';

/**
 * One event destination per server: two servers may name the same configuration set (the owner's
 * own), and a shared destination name made the second registration repoint the first server's
 * events to its own topic (and removing either server removed both). Registrations made before
 * keep the name in their state ('mailroute-sns'), which their removal uses; registering again
 * removes it.
 */
function eventDestinationNameOf(server: Pick<ProviderServer, 'id'>): string {
  return `mailroute-${safeName(server.id)}`.slice(0, 64);
}

/** The SNS topic registerWebhooks makes for a server (one per server, AWS account and region). */
function topicNameOf(server: Pick<ProviderServer, 'id'>): string {
  return `mailroute-ses-${safeName(server.id)}`.slice(0, 256);
}

/**
 * Whether a topic ARN names the topic registerWebhooks makes for this server in the region of its
 * credentials (arn:<partition>:sns:<region>:<account>:<name>): where a registration under way,
 * whose outcome is not stored yet, subscribes our endpoint. A stored registration's topic in
 * another region, or another server's topic, is not.
 */
function isTopicBeingRegistered(server: ProviderServer, topicArn: unknown): boolean {
  if (typeof topicArn !== 'string') return false;
  const [arn, , service, region, account, name, ...rest] = topicArn.split(':');
  return (
    arn === 'arn' &&
    service === 'sns' &&
    rest.length === 0 &&
    /^\d{12}$/.test(account ?? '') &&
    Boolean(region) &&
    region === server.credentials.ses?.region &&
    name === topicNameOf(server)
  );
}

function providerError(message: string): DeliveryError {
  return new DeliveryError({
    code: DeliveryErrorCode.PROVIDER_ERROR,
    message,
    transient: false,
    transport: TransportKind.API,
  });
}

function webhookError(code: DeliveryErrorCode, why: string): DeliveryError {
  return new DeliveryError({
    code,
    message: `SES webhook ${code === DeliveryErrorCode.AUTH_FAILED ? 'rejected' : 'malformed'}: ${why}`,
    transient: false,
    transport: TransportKind.API,
  });
}

function credentialsOf(server: ProviderServer): SesCredentials {
  const creds = server.credentials.ses;
  if (!creds?.accessKeyId || !creds.secretAccessKey || !creds.region) {
    throw new DeliveryError({
      code: DeliveryErrorCode.AUTH_FAILED,
      message: 'This delivery server has no complete Amazon SES credentials (access key id, secret, region)',
      transient: false,
      transport: TransportKind.API,
    });
  }
  return creds;
}

/** "a.b.example.com" → ["a.b.example.com", "b.example.com", "example.com"] (stops at two labels). */
function domainAndParents(domain: string): string[] {
  const labels = domain.split('.').filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i <= labels.length - 2; i++) out.push(labels.slice(i).join('.'));
  return out.length ? out : [domain];
}

function isVerified(out: GetEmailIdentityCommandOutput): boolean {
  if (typeof out.VerifiedForSendingStatus === 'boolean') return out.VerifiedForSendingStatus;
  return out.VerificationStatus === 'SUCCESS';
}

function describeStatus(out: GetEmailIdentityCommandOutput): string {
  switch (out.VerificationStatus) {
    case 'PENDING':
      return 'pending verification';
    case 'FAILED':
      return 'failed verification';
    case 'TEMPORARY_FAILURE':
      return 'temporarily failing verification';
    case 'NOT_STARTED':
      return 'not verified yet';
    // SUCCESS here means verified but not enabled for sending (VerifiedForSendingStatus false).
    case 'SUCCESS':
    case undefined:
      return 'not verified for sending';
  }
  return 'not verified for sending'; // a status newer than this SDK build
}

function bareAddress(address: string): string {
  const m = /<([^>]+)>/.exec(address);
  return (m ? m[1] : address).trim().toLowerCase();
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}
