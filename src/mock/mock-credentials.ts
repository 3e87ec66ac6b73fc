import { badInput } from './mock-errors';
import type { DeliveryProvider, ServerRecord } from './mock-records';
import type { InputChecks } from './mock-validation';

export interface SmtpCredentialsInput {
  host: string;
  port: number;
  security: 'NONE' | 'STARTTLS' | 'TLS';
  username?: string | null;
  password?: string | null;
}

export interface ApiKeyCredentialsInput {
  apiKey: string;
  region?: string | null;
}

export interface ServerCredentialsInput {
  smtp?: SmtpCredentialsInput | null;
  ses?: { accessKeyId: string; secretAccessKey: string; region: string; configurationSetName?: string | null } | null;
  sendgrid?: ApiKeyCredentialsInput | null;
  mailgun?: { apiKey: string; domain: string; region?: string | null; webhookSigningKey?: string | null } | null;
  sparkpost?: ApiKeyCredentialsInput | null;
  elasticEmail?: ApiKeyCredentialsInput | null;
}

type ApiBlock = Exclude<keyof ServerCredentialsInput, 'smtp'>;

const API_BLOCK: Record<DeliveryProvider, ApiBlock | null> = { SMTP: null, AMAZON_SES: 'ses', SENDGRID: 'sendgrid', MAILGUN: 'mailgun', SPARKPOST: 'sparkpost', ELASTIC_EMAIL: 'elasticEmail' };
const REGIONS: Partial<Record<ApiBlock, string[]>> = { sendgrid: ['GLOBAL', 'EU'], sparkpost: ['US', 'EU'], mailgun: ['US', 'EU'] };

type Summary = Pick<ServerRecord, 'api' | 'smtp'>;

/** What the API shows of SMTP credentials: never the password. `path` names the block in errors. */
export function smtpSummary(path: string, smtp: SmtpCredentialsInput): NonNullable<ServerRecord['smtp']> {
  if (!smtp.host.trim()) throw badInput(`${path}.host`, 'must be a host name such as "smtp.example.com"');
  if (!Number.isInteger(smtp.port) || smtp.port < 1 || smtp.port > 65535) throw badInput(`${path}.port`, 'must be between 1 and 65535');
  return { host: smtp.host.trim().toLowerCase(), port: smtp.port, security: smtp.security, username: smtp.username ?? null };
}

/** A secret is never returned: only its last four characters. `block` names the input block in errors. */
export function apiSummary(block: string, keyField: string, key: string, region: string | null | undefined, regions?: string[]): NonNullable<ServerRecord['api']> {
  if (key.trim().length < 8) throw badInput(`${block}.${keyField}`, 'must be the key the provider issued');
  if (region && regions && !regions.includes(region)) throw badInput(`${block}.region`, `must be one of ${regions.join(', ')}`);
  return { keyHint: `…${key.trim().slice(-4)}`, region: region ?? null };
}

/**
 * Exactly the provider's own API block may be set, plus smtp (CONTRACT.md): checks the
 * credentials of a delivery server and returns their summaries, reporting problems to `checks`.
 */
export function credentialSummary(provider: DeliveryProvider, credentials: ServerCredentialsInput, checks: InputChecks): Summary {
  const own = API_BLOCK[provider];
  for (const block of Object.keys(credentials) as (keyof ServerCredentialsInput)[]) {
    if (credentials[block] && block !== 'smtp' && block !== own) checks.report(`credentials.${block}`, `does not apply to a ${provider} server`);
  }
  const smtp = credentials.smtp ? checks.run(() => smtpSummary('credentials.smtp', credentials.smtp as SmtpCredentialsInput), null) : null;
  if (!own) {
    if (!credentials.smtp) checks.report('credentials.smtp', 'is required for an SMTP server');
    return { api: null, smtp };
  }
  const block = credentials[own];
  if (!block) {
    checks.report(`credentials.${own}`, `is required for a ${provider} server`);
    return { api: null, smtp };
  }
  const [keyField, key] = 'apiKey' in block ? ['apiKey', block.apiKey] : ['secretAccessKey', block.secretAccessKey];
  return { api: checks.run(() => apiSummary(`credentials.${own}`, keyField, key, block.region, REGIONS[own]), null), smtp };
}
