import { createHash, createPublicKey, verify } from 'node:crypto';
import { Client } from '@sendgrid/client';
import { MailService, type MailDataRequired } from '@sendgrid/mail';
import { DeliveryError, WrongWebhookKeyError } from '../delivery-error';
import { DeliveryErrorCode, DeliveryProvider, TransportKind, WebhookStatus } from '../provider.enums';
import type {
  ApiKeyCredentials,
  IncomingWebhookRequest,
  OutgoingMessage,
  ParsedWebhookEvent,
  ProviderAdapter,
  ProviderServer,
  SendResult,
  SenderCheck,
  WebhookRegistrationResult,
} from '../provider.types';
import type { ProvidersConfig } from '../providers.config';
import { sendGridErrorFrom } from './sendgrid-errors';

const GLOBAL_BASE_URL = 'https://api.sendgrid.com/';
const SENDERS_PER_PAGE = 100;
/** 5,000 single senders: more pages than that and a sender is looked for by its domain only. */
const SENDER_PAGES = 50;
const EU_BASE_URL = 'https://api.eu.sendgrid.com/';

interface SendGridSession {
  client: Client;
  mail: MailService;
  secrets: string[];
}

/**
 * SendGrid v3 through @sendgrid/mail (send) and @sendgrid/client (everything else).
 * Stateless: a fresh Client per call, never the module singletons, because every delivery
 * server has its own key and region.
 */
export class SendGridAdapter implements ProviderAdapter {
  readonly provider = DeliveryProvider.SENDGRID;

  constructor(private readonly config: ProvidersConfig) {}

  async send(server: ProviderServer, message: OutgoingMessage): Promise<SendResult> {
    const { mail, secrets } = this.session(server);
    const headers: Record<string, string> = {};
    for (const h of message.headers ?? []) headers[h.name] = h.value;
    if (message.messageId) headers['Message-ID'] = message.messageId;
    try {
      const head = {
        from: message.from,
        to: message.to,
        subject: message.subject,
        ...(message.replyTo ? { replyTo: message.replyTo } : {}),
        ...(Object.keys(headers).length ? { headers } : {}),
      };
      // The helper wants at least one content part and rejects empty ones.
      const data: MailDataRequired = message.html
        ? { ...head, html: message.html, ...(message.text ? { text: message.text } : {}) }
        : { ...head, text: message.text ?? '' };
      const [response] = await mail.send(data);
      const id = headerValue(response.headers, 'x-message-id');
      if (!id) {
        throw new DeliveryError({
          code: DeliveryErrorCode.PROVIDER_ERROR,
          message: `SendGrid accepted the message (${response.statusCode}) but returned no X-Message-Id`,
          transient: false,
          transport: TransportKind.API,
          providerStatus: response.statusCode,
        });
      }
      return { transport: TransportKind.API, providerMessageId: id, from: message.from };
    } catch (err) {
      throw sendGridErrorFrom(err, secrets);
    }
  }

  async verifyCredentials(server: ProviderServer): Promise<void> {
    const { client, secrets } = this.session(server);
    let body: unknown;
    try {
      [, body] = await client.request({ method: 'GET', url: '/v3/scopes' });
    } catch (err) {
      throw sendGridErrorFrom(err, secrets);
    }
    const scopes = isRecord(body) && Array.isArray(body.scopes) ? body.scopes : [];
    if (!scopes.includes('mail.send')) {
      throw new DeliveryError({
        code: DeliveryErrorCode.AUTH_FAILED,
        message: 'The SendGrid API key works but lacks the "Mail Send" permission',
        transient: false,
        transport: TransportKind.API,
        providerStatus: 200,
      });
    }
  }

  async checkSender(server: ProviderServer, address: string): Promise<SenderCheck> {
    const { client, secrets } = this.session(server);
    const email = bareAddress(address);
    const domain = email.split('@')[1] ?? '';
    try {
      // Domain Authentication first: one request, and an authenticated domain covers every
      // address in it. Routing asks on each sender-check cache miss, so the paged sender list
      // below (up to SENDER_PAGES requests) is only read when the domain does not settle it.
      const domains = await this.authenticatedDomains(client, domain);
      const match = (domains ?? []).filter((d) => typeof d.domain === 'string' && d.domain.toLowerCase() === domain);
      if (match.some((d) => d.valid === true)) return { verified: true };

      // Single Sender Verification: an exact, verified from_email.
      const sender = await this.verifiedSender(client, email);
      if (sender?.verified === true) return { verified: true };

      if (match.length) return { verified: false, reason: `domain ${domain} is pending verification at SendGrid` };
      if (sender) return { verified: false, reason: `sender ${email} has not been confirmed at SendGrid yet` };
      if (domains === null) {
        return {
          verified: false,
          reason: `${email} is not a verified sender at SendGrid, and this API key may not read Domain Authentication (it needs the whitelabel.read scope) to tell whether ${domain} is authenticated`,
        };
      }
      return {
        verified: false,
        reason: `${email} is not a verified sender and ${domain} is not an authenticated domain at SendGrid`,
      };
    } catch (err) {
      throw sendGridErrorFrom(err, secrets);
    }
  }

  /**
   * The account's authenticated domains named `domain`; null when the key may not read them (403:
   * a key limited to sending and sender verification, which a single verified sender still
   * settles).
   */
  private async authenticatedDomains(client: Client, domain: string): Promise<Record<string, unknown>[] | null> {
    try {
      const [, body] = await client.request({ method: 'GET', url: '/v3/whitelabel/domains', qs: { domain } });
      return Array.isArray(body) ? body.filter(isRecord) : [];
    } catch (err) {
      if ((err as { code?: unknown }).code === 403) return null;
      throw err;
    }
  }

  /**
   * The single sender with this from_email, paging through the account's list (100 a page,
   * `lastSeenID` after the last id seen): an account shared by many senders lists more than one
   * page, and a sender beyond the first was reported unverified. At most SENDER_PAGES pages.
   */
  private async verifiedSender(client: Client, email: string): Promise<Record<string, unknown> | undefined> {
    let lastSeenID: unknown;
    for (let page = 0; page < SENDER_PAGES; page++) {
      const [, body] = await client.request({ method: 'GET', url: '/v3/verified_senders', qs: { limit: SENDERS_PER_PAGE, ...(lastSeenID !== undefined ? { lastSeenID } : {}) } });
      const senders = isRecord(body) && Array.isArray(body.results) ? body.results.filter(isRecord) : [];
      const sender = senders.find((s) => typeof s.from_email === 'string' && s.from_email.toLowerCase() === email);
      if (sender || senders.length < SENDERS_PER_PAGE) return sender;
      lastSeenID = senders.at(-1)?.id;
      if (lastSeenID === undefined) return undefined;
    }
    return undefined;
  }

  /**
   * One event webhook of our own (multiple-webhooks API), found again by URL on retry and
   * updated in place; the account's other webhooks are never touched. Signing is enabled and
   * its public key kept in `state`. Provider refusals come back as FAILED so saving the
   * server is never blocked.
   */
  async registerWebhooks(server: ProviderServer, url: string): Promise<WebhookRegistrationResult> {
    const events = [...SENDGRID_WEBHOOK_EVENTS];
    try {
      const { client, secrets } = this.session(server);
      const settings = {
        enabled: true,
        url,
        friendly_name: `mailroute ${server.id}`.slice(0, 64),
        bounce: true,
        dropped: true,
        deferred: true,
        delivered: true,
        spam_report: true,
        processed: false,
        open: false,
        click: false,
        unsubscribe: false,
        group_unsubscribe: false,
        group_resubscribe: false,
      };
      let webhookId: string;
      try {
        const existing = await this.findWebhook(client, url);
        if (existing) {
          await client.request({
            method: 'PATCH',
            url: `/v3/user/webhooks/event/settings/${encodeURIComponent(existing)}`,
            body: settings,
          });
          webhookId = existing;
        } else {
          webhookId = await this.createWebhook(client, settings);
        }
        const [, signed] = await client.request({
          method: 'PATCH',
          url: `/v3/user/webhooks/event/settings/signed/${encodeURIComponent(webhookId)}`,
          body: { enabled: true },
        });
        const publicKey = isRecord(signed) && typeof signed.public_key === 'string' ? signed.public_key : '';
        if (!publicKey) throw noId('enabled webhook signing but returned no public key');
        return { status: WebhookStatus.REGISTERED, url, events, error: null, state: { webhookId, publicKey } };
      } catch (err) {
        throw sendGridErrorFrom(err, secrets);
      }
    } catch (err) {
      if (!(err instanceof DeliveryError)) throw err;
      return { status: WebhookStatus.FAILED, url, events, error: err.message };
    }
  }

  /** Deletes only our webhook (by id, else by our URL); already gone is fine. */
  async removeWebhooks(server: ProviderServer, registration: WebhookRegistrationResult): Promise<void> {
    const { client, secrets } = this.session(server);
    try {
      const id =
        registration.state?.webhookId ||
        (registration.url ? await this.findWebhook(client, registration.url) : undefined);
      if (!id) return;
      await client.request({ method: 'DELETE', url: `/v3/user/webhooks/event/settings/${encodeURIComponent(id)}` });
    } catch (err) {
      if (isRecord(err) && err.code === 404) return;
      throw sendGridErrorFrom(err, secrets);
    }
  }

  /** The signing key SendGrid holds now for our webhook, when it is not the one stored (PROVIDERS.md §2.4, "get public key"). */
  async currentWebhookState(server: ProviderServer, state: Record<string, string>): Promise<Record<string, string> | null> {
    if (!state.webhookId) return null;
    const { client, secrets } = this.session(server);
    let signed: unknown;
    try {
      [, signed] = await client.request({ method: 'GET', url: `/v3/user/webhooks/event/settings/signed/${encodeURIComponent(state.webhookId)}` });
    } catch (err) {
      throw sendGridErrorFrom(err, secrets);
    }
    const publicKey = isRecord(signed) && typeof signed.public_key === 'string' ? signed.public_key : '';
    // Signing turned off leaves no key (nothing would verify with one anyway); a key that is not
    // the base64 DER form parseWebhook reads would refuse every post from then on.
    if (!publicKey || !isDerPublicKey(publicKey)) return null;
    return publicKey !== state.publicKey ? { ...state, publicKey } : null;
  }

  /**
   * Verifies SendGrid's ECDSA (P-256, SHA-256) signature over timestamp + raw body with the
   * public key stored at registration, rejects stale timestamps, then maps the batch.
   * AUTH_FAILED → 401, MESSAGE_REJECTED → 400 for the webhook controller.
   */
  async parseWebhook(
    _server: ProviderServer,
    request: IncomingWebhookRequest,
    state: Record<string, string>,
    now = Date.now(),
  ): Promise<ParsedWebhookEvent[]> {
    const signature = headerValue(request.headers, SIGNATURE_HEADER);
    const timestamp = headerValue(request.headers, TIMESTAMP_HEADER);
    if (!signature || !timestamp || !state.publicKey) throw webhookAuthFailed('signature headers or key missing');
    const seconds = Number(timestamp);
    const age = now - seconds * 1000;
    if (!Number.isFinite(seconds) || age > SIGNATURE_MAX_AGE_MS || age < -SIGNATURE_SKEW_MS) {
      throw webhookAuthFailed('timestamp outside the accepted window');
    }
    let ok = false;
    try {
      const key = createPublicKey({ key: Buffer.from(state.publicKey, 'base64'), format: 'der', type: 'spki' });
      ok = verify(
        'sha256',
        Buffer.concat([Buffer.from(timestamp, 'utf8'), request.rawBody]),
        key,
        Buffer.from(signature, 'base64'),
      );
    } catch {
      ok = false;
    }
    if (!ok) throw new WrongWebhookKeyError('SendGrid webhook rejected: signature does not match');

    let body: unknown;
    try {
      body = JSON.parse(request.rawBody.toString('utf8'));
    } catch {
      throw malformed('body is not JSON');
    }
    if (!Array.isArray(body)) throw malformed('body is not an array of events');
    return body.filter(isRecord).flatMap((e) => {
      const parsed = parseSendGridEvent(e);
      return parsed ? [parsed] : [];
    });
  }

  /**
   * POST a new webhook. A concurrent registration may have created it between our lookup and
   * this call; SendGrid then answers 400 "Webhook at '…' already exists" with its id, which we adopt.
   */
  private async createWebhook(client: Client, settings: Record<string, unknown>): Promise<string> {
    try {
      const [, created] = await client.request({
        method: 'POST',
        url: '/v3/user/webhooks/event/settings',
        body: settings,
      });
      const id = isRecord(created) ? created.id : undefined;
      if (typeof id !== 'string' || !id) throw noId('created the event webhook but returned no id');
      return id;
    } catch (err) {
      const body = isRecord(err) && err.code === 400 && isRecord(err.response) ? err.response.body : undefined;
      const clash = isRecord(body) && Array.isArray(body.errors) ? body.errors.find(isRecord) : undefined;
      if (typeof clash?.id === 'string' && clash.id && /already exists/i.test(String(clash.message))) {
        await client.request({
          method: 'PATCH',
          url: `/v3/user/webhooks/event/settings/${encodeURIComponent(clash.id)}`,
          body: settings,
        });
        return clash.id;
      }
      throw err;
    }
  }

  /** Our webhook's id, found by its URL among the account's webhooks. */
  private async findWebhook(client: Client, url: string): Promise<string | undefined> {
    const [, body] = await client.request({ method: 'GET', url: '/v3/user/webhooks/event/settings/all' });
    const list = isRecord(body) && Array.isArray(body.webhooks) ? body.webhooks.filter(isRecord) : [];
    const match = list.find((w) => w.url === url);
    return typeof match?.id === 'string' ? match.id : undefined;
  }

  private session(server: ProviderServer): SendGridSession {
    const creds: ApiKeyCredentials | null | undefined = server.credentials.sendgrid;
    if (!creds?.apiKey) {
      throw new DeliveryError({
        code: DeliveryErrorCode.AUTH_FAILED,
        message: 'This delivery server has no SendGrid API key',
        transient: false,
        transport: TransportKind.API,
      });
    }
    const client = new Client();
    client.setApiKey(creds.apiKey);
    // setApiKey resets baseUrl to the region host, so the override must come after it.
    client.setDefaultRequest('baseUrl', sendGridBaseUrl(this.config, creds));
    const mail = new MailService();
    // @sendgrid/mail also sends the message's headers as the HTTP request's headers, where
    // SendGrid reads some as instructions (On-Behalf-Of acts as a subuser; an Authorization
    // header replaces the key). The message's headers travel in the JSON body regardless.
    mail.setClient(withoutForwardedHeaders(client));
    // The typed way to set the axios timeout on this client (also used by client.request).
    mail.setTimeout(this.config.httpTimeoutMs);
    return { client, mail, secrets: [creds.apiKey] };
  }
}

/** The client for sends: its requests carry only its own headers (key, user agent, JSON). */
function withoutForwardedHeaders(client: Client): Client {
  const send = Object.create(client) as Client;
  send.request = ((request: Parameters<Client['request']>[0], cb?: Parameters<Client['request']>[1]) => client.request({ ...request, headers: {} }, cb)) as Client['request'];
  return send;
}

/** The configured override, else the region's host (EU data residency → api.eu.sendgrid.com). */
export function sendGridBaseUrl(config: ProvidersConfig, creds: ApiKeyCredentials): string {
  return config.sendgridApiUrl || (creds.region?.toUpperCase() === 'EU' ? EU_BASE_URL : GLOBAL_BASE_URL);
}

/** Hard/soft bounces, drops, complaints, deliveries and deferrals: what routing and suppression act on. */
export const SENDGRID_WEBHOOK_EVENTS = ['bounce', 'dropped', 'spamreport', 'delivered', 'deferred'] as const;
const SIGNATURE_HEADER = 'x-twilio-email-event-webhook-signature';
const TIMESTAMP_HEADER = 'x-twilio-email-event-webhook-timestamp';
/** Clocks (theirs, ours) may disagree by this much either way. */
const SIGNATURE_SKEW_MS = 10 * 60_000;
/**
 * SendGrid documents no window, and retries a post that failed for up to 24 hours, possibly with
 * the timestamp and signature it first signed. Refusing those would lose the events of any outage
 * longer than the window. A replay gains next to nothing: the signature covers the whole body,
 * each event is stored once by its sg_event_id, and an event already stored changes no status or
 * suppression again (only the complaint-rate check runs again). So: 24 hours plus the skew.
 */
const SIGNATURE_MAX_AGE_MS = 24 * 3600_000 + SIGNATURE_SKEW_MS;

function parseSendGridEvent(e: Record<string, unknown>): ParsedWebhookEvent | null {
  const kind = sendGridEventKind(e);
  if (!kind) return null;
  const sgMessageId = typeof e.sg_message_id === 'string' ? e.sg_message_id : null;
  const detail = [e.reason, e.response, e.status, e.bounce_classification]
    .filter((x) => typeof x === 'string' && x)
    .join(' ');
  const seconds = Number(e.timestamp);
  return {
    kind,
    eventId:
      typeof e.sg_event_id === 'string' && e.sg_event_id
        ? e.sg_event_id
        : createHash('sha256').update(JSON.stringify(e)).digest('hex'),
    providerMessageId: sgMessageId ? xMessageIdOf(sgMessageId) : null,
    recipient: typeof e.email === 'string' ? e.email.toLowerCase() : null,
    occurredAt: Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000) : new Date(),
    ...(detail ? { detail } : {}),
  };
}

function sendGridEventKind(e: Record<string, unknown>): ParsedWebhookEvent['kind'] | null {
  switch (e.event) {
    case 'delivered':
      return 'DELIVERED';
    case 'bounce':
      // type "blocked": the receiver refused it for now (docs: "temporarily"); SendGrid does not
      // retry this message (the address may work later: a soft bounce). "bounce": for good.
      return e.type === 'blocked' ? 'SOFT_BOUNCE' : 'HARD_BOUNCE';
    case 'deferred':
      return 'DEFERRED';
    case 'dropped':
      return 'REJECTED';
    case 'spamreport':
      return 'COMPLAINT';
    default:
      return null; // processed, open, click… are not ours to act on
  }
}

/** sg_message_id = "<X-Message-Id>.filter…" (or ".recvd-…"): keep the X-Message-Id part. */
function xMessageIdOf(sgMessageId: string): string {
  const cut = sgMessageId.search(/\.(filter|recvd)/);
  if (cut > 0) return sgMessageId.slice(0, cut);
  const dot = sgMessageId.indexOf('.');
  return dot > 0 ? sgMessageId.slice(0, dot) : sgMessageId;
}

function noId(what: string): DeliveryError {
  return new DeliveryError({
    code: DeliveryErrorCode.PROVIDER_ERROR,
    message: `SendGrid ${what}`,
    transient: false,
    transport: TransportKind.API,
  });
}

function isDerPublicKey(base64: string): boolean {
  try {
    createPublicKey({ key: Buffer.from(base64, 'base64'), format: 'der', type: 'spki' });
    return true;
  } catch {
    return false;
  }
}

function webhookAuthFailed(why: string): DeliveryError {
  return new DeliveryError({
    code: DeliveryErrorCode.AUTH_FAILED,
    message: `SendGrid webhook rejected: ${why}`,
    transient: false,
    transport: TransportKind.API,
  });
}

function malformed(why: string): DeliveryError {
  return new DeliveryError({
    code: DeliveryErrorCode.MESSAGE_REJECTED,
    message: `SendGrid webhook malformed: ${why}`,
    transient: false,
    transport: TransportKind.API,
  });
}

/** "Name <a@b.c>" → "a@b.c", lower-cased for comparison. */
function bareAddress(address: string): string {
  const m = /<([^>]+)>/.exec(address);
  return (m ? m[1] : address).trim().toLowerCase();
}

function headerValue(headers: unknown, name: string): string | undefined {
  if (!isRecord(headers)) return undefined;
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === name) return Array.isArray(v) ? String(v[0]) : v == null ? undefined : String(v);
  }
  return undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
