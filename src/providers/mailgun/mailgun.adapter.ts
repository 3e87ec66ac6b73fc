import FormData from 'form-data';
import Mailgun from 'mailgun.js';
import type { MailgunMessageData } from 'mailgun.js/definitions';
import { DeliveryError } from '../delivery-error';
import { DeliveryErrorCode, DeliveryProvider, TransportKind } from '../provider.enums';
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

  private async call<T>(creds: MailgunCredentials, fn: (mg: MailgunClient) => Promise<T>): Promise<T> {
    const mg = new Mailgun(FormData).client({
      username: 'api',
      key: creds.apiKey,
      url: this.config.mailgunApiUrl ?? (creds.region?.toUpperCase() === 'EU' ? EU_BASE_URL : US_BASE_URL),
      timeout: this.config.httpTimeoutMs,
    });
    try {
      return await fn(mg);
    } catch (err) {
      throw mailgunErrorFrom(err, [creds.apiKey, creds.webhookSigningKey ?? '']);
    }
  }
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

function notImplemented(what: string): DeliveryError {
  return new DeliveryError({
    code: DeliveryErrorCode.PROVIDER_ERROR,
    message: `Mailgun ${what} is not implemented yet`,
    transient: false,
    transport: TransportKind.API,
  });
}

function stripBrackets(id: string): string {
  return id.replace(/^<|>$/g, '');
}

function bareAddress(address: string): string {
  const m = /<([^>]+)>/.exec(address);
  return (m ? m[1] : address).trim().toLowerCase();
}
