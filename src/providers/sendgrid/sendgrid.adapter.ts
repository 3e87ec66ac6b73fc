import { Client } from '@sendgrid/client';
import { MailService } from '@sendgrid/mail';
import { DeliveryError } from '../delivery-error';
import { DeliveryErrorCode, DeliveryProvider, TransportKind } from '../provider.enums';
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
      const [response] = await mail.send({
        from: message.from,
        to: message.to,
        subject: message.subject,
        // The helper rejects an empty content array, so only pass the parts we have.
        ...(message.text ? { text: message.text } : {}),
        ...(message.html ? { html: message.html } : {}),
        ...(message.replyTo ? { replyTo: message.replyTo } : {}),
        ...(Object.keys(headers).length ? { headers } : {}),
      } as Parameters<MailService['send']>[0]);
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
      // Single Sender Verification: an exact, verified from_email.
      const [, sendersBody] = await client.request({ method: 'GET', url: '/v3/verified_senders', qs: { limit: 100 } });
      const senders = isRecord(sendersBody) && Array.isArray(sendersBody.results) ? sendersBody.results.filter(isRecord) : [];
      const sender = senders.find((s) => typeof s.from_email === 'string' && s.from_email.toLowerCase() === email);
      if (sender?.verified === true) return { verified: true };

      // Domain Authentication: the address's domain authenticated and valid.
      const [, domainsBody] = await client.request({ method: 'GET', url: '/v3/whitelabel/domains', qs: { domain } });
      const domains = Array.isArray(domainsBody) ? domainsBody.filter(isRecord) : [];
      const match = domains.filter((d) => typeof d.domain === 'string' && d.domain.toLowerCase() === domain);
      if (match.some((d) => d.valid === true)) return { verified: true };

      if (match.length) return { verified: false, reason: `domain ${domain} is pending verification at SendGrid` };
      if (sender) return { verified: false, reason: `sender ${email} has not been confirmed at SendGrid yet` };
      return {
        verified: false,
        reason: `${email} is not a verified sender and ${domain} is not an authenticated domain at SendGrid`,
      };
    } catch (err) {
      throw sendGridErrorFrom(err, secrets);
    }
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
    const base = this.config.sendgridApiUrl ?? (creds.region?.toUpperCase() === 'EU' ? EU_BASE_URL : GLOBAL_BASE_URL);
    client.setDefaultRequest('baseUrl', base);
    const mail = new MailService();
    mail.setClient(client);
    // The typed way to set the axios timeout on this client (also used by client.request).
    mail.setTimeout(this.config.httpTimeoutMs);
    return { client, mail, secrets: [creds.apiKey] };
  }
}

function notImplemented(what: string): DeliveryError {
  return new DeliveryError({
    code: DeliveryErrorCode.PROVIDER_ERROR,
    message: `SendGrid ${what} is not implemented yet`,
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
