import { DeliveryError } from '../delivery-error';
import { DeliveryErrorCode, DeliveryProvider, TransportKind } from '../provider.enums';
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
import { httpRequest, HttpResponse } from '../shared/http-client';
import { classifySparkPostError, SparkPostOperation } from './sparkpost-errors';

const US_API = 'https://api.sparkpost.com/api/v1';
const EU_API = 'https://api.eu.sparkpost.com/api/v1';

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

    const options: Record<string, unknown> = { transactional: true };
    if (server.ipPool) options.ip_pool = server.ipPool;

    const res = await this.call(server, 'send', 'POST', '/transmissions', {
      options,
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

  async registerWebhooks(_server: ProviderServer, _url: string): Promise<WebhookRegistrationResult> {
    throw notImplemented('webhook registration');
  }

  async removeWebhooks(_server: ProviderServer, _registration: WebhookRegistrationResult): Promise<void> {
    throw notImplemented('webhook removal');
  }

  async parseWebhook(
    _server: ProviderServer,
    _request: IncomingWebhookRequest,
    _state: Record<string, string>,
  ): Promise<ParsedWebhookEvent[]> {
    throw notImplemented('webhook parsing');
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
    const apiKey = apiKeyOf(server);
    const res = await withDeadline(this.config.httpTimeoutMs, () =>
      httpRequest({
        method,
        url: `${this.baseUrl(server)}${path}`,
        // SparkPost takes the raw key as the Authorization value, no scheme.
        headers: { authorization: apiKey },
        body,
        timeoutMs: this.config.httpTimeoutMs,
      }),
    );
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

/**
 * httpRequest recognises its abort by `err instanceof Error`, which is false when fetch's
 * DOMException comes from another realm (jest's vm context), so a time-out can come back as
 * CONNECTION_FAILED. A "connection failure" that arrives only once the deadline has passed
 * is the deadline: report it as TIMEOUT.
 */
async function withDeadline<T>(timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await fn();
  } catch (err) {
    if (err instanceof DeliveryError && err.code === DeliveryErrorCode.CONNECTION_FAILED && Date.now() - started >= timeoutMs) {
      throw new DeliveryError({
        ...err.toInit(),
        code: DeliveryErrorCode.TIMEOUT,
        message: `SparkPost did not answer within ${timeoutMs} ms`,
      });
    }
    throw err;
  }
}

function apiKeyOf(server: ProviderServer): string {
  const key = server.credentials.sparkpost?.apiKey;
  if (!key) {
    throw new DeliveryError({
      code: DeliveryErrorCode.AUTH_FAILED,
      message: 'No SparkPost API key is configured for this delivery server',
      transient: false,
      transport: TransportKind.API,
    });
  }
  return key;
}

/** "Name <a@b>" → {name, email}; SparkPost's documented object form avoids quoting surprises. */
function toAddress(value: string): { email: string; name?: string } {
  const m = /^\s*"?([^"<]*?)"?\s*<([^>]+)>\s*$/.exec(value);
  if (!m) return { email: value.trim() };
  return m[1] ? { email: m[2].trim(), name: m[1].trim() } : { email: m[2].trim() };
}

function domainOf(address: string): string | null {
  const email = toAddress(address).email;
  const at = email.lastIndexOf('@');
  return at > 0 && at < email.length - 1 ? email.slice(at + 1).toLowerCase() : null;
}

function record(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function notImplemented(what: string): DeliveryError {
  return new DeliveryError({
    code: DeliveryErrorCode.PROVIDER_ERROR,
    message: `SparkPost ${what} is not implemented yet`,
    transient: false,
    transport: TransportKind.API,
  });
}
