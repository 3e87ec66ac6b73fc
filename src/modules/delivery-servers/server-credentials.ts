import { isDeepStrictEqual } from 'node:util';
import { secretHint } from '../../infra/crypto/credentials-cipher';
import { BadUserInputError } from '../../infra/errors/domain-error';
import { DeliveryProvider, SmtpSecurity } from '../../providers/provider.enums';
import type { ServerCredentials, SmtpCredentials } from '../../providers/provider.types';
import type { CredentialSummary } from './delivery-server.entity';
import type { ServerCredentialsInput } from './dto/credentials.inputs';

type ApiBlock = 'ses' | 'sendgrid' | 'mailgun' | 'sparkpost' | 'elasticEmail';
const API_BLOCKS: ApiBlock[] = ['ses', 'sendgrid', 'mailgun', 'sparkpost', 'elasticEmail'];

/** Each provider's own API block; SMTP has none. Every provider here also offers an SMTP relay. */
export const API_BLOCK_OF: Record<DeliveryProvider, ApiBlock | null> = {
  [DeliveryProvider.SMTP]: null,
  [DeliveryProvider.AMAZON_SES]: 'ses',
  [DeliveryProvider.SENDGRID]: 'sendgrid',
  [DeliveryProvider.MAILGUN]: 'mailgun',
  [DeliveryProvider.SPARKPOST]: 'sparkpost',
  [DeliveryProvider.ELASTIC_EMAIL]: 'elasticEmail',
};

/** Region values per provider (null: the provider takes none). */
const REGIONS: Record<Exclude<ApiBlock, 'ses'>, string[] | null> = {
  sendgrid: ['GLOBAL', 'EU'],
  mailgun: ['US', 'EU'],
  sparkpost: ['US', 'EU'],
  elasticEmail: null,
};

/**
 * Checks that the credentials fit the provider: no other provider's block, at least one usable
 * transport, regions the provider knows. `path` prefixes the field names in the error.
 */
export function assertCredentialsFit(provider: DeliveryProvider, creds: ServerCredentials, path = 'credentials'): void {
  const own = API_BLOCK_OF[provider];
  const problems: { field: string; message: string }[] = [];
  for (const block of API_BLOCKS) {
    if (block !== own && creds[block]) problems.push({ field: `${path}.${block}`, message: `${path}.${block} does not belong to a ${provider} server` });
  }
  if (!creds.smtp && !(own && creds[own])) {
    const field = own ? `${path}.${own}` : `${path}.smtp`;
    problems.push({ field, message: own ? `${provider} needs ${path}.${own} or ${path}.smtp` : `${provider} needs ${path}.smtp` });
  }
  for (const block of ['sendgrid', 'mailgun', 'sparkpost', 'elasticEmail'] as const) {
    const region = creds[block]?.region;
    if (block !== own || region === undefined || region === null) continue;
    const allowed = REGIONS[block];
    if (!allowed) problems.push({ field: `${path}.${block}.region`, message: `${path}.${block}.region must be left out: ${provider} has no regions` });
    else if (!allowed.includes(region)) problems.push({ field: `${path}.${block}.region`, message: `${path}.${block}.region must be one of ${allowed.join(', ')}` });
  }
  if (problems.length) throw new BadUserInputError(problems.map((p) => p.message).join('; '), problems.map((p) => p.field));
}

/** Plain credentials from the GraphQL input (drops nulls and class prototypes). */
export function credentialsFromInput(input: ServerCredentialsInput): ServerCredentials {
  return JSON.parse(JSON.stringify(input, (_k, v: unknown) => (v === null ? undefined : v))) as ServerCredentials;
}

/**
 * Applies an update: a block left out is kept, an explicit null removes it, and inside a block a
 * secret left out (SMTP password, Mailgun signing key) keeps the stored one (an explicit null
 * clears it); an SMTP password only
 * while it would go where it was given for (smtpPasswordStays), or whoever may edit the server
 * could point it at a host they run, send a test, and read the password there; a Mailgun signing
 * key only while the API key and region stay (signingKeyStays). `path` prefixes the field names
 * in the error.
 */
export function mergeCredentials(stored: ServerCredentials, update: ServerCredentialsInput, path = 'credentials'): ServerCredentials {
  const merged: ServerCredentials = { ...stored };
  const given = update as Record<string, unknown>;
  for (const block of ['smtp', ...API_BLOCKS] as const) {
    if (!(block in given) || given[block] === undefined) continue;
    if (given[block] === null) {
      delete merged[block];
      continue;
    }
    const next = credentialsFromInput({ [block]: given[block] } as ServerCredentialsInput)[block] as unknown as Record<string, unknown>;
    const previous = (stored[block] ?? {}) as Record<string, unknown>;
    const givenBlock = given[block] as Record<string, unknown>;
    for (const secret of ['password', 'webhookSigningKey']) {
      // Left out keeps the stored secret; an explicit null clears it (CONTRACT §4's null).
      if (next[secret] !== undefined || previous[secret] === undefined || givenBlock[secret] === null) continue;
      if (block === 'smtp' && !smtpPasswordStays(previous as unknown as SmtpCredentials, next as unknown as SmtpCredentials, path)) continue;
      if (block === 'mailgun' && !signingKeyStays(previous, next, given[block] as Record<string, unknown>, path)) continue;
      next[secret] = previous[secret];
    }
    // SES's configuration set (usually the one webhook registration created): sends must keep
    // naming it or SES publishes no bounce or complaint, so rotating the keys keeps it. A set (and
    // its SNS topic) exists in one region only, and in another every send naming it fails, so a
    // region change drops it. null removes it. Either way the registration that follows a change of
    // the block (DeliveryServersService.update) makes mailroute's own set where the keys point.
    if (block === 'ses' && givenBlock.configurationSetName === undefined && previous.configurationSetName != null && previous.region === next.region) {
      next.configurationSetName = previous.configurationSetName;
    }
    (merged as Record<string, unknown>)[block] = next;
  }
  return merged;
}

/**
 * Whether a Mailgun signing key stored with `previous` may stay: it belongs to the account the API
 * key opens, so yes while the API key and region stay. Otherwise the update must give it again,
 * or null (`given` says so) to have the registration that follows read the new account's key.
 */
function signingKeyStays(previous: Record<string, unknown>, next: Record<string, unknown>, given: Record<string, unknown>, path: string): boolean {
  if (previous.apiKey === next.apiKey && (previous.region ?? null) === (next.region ?? null)) return true;
  if (given.webhookSigningKey === null) return false;
  throw BadUserInputError.field(
    `${path}.mailgun.webhookSigningKey`,
    "must be given again because the API key or region changes (a signing key belongs to one Mailgun account), or null to use the new account's key",
  );
}

/**
 * Whether a password stored with `previous` may stay with `next`: yes when it goes to the same
 * host, port and username with no less protection; no (dropped) when `next` has no username;
 * otherwise the update must give it again.
 */
function smtpPasswordStays(previous: SmtpCredentials, next: SmtpCredentials, path: string): boolean {
  const moves: string[] = [];
  // Host names are case-insensitive; any other difference (even another spelling of one IP) counts.
  if (previous.host.toLowerCase() !== next.host.toLowerCase()) moves.push('the host changes');
  if (previous.port !== next.port) moves.push('the port changes');
  if ((previous.username ?? null) !== (next.username ?? null)) moves.push('the username changes');
  if (previous.security !== SmtpSecurity.NONE && next.security === SmtpSecurity.NONE) moves.push('security drops to NONE');
  if (!moves.length) return true;
  if (!next.username) return false;
  throw BadUserInputError.field(
    `${path}.smtp.password`,
    `must be given again because ${moves.join(' and ')}: a stored password is kept only while the host, port and username stay the same and security does not drop to NONE`,
  );
}

export const credentialsChanged = (a: ServerCredentials, b: ServerCredentials): boolean => !isDeepStrictEqual(normalise(a), normalise(b));
const normalise = (c: unknown): unknown => (c === undefined ? null : (JSON.parse(JSON.stringify(c)) as unknown));

/** Whether the provider's own API block differs between `a` and `b` (SMTP settings aside); false for SMTP servers. */
export function apiCredentialsChanged(provider: DeliveryProvider, a: ServerCredentials, b: ServerCredentials): boolean {
  const own = API_BLOCK_OF[provider];
  return own !== null && !isDeepStrictEqual(normalise(a[own] ?? null), normalise(b[own] ?? null));
}

/** What the API may show of credentials: host settings and a hint of the key, never a secret. */
export function summarize(provider: DeliveryProvider, creds: ServerCredentials): CredentialSummary {
  const own = API_BLOCK_OF[provider];
  const api = own ? creds[own] : null;
  const key = api ? ('apiKey' in api ? api.apiKey : api.accessKeyId) : null;
  return {
    api: api && key ? { keyHint: secretHint(key), region: api.region ?? null } : null,
    smtp: creds.smtp
      ? { host: creds.smtp.host, port: creds.smtp.port, security: creds.smtp.security, username: creds.smtp.username ?? null }
      : null,
  };
}
