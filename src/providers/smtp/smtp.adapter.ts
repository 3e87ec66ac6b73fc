import { DeliveryError } from '../delivery-error';
import { DeliveryErrorCode, DeliveryProvider, TransportKind, WebhookStatus } from '../provider.enums';
import type {
  OutgoingMessage,
  ParsedWebhookEvent,
  ProviderAdapter,
  ProviderServer,
  SendResult,
  SenderCheck,
  SmtpCredentials,
  WebhookRegistrationResult,
} from '../provider.types';
import type { SmtpTransport } from './smtp-transport';

/**
 * A plain SMTP server (provider SMTP): everything goes through the shared SmtpTransport, so
 * pools and the outbound guard are the same ones the gateway uses for provider relays.
 */
export class SmtpAdapter implements ProviderAdapter {
  readonly provider = DeliveryProvider.SMTP;

  constructor(private readonly transport: SmtpTransport) {}

  async send(server: ProviderServer, message: OutgoingMessage): Promise<SendResult> {
    return this.transport.send(server.id, smtpCredentials(server), message);
  }

  async verifyCredentials(server: ProviderServer): Promise<void> {
    return this.transport.verify(smtpCredentials(server));
  }

  async checkSender(server: ProviderServer, address: string): Promise<SenderCheck> {
    return this.transport.checkSender(smtpCredentials(server), address);
  }

  registerWebhooks(): Promise<WebhookRegistrationResult> {
    return Promise.resolve({
      status: WebhookStatus.NOT_SUPPORTED,
      url: null,
      events: [],
      error: 'Bounces for a plain SMTP server come back by DSN to the return path; webhook registration does not apply.',
    });
  }

  /** Nothing was registered, so there is nothing to remove. */
  removeWebhooks(): Promise<void> {
    return Promise.resolve();
  }

  parseWebhook(): Promise<ParsedWebhookEvent[]> {
    return Promise.reject(
      new DeliveryError({
        code: DeliveryErrorCode.PROVIDER_ERROR,
        transient: false,
        transport: TransportKind.SMTP,
        message: 'A plain SMTP server has no webhooks; bounces arrive by DSN to the return path.',
      }),
    );
  }
}

/** The server's SMTP block, or a clear error when a provider-SMTP server has none. */
export function smtpCredentials(server: ProviderServer): SmtpCredentials {
  const smtp = server.credentials.smtp;
  if (!smtp) {
    throw new DeliveryError({
      code: DeliveryErrorCode.AUTH_FAILED,
      transient: false,
      transport: TransportKind.SMTP,
      message: `Delivery server ${server.id} has no SMTP settings`,
    });
  }
  return smtp;
}
