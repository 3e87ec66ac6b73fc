import { Logger } from '@nestjs/common';
import { storableOrNull } from '../infra/database/storable-text';
import { logUnexpected } from '../infra/errors/unexpected-error';
import { DeliveryError } from './delivery-error';
import { DeliveryErrorCode, DeliveryProvider, TransportKind } from './provider.enums';
import type { MessageHeader, OutgoingMessage, ProviderAdapter, ProviderServer, SendResult, SenderCheck } from './provider.types';
import { SmtpAdapter, smtpCredentials } from './smtp/smtp.adapter';
import type { SmtpTransport } from './smtp/smtp-transport';

export interface GatewaySendOptions {
  /** Use only this transport (e.g. a test send "via SMTP"); no fallback. */
  only?: TransportKind;
}

const MSYS_HEADER = 'X-MSYS-API';

/** Whether the server carries its provider's own API credentials (not just an SMTP relay). */
function hasApiCredentials(server: ProviderServer): boolean {
  const c = server.credentials;
  switch (server.provider) {
    case DeliveryProvider.AMAZON_SES:
      return Boolean(c.ses);
    case DeliveryProvider.SENDGRID:
      return Boolean(c.sendgrid);
    case DeliveryProvider.MAILGUN:
      return Boolean(c.mailgun);
    case DeliveryProvider.SPARKPOST:
      return Boolean(c.sparkpost);
    case DeliveryProvider.ELASTIC_EMAIL:
      return Boolean(c.elasticEmail);
    case DeliveryProvider.SMTP:
      return false;
  }
}

/** The bare address of "Name <a@b>" or "a@b", lower-cased, for comparing senders. */
function bareAddress(value: string): string {
  const angle = /<([^>]+)>\s*$/.exec(value);
  return (angle ? angle[1] : value).trim().toLowerCase();
}

/**
 * A forced sender replaces From; the original From becomes Reply-To (unless one was set) so
 * replies still reach the author.
 */
export function applySenderAddress(server: ProviderServer, message: OutgoingMessage): OutgoingMessage {
  const forced = server.senderAddress?.trim();
  if (!forced || bareAddress(forced) === bareAddress(message.from)) return message;
  return { ...message, from: forced, replyTo: message.replyTo || message.from };
}

/**
 * SparkPost reads per-message options over SMTP from one JSON header (PROVIDERS.md §4.6):
 * put the pool in it, keeping any options the caller already set there.
 */
export function sparkPostSmtpHeaders(server: ProviderServer, message: OutgoingMessage): { message: OutgoingMessage; extra: MessageHeader[] } {
  if (server.provider !== DeliveryProvider.SPARKPOST || !server.ipPool) return { message, extra: [] };
  const own = (message.headers ?? []).filter((h) => h.name.toLowerCase() === MSYS_HEADER.toLowerCase());
  let api: Record<string, unknown> = {};
  try {
    const parsed: unknown = own.length ? JSON.parse(own[own.length - 1].value) : {};
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) api = parsed as Record<string, unknown>;
  } catch {
    // An unreadable header would be rejected by SparkPost anyway; the pool wins.
  }
  const options = api.options && typeof api.options === 'object' ? (api.options as Record<string, unknown>) : {};
  const value = JSON.stringify({ ...api, options: { ...options, ip_pool: server.ipPool } });
  const headers = (message.headers ?? []).filter((h) => !own.includes(h));
  return { message: { ...message, headers }, extra: [{ name: MSYS_HEADER, value }] };
}

/**
 * SES publishes events (bounces, complaints: the webhooks) only for sends that name a
 * configuration set; over SMTP that is a header (PROVIDERS.md §1.8), as the API send names it.
 * Without it, mail sent over the SMTP fallback would bounce and complain unseen.
 */
export function sesSmtpHeaders(server: ProviderServer): MessageHeader[] {
  const set = server.provider === DeliveryProvider.AMAZON_SES ? server.credentials.ses?.configurationSetName : null;
  return set ? [{ name: 'X-SES-CONFIGURATION-SET', value: set }] : [];
}

const logger = new Logger('ProviderGateway');

function asDeliveryError(err: unknown, transport: TransportKind): DeliveryError {
  if (err instanceof DeliveryError) return err.transport === transport ? err : err.withTransport(transport);
  // An adapter must classify its errors; if one leaks a raw error, its text is logged, not shown
  // (it may hold request data), and the id that finds it in the log is.
  const errorId = logUnexpected(logger, `Unexpected failure in the ${transport} transport`, err);
  return new DeliveryError({
    code: DeliveryErrorCode.PROVIDER_ERROR,
    transient: true,
    transport,
    message: `Unexpected failure in the ${transport} transport (error id ${errorId})`,
  });
}

/**
 * Chooses the transport for each call: the provider's API first when its credentials are
 * present, then its SMTP relay. A send falls back to SMTP only when the API failed for its
 * own reasons (DeliveryError.isServerSide), never when the recipient or content was refused.
 */
export class ProviderGateway {
  private readonly adapters = new Map<DeliveryProvider, ProviderAdapter>();

  constructor(
    adapters: ProviderAdapter[],
    private readonly smtp: SmtpTransport,
  ) {
    for (const adapter of adapters) this.adapters.set(adapter.provider, adapter);
    // Provider SMTP needs no configuration of its own: it is the shared transport.
    if (!this.adapters.has(DeliveryProvider.SMTP)) this.adapters.set(DeliveryProvider.SMTP, new SmtpAdapter(smtp));
  }

  adapterFor(provider: DeliveryProvider): ProviderAdapter {
    const adapter = this.adapters.get(provider);
    if (!adapter) {
      throw new DeliveryError({ code: DeliveryErrorCode.NO_ROUTE, transient: false, message: `No adapter is configured for ${provider}` });
    }
    return adapter;
  }

  /** The transports this server can use, in the order they are tried. */
  transportsFor(server: ProviderServer): TransportKind[] {
    const transports: TransportKind[] = [];
    if (hasApiCredentials(server)) transports.push(TransportKind.API);
    if (server.credentials.smtp) transports.push(TransportKind.SMTP);
    return transports;
  }

  async send(server: ProviderServer, message: OutgoingMessage, options: GatewaySendOptions = {}): Promise<SendResult> {
    const prepared = applySenderAddress(server, message);
    let last: DeliveryError | undefined;
    const tried: DeliveryError[] = [];
    for (const transport of this.usable(server, options.only)) {
      try {
        const result = transport === TransportKind.API ? await this.adapterFor(server.provider).send(server, prepared) : await this.sendSmtp(server, prepared);
        return { ...result, providerMessageId: storableOrNull(result.providerMessageId), transport, from: prepared.from };
      } catch (err) {
        // A copy: the same error object can reach several sends at once (a shared SMTP pool's
        // failed DNS lookup), and each send's earlier failures are its own.
        const failure = asDeliveryError(err, transport);
        last = tried.length ? new DeliveryError({ ...failure.toInit(), earlier: [...tried] }) : failure;
        tried.push(last);
        if (!last.isServerSide) throw last;
      }
    }
    // usable() never returns an empty list, so a failure was recorded.
    throw last as DeliveryError;
  }

  /** Prove every configured transport (or only one) works; resolves with the ones checked. */
  async verifyCredentials(server: ProviderServer, only?: TransportKind): Promise<TransportKind[]> {
    const transports = this.usable(server, only);
    for (const transport of transports) {
      try {
        if (transport === TransportKind.API) await this.adapterFor(server.provider).verifyCredentials(server);
        else await this.smtp.verify(smtpCredentials(server));
      } catch (err) {
        throw asDeliveryError(err, transport);
      }
    }
    return transports;
  }

  /** Sender verification asks the API when there is one (it knows verified identities), else the SMTP server. */
  async checkSender(server: ProviderServer, address: string): Promise<SenderCheck> {
    const [transport] = this.usable(server);
    try {
      const check =
        transport === TransportKind.API ? await this.adapterFor(server.provider).checkSender(server, address) : await this.smtp.checkSender(smtpCredentials(server), address);
      return { ...check, reason: storableOrNull(check.reason) };
    } catch (err) {
      throw asDeliveryError(err, transport);
    }
  }

  /** Closes the SMTP pool kept for a server, for a one-off server (a probe) that will not send again. */
  async forget(serverId: string): Promise<void> {
    await this.smtp.close(serverId);
  }

  private sendSmtp(server: ProviderServer, message: OutgoingMessage): Promise<SendResult> {
    const { message: withoutOwn, extra } = sparkPostSmtpHeaders(server, message);
    return this.smtp.send(server.id, smtpCredentials(server), withoutOwn, [...extra, ...sesSmtpHeaders(server)]);
  }

  private usable(server: ProviderServer, only?: TransportKind): TransportKind[] {
    const transports = this.transportsFor(server).filter((t) => !only || t === only);
    if (transports.length === 0) {
      const what = only ? `${only} credentials` : 'API or SMTP credentials';
      throw new DeliveryError({
        code: DeliveryErrorCode.NO_ROUTE,
        transient: false,
        transport: only,
        message: `Delivery server ${server.id} (${server.provider}) has no ${what}`,
      });
    }
    return transports;
  }
}
