import {
  GetAccountCommand,
  GetEmailIdentityCommand,
  SESv2Client,
  SendEmailCommand,
  type GetEmailIdentityCommandOutput,
  type MessageHeader,
} from '@aws-sdk/client-sesv2';
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
  SesCredentials,
  WebhookRegistrationResult,
} from '../provider.types';
import type { ProvidersConfig } from '../providers.config';
import { sesErrorFrom, type SesErrorContext } from './ses-errors';

/**
 * Amazon SES v2 through @aws-sdk/client-sesv2. Stateless: one client per call, destroyed
 * afterwards, so credentials of one delivery server never serve another.
 */
export class SesAdapter implements ProviderAdapter {
  readonly provider = DeliveryProvider.AMAZON_SES;

  constructor(private readonly config: ProvidersConfig) {}

  async send(server: ProviderServer, message: OutgoingMessage): Promise<SendResult> {
    const creds = credentialsOf(server);
    const headers: MessageHeader[] = (message.headers ?? []).map((h) => ({ Name: h.name, Value: h.value }));
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
    const out = await this.call(creds, (ses) => ses.send(command), message.from);
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
    await this.call(creds, (ses) => ses.send(new GetAccountCommand({})));
  }

  async checkSender(server: ProviderServer, address: string): Promise<SenderCheck> {
    const creds = credentialsOf(server);
    const email = bareAddress(address);
    const domain = email.split('@')[1] ?? '';
    const pending: string[] = [];
    // A From is sendable when either the address identity or its domain identity is verified.
    for (const identity of [email, domain].filter(Boolean)) {
      const out = await this.call(creds, async (ses) => {
        try {
          return await ses.send(new GetEmailIdentityCommand({ EmailIdentity: identity }));
        } catch (err) {
          if (isRecord(err) && err.name === 'NotFoundException') return null;
          throw err;
        }
      });
      if (!out) continue;
      if (isVerified(out)) return { verified: true };
      pending.push(`${identity === domain ? 'domain ' : ''}${identity} is ${describeStatus(out)}`);
    }
    const where = `in Amazon SES (${creds.region})`;
    return {
      verified: false,
      reason: pending.length
        ? `${pending.join('; ')} ${where}`
        : `neither ${email} nor the domain ${domain} is a verified identity ${where}`,
    };
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

  /** Run one SDK call on a fresh client; every failure leaves as a classified DeliveryError. */
  private async call<T>(creds: SesCredentials, fn: (ses: SESv2Client) => Promise<T>, from?: string): Promise<T> {
    const ctx: SesErrorContext = { secrets: [creds.secretAccessKey, creds.accessKeyId], from };
    const ses = new SESv2Client({
      region: creds.region,
      endpoint: this.config.sesEndpoint,
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
    });
    try {
      return await fn(ses);
    } catch (err) {
      throw sesErrorFrom(err, ctx);
    } finally {
      ses.destroy();
    }
  }
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
    default:
      return 'not verified for sending';
  }
}

function notImplemented(what: string): DeliveryError {
  return new DeliveryError({
    code: DeliveryErrorCode.PROVIDER_ERROR,
    message: `Amazon SES ${what} is not implemented yet`,
    transient: false,
    transport: TransportKind.API,
  });
}

function bareAddress(address: string): string {
  const m = /<([^>]+)>/.exec(address);
  return (m ? m[1] : address).trim().toLowerCase();
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}
