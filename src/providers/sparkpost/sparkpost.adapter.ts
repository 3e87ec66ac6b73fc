import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DeliveryError } from '../delivery-error';
import { DeliveryErrorCode, DeliveryProvider, TransportKind, WebhookStatus } from '../provider.enums';
import type {
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
import { domainOf, record, requireApiKey } from '../shared/adapter-helpers';
import { httpRequest, type HttpResponse } from '../shared/http-client';
import { classifySparkPostError, type SparkPostOperation } from './sparkpost-errors';

const US_API = 'https://api.sparkpost.com/api/v1';
const EU_API = 'https://api.eu.sparkpost.com/api/v1';
/** The events the webhooks feature consumes (issue 8). */
const SPARKPOST_WEBHOOK_EVENTS = ['bounce', 'spam_complaint', 'delivery', 'out_of_band', 'policy_rejection'] as const;
const WEBHOOK_USER = 'mailroute';
/** bounce_class → hard (suppress): Hard 10/30/90 and Admin 25/80 per SparkPost's classification doc. */
const HARD_BOUNCE_CLASSES = new Set(['10', '25', '30', '80', '90']);
/** bounce_class 60 Auto-Reply and 100 Challenge-Response: answers from the mailbox, not failures. */
const ANSWERED_CLASSES = new Set(['60', '100']);

/**
 * SparkPost over its REST API v1 with plain fetch: the official node client has been
 * unmaintained since 2019 and pulls in the deprecated `request` package.
 */
export class SparkPostAdapter implements ProviderAdapter {
  readonly provider = DeliveryProvider.SPARKPOST;

  constructor(private readonly config: ProvidersConfig) {}

  async send(server: ProviderServer, message: OutgoingMessage): Promise<SendResult> {
    const headers: Record<string, string> = {};
    for (const h of message.headers ?? []) headers[h.name] = h.value;
    // SparkPost forwards custom headers as given; the Message-ID makes a retried send recognisable.
    if (message.messageId) headers['Message-ID'] = message.messageId;

    const content: Record<string, unknown> = {
      from: toAddress(message.from),
      subject: message.subject,
    };
    if (message.html) content.html = message.html;
    if (message.text) content.text = message.text;
    if (message.replyTo) content.reply_to = message.replyTo;
    if (Object.keys(headers).length) content.headers = headers;

    // No `transactional` flag: it would make SparkPost skip the account's unsubscribe list,
    // which is the tenant's call, not ours. Only the server's IP pool is forced.
    const res = await this.call(server, 'send', 'POST', '/transmissions', {
      ...(server.ipPool ? { options: { ip_pool: server.ipPool } } : {}),
      recipients: [{ address: toAddress(message.to) }],
      content,
    });
    const results = record(record(res.json).results);
    // A 200 can still carry a refused recipient (e.g. on SparkPost's suppression list).
    if (results.total_accepted_recipients === 0 && Number(results.total_rejected_recipients) > 0) {
      throw new DeliveryError({
        code: DeliveryErrorCode.RECIPIENT_REJECTED,
        message: 'SparkPost rejected the recipient',
        transient: false,
        transport: TransportKind.API,
        providerStatus: res.status,
      });
    }
    if (typeof results.id !== 'string' && typeof results.id !== 'number') {
      throw new DeliveryError({
        code: DeliveryErrorCode.PROVIDER_ERROR,
        message: 'SparkPost accepted the message but returned no transmission id',
        transient: false,
        transport: TransportKind.API,
        providerStatus: res.status,
      });
    }
    return { transport: TransportKind.API, providerMessageId: String(results.id), from: message.from };
  }

  async verifyCredentials(server: ProviderServer): Promise<void> {
    // A send-only key gets 403 on /account: SparkPost knew the key, so it is valid for sending.
    await this.call(server, 'account', 'GET', '/account', undefined, [403]);
  }

  async checkSender(server: ProviderServer, address: string): Promise<SenderCheck> {
    const domain = domainOf(address);
    if (!domain) return { verified: false, reason: `"${address}" is not an email address` };
    const res = await this.call(
      server,
      'sending-domain',
      'GET',
      `/sending-domains/${encodeURIComponent(domain)}`,
      undefined,
      [404],
    );
    if (res.status === 404) {
      return {
        verified: false,
        reason: `domain ${domain} is not a sending domain at SparkPost; add and verify it under Sending Domains`,
      };
    }
    return judgeSendingDomain(domain, record(record(res.json).results));
  }

  /**
   * One webhook per delivery server, found again by its target URL on retry (updated in place
   * rather than duplicated). We generate the basic-auth credentials once and reuse the stored
   * password (`previous`): a registration whose answer is lost, or two at once, must not leave
   * SparkPost posting with a password mailroute does not hold. Provider refusals come back as a
   * FAILED result so saving the server is never blocked.
   */
  async registerWebhooks(server: ProviderServer, url: string, previous: Record<string, string> = {}): Promise<WebhookRegistrationResult> {
    const events = [...SPARKPOST_WEBHOOK_EVENTS];
    const password = previous.password || randomBytes(24).toString('base64url');
    let webhookId: string | undefined;
    try {
      webhookId = await this.findWebhook(server, url);
      const body = {
        name: `mailroute-${server.id.slice(0, 8)}`, // kept short: SparkPost limits webhook name length
        target: url,
        events,
        active: true,
        auth_type: 'basic',
        auth_credentials: { username: WEBHOOK_USER, password },
      };
      if (webhookId) {
        await this.call(server, 'webhooks', 'PUT', `/webhooks/${encodeURIComponent(webhookId)}`, body);
      } else {
        const res = await this.call(server, 'webhooks', 'POST', '/webhooks', body);
        const id = record(record(res.json).results).id;
        if (typeof id !== 'string') {
          throw new DeliveryError({
            code: DeliveryErrorCode.PROVIDER_ERROR,
            message: 'SparkPost created the webhook but returned no id',
            transient: false,
            transport: TransportKind.API,
          });
        }
        webhookId = id;
      }
      return {
        status: WebhookStatus.REGISTERED,
        url,
        events,
        error: null,
        state: { webhookId, username: WEBHOOK_USER, password },
      };
    } catch (err) {
      if (!(err instanceof DeliveryError)) throw err;
      // SparkPost may hold the webhook with this password all the same (a create that timed out
      // after it was made, or answered without an id): keep it, or every batch it posts is a 401.
      return {
        status: WebhookStatus.FAILED,
        url,
        events,
        error: err.message,
        state: { username: WEBHOOK_USER, password, ...(webhookId ? { webhookId } : {}) },
      };
    }
  }

  /** Deletes only the webhook we registered (by id, else by our own target URL); gone already is fine. */
  async removeWebhooks(server: ProviderServer, registration: WebhookRegistrationResult): Promise<void> {
    const id = registration.state?.webhookId ?? (registration.url ? await this.findWebhook(server, registration.url) : undefined);
    if (!id) return;
    await this.call(server, 'webhooks', 'DELETE', `/webhooks/${encodeURIComponent(id)}`, undefined, [404]);
  }

  /**
   * SparkPost signs nothing: authenticity is the basic-auth pair we registered. Throws
   * AUTH_FAILED (→ 401) on bad credentials and MESSAGE_REJECTED (→ 400) on a malformed body.
   */
  async parseWebhook(
    _server: ProviderServer,
    request: IncomingWebhookRequest,
    state: Record<string, string>,
  ): Promise<ParsedWebhookEvent[]> {
    if (!basicAuthMatches(headerOf(request, 'authorization'), state.username, state.password)) {
      throw new DeliveryError({
        code: DeliveryErrorCode.AUTH_FAILED,
        message: 'SparkPost webhook credentials are missing or wrong',
        transient: false,
        transport: TransportKind.API,
      });
    }
    return parseSparkPostBatch(request.rawBody);
  }

  private async findWebhook(server: ProviderServer, target: string): Promise<string | undefined> {
    const res = await this.call(server, 'webhooks', 'GET', '/webhooks');
    const list = record(res.json).results;
    const match = Array.isArray(list) ? list.map(record).find((w) => w.target === target) : undefined;
    return typeof match?.id === 'string' ? match.id : undefined;
  }

  /** One API call; non-2xx (other than `accept`ed statuses) becomes a classified DeliveryError. */
  private async call(
    server: ProviderServer,
    op: SparkPostOperation,
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
    accept: number[] = [],
  ): Promise<HttpResponse> {
    const apiKey = requireApiKey(server, 'sparkpost', 'SparkPost');
    const res = await httpRequest({
        method,
        url: `${this.baseUrl(server)}${path}`,
        // SparkPost takes the raw key as the Authorization value, no scheme.
        headers: { authorization: apiKey },
        body,
        timeoutMs: this.config.httpTimeoutMs,
    });
    if ((res.status >= 200 && res.status < 300) || accept.includes(res.status)) return res;
    throw classifySparkPostError(
      { status: res.status, json: res.json, text: res.text, retryAfter: res.headers.get('retry-after') },
      op,
      apiKey,
    );
  }

  private baseUrl(server: ProviderServer): string {
    const override = this.config.sparkpostApiUrl?.replace(/\/+$/, '');
    if (override) return /\/api\/v1$/.test(override) ? override : `${override}/api/v1`;
    return server.credentials.sparkpost?.region?.toUpperCase() === 'EU' ? EU_API : US_API;
  }
}

/** Sendable ⇔ ownership verified and not blocked by compliance (SparkPost sending-domains reference). */
function judgeSendingDomain(domain: string, results: Record<string, unknown>): SenderCheck {
  const status = record(results.status);
  if (status.compliance_status === 'blocked') {
    return { verified: false, reason: `domain ${domain} is blocked by SparkPost compliance; contact SparkPost support` };
  }
  if (status.ownership_verified === true) return { verified: true };
  const pending = Object.entries(status)
    .filter(([k, v]) => k.endsWith('_status') && v === 'pending')
    .map(([k]) => k.replace(/_status$/, '').toUpperCase());
  const waiting = pending.length ? ` (${pending.join(', ')} pending)` : '';
  return {
    verified: false,
    reason: `domain ${domain} is not verified at SparkPost yet${waiting}; publish its DKIM or CNAME record and re-verify`,
  };
}



/** "Name <a@b>" → {name, email}; SparkPost's documented object form avoids quoting surprises. */
function toAddress(value: string): { email: string; name?: string } {
  const m = /^\s*"?([^"<]*?)"?\s*<([^>]+)>\s*$/.exec(value);
  if (!m) return { email: value.trim() };
  return m[1] ? { email: m[2].trim(), name: m[1].trim() } : { email: m[2].trim() };
}




/** Node lower-cases header names, but a hand-built request may not. */
function headerOf(request: IncomingWebhookRequest, name: string): string | string[] | undefined {
  const key = Object.keys(request.headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : request.headers[key];
}

/** Constant-time check of `Authorization: Basic base64(user:pass)` against what we registered. */
function basicAuthMatches(header: string | string[] | undefined, user?: string, pass?: string): boolean {
  if (!user || !pass || typeof header !== 'string') return false;
  const m = /^Basic\s+(\S+)$/i.exec(header.trim());
  if (!m) return false;
  const given = createHash('sha256').update(Buffer.from(m[1], 'base64')).digest();
  const expected = createHash('sha256').update(`${user}:${pass}`).digest();
  return timingSafeEqual(given, expected);
}

/**
 * A batch is a JSON array of `{"msys":{"<class>":{...}}}`; only message events matter here
 * (the creation ping `[{"msys":{}}]`, opens, clicks etc. yield nothing).
 */
function parseSparkPostBatch(rawBody: Buffer): ParsedWebhookEvent[] {
  let batch: unknown;
  try {
    batch = JSON.parse(rawBody.toString('utf8'));
  } catch {
    batch = undefined;
  }
  if (!Array.isArray(batch)) {
    throw new DeliveryError({
      code: DeliveryErrorCode.MESSAGE_REJECTED,
      message: 'The SparkPost webhook body is not a JSON array of events',
      transient: false,
      transport: TransportKind.API,
    });
  }
  const events: ParsedWebhookEvent[] = [];
  for (const item of batch) {
    const e = record(record(record(item).msys).message_event);
    const kind = eventKind(e);
    if (!kind) continue;
    const seconds = Number(e.timestamp);
    const reason = str(e.reason) ?? str(e.raw_reason);
    events.push({
      kind,
      eventId: str(e.event_id) ?? createHash('sha256').update(JSON.stringify(e)).digest('hex'),
      providerMessageId: str(e.transmission_id) ?? null,
      recipient: str(e.rcpt_to) ?? str(e.raw_rcpt_to) ?? null,
      occurredAt: Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000) : new Date(),
      detail: e.bounce_class !== undefined ? `bounce_class ${String(e.bounce_class)}${reason ? `: ${reason}` : ''}` : reason ?? str(e.fbtype),
    });
  }
  return events;
}

function eventKind(e: Record<string, unknown>): ParsedWebhookEvent['kind'] | null {
  switch (e.type) {
    case 'delivery':
      return 'DELIVERED';
    case 'bounce':
    case 'out_of_band':
      // An auto-reply or a challenge came back: the mail reached the mailbox, nothing failed.
      if (ANSWERED_CLASSES.has(String(e.bounce_class))) return null;
      return HARD_BOUNCE_CLASSES.has(String(e.bounce_class)) ? 'HARD_BOUNCE' : 'SOFT_BOUNCE';
    case 'spam_complaint':
      return 'COMPLAINT';
    case 'policy_rejection':
      return 'REJECTED';
    case 'delay':
      return 'DEFERRED';
    default:
      return null;
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v ? v : typeof v === 'number' ? String(v) : undefined;
}
