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
import {
  BAD_KEY,
  classifyElasticEmailError,
  ElasticEmailOperation,
  isSoftFailure,
  readElasticEmailError,
} from './elastic-email-errors';

const API = 'https://api.elasticemail.com/v4';

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

  /** One API call; non-2xx (or a 200 saying success:false) becomes a classified DeliveryError. */
  private async call(
    server: ProviderServer,
    op: ElasticEmailOperation,
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
    accept: number[] = [],
  ): Promise<HttpResponse> {
    const apiKey = apiKeyOf(server);
    const res = await withDeadline(this.config.httpTimeoutMs, () =>
      httpRequest({
        method,
        url: `${this.baseUrl()}${path}`,
        headers: { 'X-ElasticEmail-ApiKey': apiKey },
        body,
        timeoutMs: this.config.httpTimeoutMs,
      }),
    );
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
        message: `Elastic Email did not answer within ${timeoutMs} ms`,
      });
    }
    throw err;
  }
}

function apiKeyOf(server: ProviderServer): string {
  const key = server.credentials.elasticEmail?.apiKey;
  if (!key) {
    throw new DeliveryError({
      code: DeliveryErrorCode.AUTH_FAILED,
      message: 'No Elastic Email API key is configured for this delivery server',
      transient: false,
      transport: TransportKind.API,
    });
  }
  return key;
}

function domainOf(address: string): string | null {
  const m = /<([^>]+)>/.exec(address);
  const email = (m ? m[1] : address).trim();
  const at = email.lastIndexOf('@');
  return at > 0 && at < email.length - 1 ? email.slice(at + 1).toLowerCase() : null;
}

function record(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function notImplemented(what: string): DeliveryError {
  return new DeliveryError({
    code: DeliveryErrorCode.PROVIDER_ERROR,
    message: `Elastic Email ${what} is not implemented yet`,
    transient: false,
    transport: TransportKind.API,
  });
}
