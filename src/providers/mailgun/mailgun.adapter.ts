import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import FormData from 'form-data';
import Mailgun from 'mailgun.js';
import type { MailgunMessageData } from 'mailgun.js/definitions';
import { DeliveryError } from '../delivery-error';
import { DeliveryErrorCode, DeliveryProvider, TransportKind, WebhookStatus } from '../provider.enums';
import type {
  IncomingWebhookRequest,
  MailgunCredentials,
  OutgoingMessage,
  ParsedWebhookEvent,
  ProviderAdapter,
  ProviderServer,
  SendResult,
  SenderCheck,
  WebhookRegistrationResult,
} from '../provider.types';
import type { ProvidersConfig } from '../providers.config';
import { mailgunErrorFrom } from './mailgun-errors';

const US_BASE_URL = 'https://api.mailgun.net';
const EU_BASE_URL = 'https://api.eu.mailgun.net';

type MailgunClient = ReturnType<Mailgun['client']>;

/**
 * Mailgun through mailgun.js. Stateless: a client per call, built from the server's key,
 * domain and region (a US key on the EU host is a 401, so the region matters).
 */
export class MailgunAdapter implements ProviderAdapter {
  readonly provider = DeliveryProvider.MAILGUN;

  constructor(private readonly config: ProvidersConfig) {}

  async send(server: ProviderServer, message: OutgoingMessage): Promise<SendResult> {
    const creds = credentialsOf(server);
    const head = { from: message.from, to: [message.to], subject: message.subject };
    // mailgun.js wants at least one of text/html.
    const data: MailgunMessageData = message.html
      ? { ...head, html: message.html, ...(message.text ? { text: message.text } : {}) }
      : { ...head, text: message.text ?? '' };
    if (message.replyTo) data['h:Reply-To'] = message.replyTo;
    for (const h of message.headers ?? []) data[`h:${h.name}`] = h.value;
    if (message.messageId) data['h:Message-Id'] = message.messageId;

    const result = await this.call(creds, (mg) => mg.messages.create(creds.domain, data));
    if (!result.id) {
      throw new DeliveryError({
        code: DeliveryErrorCode.PROVIDER_ERROR,
        message: `Mailgun answered ${result.status} without a message id${result.message ? `: ${result.message}` : ''}`,
        transient: false,
        transport: TransportKind.API,
        providerStatus: result.status,
      });
    }
    // Mailgun answers "<id@domain>"; webhooks carry the same id without the angle brackets.
    return { transport: TransportKind.API, providerMessageId: stripBrackets(result.id), from: message.from };
  }

  /** GET /v4/domains/{domain}: proves the key works for this server's domain, in one call. */
  async verifyCredentials(server: ProviderServer): Promise<void> {
    const creds = credentialsOf(server);
    await this.call(creds, (mg) => mg.domains.get(creds.domain));
  }

  async checkSender(server: ProviderServer, address: string): Promise<SenderCheck> {
    const creds = credentialsOf(server);
    const domain = (bareAddress(address).split('@')[1] ?? '').toLowerCase();
    if (domain !== creds.domain.toLowerCase()) {
      return {
        verified: false,
        reason: `${bareAddress(address)} is not on this server's Mailgun domain ${creds.domain}`,
      };
    }
    let state: string;
    try {
      state = (await this.call(creds, (mg) => mg.domains.get(creds.domain))).state;
    } catch (err) {
      // "Domain not found" is an answer about the sender, not a failure of the call.
      if (err instanceof DeliveryError && err.providerStatus === 404) {
        return { verified: false, reason: `domain ${creds.domain} does not exist in this Mailgun account` };
      }
      throw err;
    }
    if (state === 'active') return { verified: true };
    return { verified: false, reason: `domain ${creds.domain} is ${state || 'not active'} at Mailgun` };
  }

  /**
   * Adds our URL to the domain's permanent_fail, temporary_fail, complained and delivered
   * webhooks (v3 per-event API). A customer's URLs on the same event are kept: we append to
   * the list (Mailgun allows 3 per event) rather than replace it. Retrying adds nothing twice.
   * The HTTP webhook signing key (the server's, else the account's) goes into `state`.
   */
  async registerWebhooks(server: ProviderServer, url: string): Promise<WebhookRegistrationResult> {
    const events = [...MAILGUN_WEBHOOK_EVENTS];
    try {
      const creds = credentialsOf(server);
      const signingKey = await this.call(creds, async (mg) => {
        const existing = await mg.webhooks.list(creds.domain, {});
        for (const id of events) {
          const urls = existing[id]?.urls ?? [];
          if (urls.includes(url)) continue;
          if (urls.length === 0) await mg.webhooks.create(creds.domain, id, url, false);
          else if (urls.length >= MAX_URLS_PER_EVENT) throw fullEvent(id);
          else await mg.webhooks.update(creds.domain, id, [...urls, url]);
        }
        return creds.webhookSigningKey || (await mg.accountManagement.getWebhookSigningKey()).http_signing_key;
      });
      if (!signingKey) {
        return {
          status: WebhookStatus.FAILED,
          url,
          events,
          error:
            'Mailgun webhooks are registered but the HTTP webhook signing key could not be read; set it on the server',
          state: { domain: creds.domain, events: events.join(',') },
        };
      }
      return {
        status: WebhookStatus.REGISTERED,
        url,
        events,
        error: null,
        state: { domain: creds.domain, events: events.join(','), signingKey },
      };
    } catch (err) {
      if (!(err instanceof DeliveryError)) throw err;
      return { status: WebhookStatus.FAILED, url, events, error: err.message };
    }
  }

  /** Takes our URL off each event we registered; deletes an event's webhook only when ours was its last URL. */
  async removeWebhooks(server: ProviderServer, registration: WebhookRegistrationResult): Promise<void> {
    const url = registration.url;
    if (!url) return;
    const creds = credentialsOf(server);
    const domain = registration.state?.domain || creds.domain;
    const ids = registration.state?.events ? registration.state.events.split(',') : [...MAILGUN_WEBHOOK_EVENTS];
    await this.call(creds, async (mg) => {
      const existing = await mg.webhooks.list(domain, {});
      for (const id of ids) {
        const urls = existing[id]?.urls ?? [];
        if (!urls.includes(url)) continue;
        const rest = urls.filter((u) => u !== url);
        if (rest.length) await mg.webhooks.update(domain, id, rest);
        else await ignoreNotFound(() => mg.webhooks.destroy(domain, id));
      }
    });
  }

  /**
   * Mailgun signs each post in its body: hex HMAC-SHA256(signing key, timestamp + token).
   * Bad or stale → AUTH_FAILED (401); not Mailgun's JSON → MESSAGE_REJECTED (400).
   */
  async parseWebhook(
    server: ProviderServer,
    request: IncomingWebhookRequest,
    state: Record<string, string>,
    now = Date.now(),
  ): Promise<ParsedWebhookEvent[]> {
    let body: unknown;
    try {
      body = JSON.parse(request.rawBody.toString('utf8'));
    } catch {
      throw webhookError(DeliveryErrorCode.MESSAGE_REJECTED, 'body is not JSON');
    }
    if (!isRecord(body)) throw webhookError(DeliveryErrorCode.MESSAGE_REJECTED, 'body is not an object');
    const sig = isRecord(body.signature) ? body.signature : {};
    const { timestamp, token, signature } = sig;
    // The key in the credentials first: an operator who rotates it updates the server; the key
    // captured at registration is the fallback for servers saved without one.
    const key = server.credentials.mailgun?.webhookSigningKey || state.signingKey || '';
    if (typeof timestamp !== 'string' || typeof token !== 'string' || typeof signature !== 'string' || !key) {
      throw webhookError(DeliveryErrorCode.AUTH_FAILED, 'signature or signing key missing');
    }
    // Digits only: the HMAC covers timestamp + token as one string, and "1700000000e0" is the
    // same number as "1700000000" but moves two characters out of the token.
    if (!/^\d{1,12}$/.test(timestamp)) throw webhookError(DeliveryErrorCode.AUTH_FAILED, 'timestamp is not a number of seconds');
    const age = now - Number(timestamp) * 1000;
    if (age > MAILGUN_SIGNATURE_MAX_AGE_MS || age < -MAILGUN_SIGNATURE_MAX_SKEW_MS) {
      throw webhookError(DeliveryErrorCode.AUTH_FAILED, 'timestamp outside the accepted window');
    }
    const expected = Buffer.from(createHmac('sha256', key).update(timestamp + token).digest('hex'));
    // Byte lengths, not string lengths: a signature with non-ASCII characters is longer in bytes, and timingSafeEqual throws on unequal lengths.
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw webhookError(DeliveryErrorCode.AUTH_FAILED, 'signature does not match');
    }
    const data = body['event-data'];
    if (!isRecord(data)) throw webhookError(DeliveryErrorCode.MESSAGE_REJECTED, 'event-data missing');
    const event = parseMailgunEvent(data);
    return event ? [event] : [];
  }

  private async call<T>(creds: MailgunCredentials, fn: (mg: MailgunClient) => Promise<T>): Promise<T> {
    const mg = new Mailgun(FormData).client({
      username: 'api',
      key: creds.apiKey,
      url: mailgunBaseUrl(this.config, creds),
      timeout: this.config.httpTimeoutMs,
    });
    try {
      return await fn(mg);
    } catch (err) {
      throw mailgunErrorFrom(err, [creds.apiKey, creds.webhookSigningKey ?? '']);
    }
  }
}

/** The configured override, else the region's host (a US key on the EU host is a 401). */
export function mailgunBaseUrl(config: ProvidersConfig, creds: MailgunCredentials): string {
  return config.mailgunApiUrl || (creds.region?.toUpperCase() === 'EU' ? EU_BASE_URL : US_BASE_URL);
}

function credentialsOf(server: ProviderServer): MailgunCredentials {
  const creds = server.credentials.mailgun;
  if (!creds?.apiKey || !creds.domain) {
    throw new DeliveryError({
      code: DeliveryErrorCode.AUTH_FAILED,
      message: 'This delivery server has no Mailgun API key or domain',
      transient: false,
      transport: TransportKind.API,
    });
  }
  return creds;
}

/** Event ids of the v3 domain webhooks API (docs spelling; mailgun.js's enum differs for unsubscribe). */
export const MAILGUN_WEBHOOK_EVENTS = ['permanent_fail', 'temporary_fail', 'complained', 'delivered'] as const;
const MAX_URLS_PER_EVENT = 3;
/**
 * How old a signed post may be: Mailgun retries a post that was not answered 200 or 406 for
 * about eight hours (10 m, 10 m, 15 m, 30 m, 1 h, 2 h, 4 h), and a retry may carry the signature
 * block it was first signed with. A tighter window refused every retry of a post that once met a
 * 5xx, and its event was lost. Replays within the window are caught by the signature's one use
 * (WebhookReplayGuard), which remembers signatures this long.
 */
export const MAILGUN_SIGNATURE_MAX_AGE_MS = 9 * 3_600_000;
/** How far ahead of our clock a timestamp may be (clock skew). */
export const MAILGUN_SIGNATURE_MAX_SKEW_MS = 10 * 60_000;

function parseMailgunEvent(data: Record<string, unknown>): ParsedWebhookEvent | null {
  const kind = mailgunEventKind(data);
  if (!kind) return null;
  const message = isRecord(data.message) ? data.message : {};
  const headers = isRecord(message.headers) ? message.headers : {};
  const messageId = typeof headers['message-id'] === 'string' ? stripBrackets(headers['message-id']) : null;
  const status = isRecord(data['delivery-status']) ? data['delivery-status'] : {};
  const detail = [status.code, status.description || status.message, data.reason]
    .filter((x) => (typeof x === 'string' && x) || typeof x === 'number')
    .join(' ');
  const seconds = Number(data.timestamp);
  return {
    kind,
    eventId:
      typeof data.id === 'string' && data.id
        ? data.id
        : createHash('sha256').update(JSON.stringify(data)).digest('hex'),
    providerMessageId: messageId,
    recipient: typeof data.recipient === 'string' ? data.recipient.toLowerCase() : null,
    occurredAt: Number.isFinite(seconds) && seconds > 0 ? new Date(Math.round(seconds * 1000)) : new Date(),
    ...(detail ? { detail } : {}),
  };
}

function mailgunEventKind(data: Record<string, unknown>): ParsedWebhookEvent['kind'] | null {
  switch (data.event) {
    case 'delivered':
      return 'DELIVERED';
    case 'failed':
      return mailgunFailureKind(data);
    case 'complained':
      return 'COMPLAINT';
    case 'rejected':
      return 'REJECTED';
    default:
      return null;
  }
}

/**
 * A temporary failure is a deferral: Mailgun keeps retrying, and says `old` when it gives up
 * (the address may work later: a soft bounce). Mailgun refusing to try (its block list, an
 * address that complained or unsubscribed) is a rejection; any other permanent reason (bounce,
 * generic, suppress-bounce, and reasons not documented yet) is a hard bounce.
 */
function mailgunFailureKind(data: Record<string, unknown>): ParsedWebhookEvent['kind'] {
  if (data.severity === 'temporary') return 'DEFERRED';
  const reason = typeof data.reason === 'string' ? data.reason.toLowerCase() : '';
  if (reason === 'old') return 'SOFT_BOUNCE';
  if (MAILGUN_REFUSALS.has(reason)) return 'REJECTED';
  return 'HARD_BOUNCE';
}
const MAILGUN_REFUSALS = new Set(['espblock', 'suppress-complaint', 'suppress-unsubscribe']);

function fullEvent(id: string): DeliveryError {
  return new DeliveryError({
    code: DeliveryErrorCode.PROVIDER_ERROR,
    message: `Mailgun's ${id} webhook already has ${MAX_URLS_PER_EVENT} URLs (the maximum); remove one so mailroute can add its own`,
    transient: false,
    transport: TransportKind.API,
  });
}

async function ignoreNotFound(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (isRecord(err) && err.status === 404) return;
    throw err;
  }
}

function webhookError(code: DeliveryErrorCode, why: string): DeliveryError {
  return new DeliveryError({
    code,
    message: `Mailgun webhook ${code === DeliveryErrorCode.AUTH_FAILED ? 'rejected' : 'malformed'}: ${why}`,
    transient: false,
    transport: TransportKind.API,
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stripBrackets(id: string): string {
  return id.replace(/^<|>$/g, '');
}

function bareAddress(address: string): string {
  const m = /<([^>]+)>/.exec(address);
  return (m ? m[1] : address).trim().toLowerCase();
}
