import { DeliveryError } from '../delivery-error';
import { DeliveryErrorCode, TransportKind } from '../provider.enums';
import type { ApiKeyCredentials, ProviderServer } from '../provider.types';

/** The API key of an API-key provider's block, or AUTH_FAILED when the server has none. */
export function requireApiKey(server: ProviderServer, block: 'sendgrid' | 'sparkpost' | 'elasticEmail', providerName: string): string {
  const key = (server.credentials[block] as ApiKeyCredentials | null | undefined)?.apiKey;
  if (!key) {
    throw new DeliveryError({
      code: DeliveryErrorCode.AUTH_FAILED,
      message: `No ${providerName} API key is configured for this delivery server`,
      transient: false,
      transport: TransportKind.API,
    });
  }
  return key;
}

/** The lower-cased domain of "a@b.example" or "Name <a@b.example>", or null. */
export function domainOf(address: string): string | null {
  const m = /<([^>]+)>/.exec(address);
  const email = (m ? m[1] : address).trim();
  const at = email.lastIndexOf('@');
  return at > 0 && at < email.length - 1 ? email.slice(at + 1).toLowerCase() : null;
}

/** A JSON object value, or an empty one for anything else. */
export function record(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/**
 * A provider reply with the server's own secret (its API key) cut out, in case the reply echoes
 * it. Scrub before shortening: a cut through the secret would leave part of it.
 */
export function scrub(message: string, secret?: string): string {
  return secret ? message.split(secret).join('[redacted]') : message;
}
