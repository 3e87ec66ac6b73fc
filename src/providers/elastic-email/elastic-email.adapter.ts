import { DateTime } from 'luxon';
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
import {
  BAD_KEY,
  classifyElasticEmailError,
  type ElasticEmailOperation,
  isSoftFailure,
  readElasticEmailError,
} from './elastic-email-errors';

const API = 'https://api.elasticemail.com/v4';
/** Notification statuses we ask for: Sent (≈ delivered), Error (bounces), AbuseReport (complaints). */
const EE_WEBHOOK_EVENTS = ['Sent', 'Error', 'AbuseReport'] as const;
/** Error categories that say the address is bad for good (my reading of the names; PROVIDERS.md §5.5 UNCONFIRMED). */
const HARD_CATEGORIES = new Set(['nomailbox', 'accountproblem', 'dnsproblem']);
/** Error categories where the receiver or a filter refused the message rather than the address. */
const REJECT_CATEGORIES = new Set(['spam', 'blacklisted', 'contentfilter', 'spfproblem', 'whitelistingproblem', 'codeerror']);
/** Error categories that do not concern delivery (our own cancel, ignored addresses). */
const IGNORED_CATEGORIES = new Set(['ignore', 'manualcancel']);

/**
 * Elastic Email over its REST API v4 with plain fetch: the generated SDKs declare no error
 * shape and lag behind the API (the webhook endpoints are missing from the npm builds).
 */
export class ElasticEmailAdapter implements ProviderAdapter {
  readonly provider = DeliveryProvider.ELASTIC_EMAIL;

  constructor(private readonly config: ProvidersConfig) {}

  async send(server: ProviderServer, message: OutgoingMessage): Promise<SendResult> {
    const headers: Record<string, string> = {};
    for (const h of message.headers ?? []) headers[h.name] = h.value;
    if (message.messageId) headers['Message-ID'] = message.messageId;

    const body: { ContentType: string; Content: string; Charset: string }[] = [];
    if (message.text) body.push({ ContentType: 'PlainText', Content: message.text, Charset: 'utf-8' });
    if (message.html) body.push({ ContentType: 'HTML', Content: message.html, Charset: 'utf-8' });

    const content: Record<string, unknown> = { From: message.from, Subject: message.subject, Body: body };
    if (message.replyTo) content.ReplyTo = message.replyTo;
    if (Object.keys(headers).length) content.Headers = headers;

    const res = await this.call(server, 'send', 'POST', '/emails/transactional', {
      Recipients: { To: [message.to] },
      Content: content,
    });
    const json = record(res.json);
    // MessageID is what notifications carry per recipient (`messageid`); TransactionID is the batch.
    const id = pickString(json, 'MessageID') ?? pickString(json, 'TransactionID');
    if (!id) {
      throw new DeliveryError({
        code: DeliveryErrorCode.PROVIDER_ERROR,
        message: 'Elastic Email accepted the message but returned no message id',
        transient: false,
        transport: TransportKind.API,
        providerStatus: res.status,
      });
    }
    return { transport: TransportKind.API, providerMessageId: id, from: message.from };
  }

  /**
   * v4 has no account endpoint; GET /domains is the cheapest call (ViewSettings). A 403 that
   * does not call the key wrong means "known key without that access level" (PROVIDERS.md
   * §5.3 — that status split is unconfirmed), which is still a key that can send.
   */
  async verifyCredentials(server: ProviderServer): Promise<void> {
    const res = await this.call(server, 'account', 'GET', '/domains', undefined, [403]);
    if (res.status === 403 && BAD_KEY.test(readElasticEmailError(res.json, res.text).toLowerCase())) {
      throw this.classify(server, res, 'account');
    }
  }

  async checkSender(server: ProviderServer, address: string): Promise<SenderCheck> {
    const domain = domainOf(address);
    if (!domain) return { verified: false, reason: `"${address}" is not an email address` };
    const res = await this.call(server, 'domain', 'GET', `/domains/${encodeURIComponent(domain)}`, undefined, [400, 404]);
    if (res.status === 400 || res.status === 404) {
      // Unknown domains are answered 404, or 400 with a "not found" text (unconfirmed): both mean "not added".
      const said = readElasticEmailError(res.json, res.text);
      if (res.status === 400 && !/not found|does not exist|no such|unknown/i.test(said)) {
        throw this.classify(server, res, 'domain');
      }
      return {
        verified: false,
        reason: `domain ${domain} is not added at Elastic Email; add it under Settings → Domains and publish its SPF and DKIM records`,
      };
    }
    return judgeDomain(domain, record(res.json));
  }

  /**
   * Elastic Email signs nothing, so the URL carries a secret we generate. The newer
   * `/v4/webhook` API is used where the account has it (found again by our URL, so a retry
   * updates rather than duplicates); otherwise NOT_SUPPORTED with the dashboard step, and the
   * secret URL is still returned so the customer can paste it. Never throws for provider refusals.
   *
   * `previous` is the state the last registration stored: its secret is reused, because the URL
   * at the provider (or pasted in the dashboard) still carries it, and a registration that fails
   * or is not supported cannot replace it there. A secret is generated only when there is none.
   */
  async registerWebhooks(server: ProviderServer, url: string, previous: Record<string, string> = {}): Promise<WebhookRegistrationResult> {
    const secret = previous.secret || randomBytes(24).toString('base64url');
    const hookUrl = `${url}${url.includes('?') ? '&' : '?'}secret=${secret}`;
    const result = (status: WebhookStatus, error: string | null, state: Record<string, string>) => ({
      status,
      url: hookUrl,
      events: [...EE_WEBHOOK_EVENTS],
      error,
      state,
    });
    const payload = {
      Name: `mailroute-${server.id.slice(0, 8)}`,
      URL: hookUrl,
      NotifyOncePerEmail: false,
      NotificationForSent: true,
      NotificationForOpened: false,
      NotificationForClicked: false,
      NotificationForUnsubscribed: false,
      NotificationForAbuseReport: true,
      NotificationForError: true,
    };
    try {
      const list = await this.call(server, 'webhooks', 'GET', '/webhook', undefined, [403, 404, 405]);
      if (list.status !== 200) return result(WebhookStatus.NOT_SUPPORTED, manualStep(hookUrl, list.status), { secret });
      const existing = asArray(list.json).map(record).find((w) => sameBase(pickString(w, 'URL'), url));
      const existingId = existing && pickString(existing, 'WebhookID');
      let webhookId: string | undefined;
      if (existingId) {
        await this.call(server, 'webhooks', 'PUT', `/webhook/${encodeURIComponent(existingId)}`, { ...payload, IsEnabled: true });
        webhookId = existingId;
      } else {
        const res = await this.call(server, 'webhooks', 'POST', '/webhook', payload, [403, 404, 405]);
        if (res.status >= 400) return result(WebhookStatus.NOT_SUPPORTED, manualStep(hookUrl, res.status), { secret });
        // The create response is unconfirmed (probably the Webhook); fall back to listing.
        webhookId = pickString(record(res.json), 'WebhookID') ?? (await this.findWebhookId(server, hookUrl));
      }
      return result(WebhookStatus.REGISTERED, null, webhookId ? { secret, webhookId } : { secret });
    } catch (err) {
      if (!(err instanceof DeliveryError)) throw err;
      return result(WebhookStatus.FAILED, withoutSecret(err.message, secret), { secret });
    }
  }

  /** Deletes only our webhook (by id, else by our URL); manual registrations are the customer's to remove. */
  async removeWebhooks(server: ProviderServer, registration: WebhookRegistrationResult): Promise<void> {
    if (registration.status === WebhookStatus.NOT_SUPPORTED) return;
    const id =
      registration.state?.webhookId ?? (registration.url ? await this.findWebhookId(server, registration.url) : undefined);
    if (!id) return;
    await this.call(server, 'webhooks', 'DELETE', `/webhook/${encodeURIComponent(id)}`, undefined, [404]);
  }

  /**
   * Authenticity is the secret in the URL (constant-time compare). Classic notifications are
   * GET with query parameters; whether `/v4/webhook` ones POST JSON or a form is unconfirmed,
   * so all three are read. AUTH_FAILED (→ 401) on a bad secret, MESSAGE_REJECTED (→ 400) for a JSON
   * body that does not parse; a notification without a status (the dashboard's URL check) yields nothing.
   */
  async parseWebhook(
    _server: ProviderServer,
    request: IncomingWebhookRequest,
    state: Record<string, string>,
  ): Promise<ParsedWebhookEvent[]> {
    const query = new URL(request.url, 'http://webhook.local').searchParams;
    if (!secretMatches(query.get('secret'), state.secret)) {
      throw new DeliveryError({
        code: DeliveryErrorCode.AUTH_FAILED,
        message: 'Elastic Email notification secret is missing or wrong',
        transient: false,
        transport: TransportKind.API,
      });
    }
    return notificationsOf(query, request.rawBody).flatMap((n) => {
      const event = toEvent(n);
      return event ? [event] : [];
    });
  }

  private async findWebhookId(server: ProviderServer, url: string): Promise<string | undefined> {
    const res = await this.call(server, 'webhooks', 'GET', '/webhook', undefined, [404]);
    const match = asArray(res.json).map(record).find((w) => sameBase(pickString(w, 'URL'), url));
    return match && pickString(match, 'WebhookID');
  }

  /** One API call; non-2xx (or a 200 saying success:false) becomes a classified DeliveryError. */
  private async call(
    server: ProviderServer,
    op: ElasticEmailOperation,
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
    accept: number[] = [],
  ): Promise<HttpResponse> {
    const apiKey = requireApiKey(server, 'elasticEmail', 'Elastic Email');
    const res = await httpRequest({
        method,
        url: `${this.baseUrl()}${path}`,
        headers: { 'X-ElasticEmail-ApiKey': apiKey },
        body,
        timeoutMs: this.config.httpTimeoutMs,
    });
    const ok = res.status >= 200 && res.status < 300 && !isSoftFailure(res.json);
    if (ok || accept.includes(res.status)) return res;
    throw this.classify(server, res, op);
  }

  private classify(server: ProviderServer, res: HttpResponse, op: ElasticEmailOperation): DeliveryError {
    return classifyElasticEmailError(
      { status: res.status, json: res.json, text: res.text, retryAfter: res.headers.get('retry-after') },
      op,
      server.credentials.elasticEmail?.apiKey ?? undefined,
    );
  }

  private baseUrl(): string {
    const override = this.config.elasticEmailApiUrl?.replace(/\/+$/, '');
    if (!override) return API;
    return /\/v4$/.test(override) ? override : `${override}/v4`;
  }
}

/**
 * Sendable ⇔ SPF and DKIM valid and not explicitly unverified (PROVIDERS.md §5.3; the exact
 * rule is unconfirmed). Fields are read case-insensitively and accept "true"/"Valid" strings.
 */
function judgeDomain(domain: string, detail: Record<string, unknown>): SenderCheck {
  const spf = yes(pick(detail, 'Spf'));
  const dkim = yes(pick(detail, 'Dkim'));
  const verifyField = pick(detail, 'Verify');
  const explicitlyUnverified = verifyField !== undefined && verifyField !== null && !yes(verifyField);
  if (spf && dkim && !explicitlyUnverified) return { verified: true };
  const missing = [!spf && 'SPF', !dkim && 'DKIM', explicitlyUnverified && spf && dkim && 'domain verification']
    .filter(Boolean)
    .join(' and ');
  return {
    verified: false,
    reason: `domain ${domain} is not verified at Elastic Email (${missing} not valid yet); publish the records shown under Settings → Domains and re-verify`,
  };
}

function pick(r: Record<string, unknown>, name: string): unknown {
  const key = Object.keys(r).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : r[key];
}

function pickString(r: Record<string, unknown>, name: string): string | undefined {
  const v = pick(r, name);
  return typeof v === 'string' && v ? v : typeof v === 'number' ? String(v) : undefined;
}

function yes(v: unknown): boolean {
  return v === true || (typeof v === 'string' && /^(true|valid|verified|ok)$/i.test(v));
}






function manualStep(hookUrl: string, status: number): string {
  const why =
    status === 403
      ? 'the API key lacks the ModifyWebNotifications access level'
      : 'this Elastic Email account does not offer the webhook API';
  return (
    `Automatic registration is not possible (${why}). In the Elastic Email dashboard open ` +
    `Settings → Notifications → HTTP Web Notification, set the Notification URL to ${hookUrl}, ` +
    'tick Sent, Bounce/Error and Complaints under "Notify On", and save ' +
    '(Elastic Email offers this on Marketing PRO / Email API PRO plans).'
  );
}

/**
 * A provider error may echo the URL we sent (possibly cut short): neither the secret nor any
 * `secret=` value may land in the error that is stored and shown.
 */
function withoutSecret(text: string, secret: string): string {
  return text.split(secret).join('[redacted]').replace(/([?&]secret=)[^&#\s)"'<>]*/gi, '$1[redacted]');
}

/** Same endpoint ignoring the query string (where our secret lives: an older webhook of ours may carry another). */
function sameBase(candidate: string | undefined, url: string): boolean {
  if (!candidate) return false;
  return candidate.split('?')[0] === url.split('?')[0];
}

function secretMatches(given: string | null, expected: string | undefined): boolean {
  if (!given || !expected) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** One notification's fields, from the query (GET) or a JSON / form body (POST). */
function notificationsOf(query: URLSearchParams, rawBody: Buffer): Record<string, string>[] {
  const fromQuery = Object.fromEntries([...query].filter(([k]) => k !== 'secret'));
  const body = rawBody.toString('utf8').trim();
  if (!body) return [fromQuery];
  if (body.startsWith('{') || body.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw malformed();
    }
    return (Array.isArray(parsed) ? parsed : [parsed]).map((item) => {
      const flat: Record<string, string> = {};
      for (const [k, v] of Object.entries(record(item))) {
        if (typeof v === 'string' || typeof v === 'number') flat[k] = String(v);
      }
      return flat;
    });
  }
  return [Object.fromEntries(new URLSearchParams(body))];
}

function toEvent(n: Record<string, string>): ParsedWebhookEvent | null {
  const get = (name: string) => {
    const key = Object.keys(n).find((k) => k.toLowerCase() === name);
    return key === undefined ? undefined : n[key] || undefined;
  };
  const status = get('status')?.toLowerCase();
  // No status, no event: Elastic Email's dashboard checks the notification URL with a bare GET
  // (only our secret) and wants a 200 back (PROVIDERS.md §5.4), so there is nothing to refuse.
  if (!status) return null;
  const category = get('category')?.toLowerCase() ?? '';
  let kind: ParsedWebhookEvent['kind'];
  if (status === 'sent') kind = 'DELIVERED';
  else if (status === 'abusereport') kind = 'COMPLAINT';
  else if (status === 'error') {
    if (IGNORED_CATEGORIES.has(category)) return null;
    kind = HARD_CATEGORIES.has(category) ? 'HARD_BOUNCE' : REJECT_CATEGORIES.has(category) ? 'REJECTED' : 'SOFT_BOUNCE';
  } else return null; // Opened, Clicked, Unsubscribed: not delivery outcomes
  const fields = ['transaction', 'messageid', 'to', 'status', 'category', 'date'].map((f) => get(f) ?? '');
  return {
    kind,
    // Notifications carry no event id: a hash of what identifies the event dedupes retries.
    eventId: createHash('sha256').update(fields.join('\n')).digest('hex'),
    providerMessageId: get('messageid') ?? get('transaction') ?? null,
    recipient: get('to') ?? null,
    occurredAt: parseEeDate(get('date')),
    detail: get('category'),
  };
}

/** The .NET-style forms, with a 12- or 24-hour clock, with or without seconds. */
const US_FORMATS = ['M/d/yyyy h:mm:ss a', 'M/d/yyyy h:mm a', 'M/d/yyyy H:mm:ss', 'M/d/yyyy H:mm'];

/**
 * The notification's `date`, which the docs give in UTC without saying its format. Forms without
 * a zone ("2024-01-02 10:11:12", the .NET-style "1/2/2024 10:11:12 AM") are read as UTC (Date.parse
 * would read them in the server's own zone); an ISO form naming its offset keeps it. What cannot
 * be read, an impossible date included, is "now".
 */
export function parseEeDate(value: string | undefined): Date {
  const text = value?.trim();
  if (!text) return new Date();
  const iso = DateTime.fromISO(text.replace(' ', 'T'), { zone: 'utc' });
  if (iso.isValid) return iso.toJSDate();
  for (const format of US_FORMATS) {
    const at = DateTime.fromFormat(text, format, { zone: 'utc', locale: 'en-US' });
    if (at.isValid) return at.toJSDate();
  }
  return new Date();
}

function malformed(): DeliveryError {
  return new DeliveryError({
    code: DeliveryErrorCode.MESSAGE_REJECTED,
    message: 'The Elastic Email notification body is not valid JSON',
    transient: false,
    transport: TransportKind.API,
  });
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
