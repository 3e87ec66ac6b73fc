import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { Repository } from 'typeorm';
import type { Viewer } from '../../infra/auth/viewer';
import { BadUserInputError, ConflictError, DomainError, ErrorCode } from '../../infra/errors/domain-error';
import { violatedUniqueIndex } from '../../infra/database/unique-violation';
import { DeliveryError } from '../../providers/delivery-error';
import { DeliveryErrorCode, DeliveryProvider, TransportKind } from '../../providers/provider.enums';
import { ProviderGateway } from '../../providers/provider-gateway';
import type { ProviderServer, ServerCredentials, SmtpCredentials } from '../../providers/provider.types';
import { Addon } from '../accounts/account.entity';
import { AccountsService } from '../accounts/accounts.service';
import { TenantScope } from '../accounts/tenant-scope.service';
import { DeliveryServerEntity, DeliveryServerStatus, ServerOrigin } from '../delivery-servers/delivery-server.entity';
import { DeliveryServersService } from '../delivery-servers/delivery-servers.service';
import { credentialsFromInput } from '../delivery-servers/server-credentials';
import { AddCustomSmtpInput, CustomSmtpProvider } from './custom-smtp.inputs';

const PROVIDER: Record<CustomSmtpProvider, DeliveryProvider> = {
  [CustomSmtpProvider.SENDGRID]: DeliveryProvider.SENDGRID,
  [CustomSmtpProvider.SPARKPOST]: DeliveryProvider.SPARKPOST,
  [CustomSmtpProvider.SMTP]: DeliveryProvider.SMTP,
};
/** Permanent refusals of the test email that mean the server will not send from the address. */
const TEST_REFUSED = new Set([DeliveryErrorCode.SENDER_NOT_VERIFIED, DeliveryErrorCode.RECIPIENT_REJECTED, DeliveryErrorCode.MESSAGE_REJECTED]);
const LABEL: Record<CustomSmtpProvider, string> = { SENDGRID: 'SendGrid', SPARKPOST: 'SparkPost', SMTP: 'Custom SMTP' };
const REGIONS: Partial<Record<CustomSmtpProvider, string[]>> = { SENDGRID: ['GLOBAL', 'EU'], SPARKPOST: ['US', 'EU'] };
/** The SMTP login each provider expects (PROVIDERS.md §6.4): the password is the API key. */
const SMTP_USERNAME: Partial<Record<CustomSmtpProvider, string>> = { SENDGRID: 'apikey', SPARKPOST: 'SMTP_Injection' };

/** One custom SMTP per owner and sending domain: the email's domain is the one taken. */
function domainTaken(domain: string): ConflictError {
  return ConflictError.field('email', `is on ${domain}, and this account already has a custom SMTP for ${domain}; update it or delete it first`);
}

/**
 * addCustomSmtp: the paid "Custom SMTP" settings page. Nothing is stored until the provider has
 * accepted the credentials and confirmed that the sender address is verified.
 */
@Injectable()
export class CustomSmtpService {
  constructor(
    private readonly scope: TenantScope,
    private readonly accounts: AccountsService,
    private readonly servers: DeliveryServersService,
    private readonly gateway: ProviderGateway,
    @InjectRepository(DeliveryServerEntity) private readonly repo: Repository<DeliveryServerEntity>,
  ) {}

  async add(viewer: Viewer, input: AddCustomSmtpInput): Promise<DeliveryServerEntity> {
    const account = await this.scope.account(viewer, input.accountId);
    if (!(await this.accounts.effectiveAddons({}, account)).includes(Addon.CUSTOM_SMTP)) {
      throw new DomainError(ErrorCode.FORBIDDEN, 'Custom SMTP is a paid add-on: enable the CUSTOM_SMTP add-on for this account or its agency first');
    }
    const credentials = this.credentials(input);
    const domain = input.email.slice(input.email.lastIndexOf('@') + 1);
    if (await this.repo.existsBy({ accountId: account.id, origin: ServerOrigin.CUSTOM_SMTP, sendingDomain: domain })) throw domainTaken(domain);
    const provider = PROVIDER[input.provider];
    const probe = { id: randomUUID(), provider, credentials, ipPool: input.ipPool ?? null, senderAddress: null };
    await this.verify(() => this.gateway.verifyCredentials(probe));
    const [first] = this.gateway.transportsFor(probe);
    if (first === TransportKind.SMTP) await this.verify(() => this.sendTestEmail(probe, input));
    else {
      const sender = await this.verify(() => this.gateway.checkSender(probe, input.email));
      if (!sender.verified) {
        throw new DomainError(ErrorCode.SENDER_NOT_VERIFIED, `${input.email} is not verified with ${LABEL[input.provider]}${sender.reason ? `: ${sender.reason}` : ''}`);
      }
    }
    // Two adds for one domain both pass the check above while the provider checks run; the unique
    // index lets one insert through, and the other answers as the check would have.
    return this.servers
      .insert({
        accountId: account.id,
        name: input.name ?? defaultName(LABEL[input.provider], domain),
        provider,
        origin: ServerOrigin.CUSTOM_SMTP,
        credentials,
        status: DeliveryServerStatus.ACTIVE,
        verifiedAt: new Date(),
        sendingDomain: domain,
        testEmail: input.email,
        ipPool: input.ipPool,
      })
      .catch((err: unknown) => {
        throw violatedUniqueIndex(err) === 'UQ_custom_smtp_owner_domain' ? domainTaken(domain) : err;
      });
  }

  /** Checks the input's shape per provider and fills in the provider's SMTP login defaults. */
  private credentials(input: AddCustomSmtpInput): ServerCredentials {
    if (!input.api && !input.smtp) throw new BadUserInputError('Give api or smtp credentials (or both)', ['api', 'smtp']);
    if (input.provider === CustomSmtpProvider.SMTP && input.api) throw BadUserInputError.field('api', 'does not apply to a custom SMTP server; give smtp');
    if (input.ipPool && input.provider !== CustomSmtpProvider.SPARKPOST) throw BadUserInputError.field('ipPool', 'applies only to SPARKPOST');
    const regions = REGIONS[input.provider];
    if (input.api?.region && regions && !regions.includes(input.api.region)) throw BadUserInputError.field('api.region', `must be one of ${regions.join(', ')}`);
    const plain = credentialsFromInput({ smtp: input.smtp ?? undefined });
    let smtp: SmtpCredentials | undefined = plain.smtp ?? undefined;
    if (smtp) {
      smtp = { ...smtp, username: smtp.username ?? SMTP_USERNAME[input.provider] ?? null, password: smtp.password ?? input.api?.apiKey ?? null };
      if (input.provider !== CustomSmtpProvider.SMTP && !smtp.password) throw BadUserInputError.field('smtp.password', 'is required when no api key is given');
    }
    const api = input.api ? { apiKey: input.api.apiKey, region: input.api.region ?? null } : undefined;
    return {
      smtp,
      sendgrid: input.provider === CustomSmtpProvider.SENDGRID ? api : undefined,
      sparkpost: input.provider === CustomSmtpProvider.SPARKPOST ? api : undefined,
    };
  }

  /**
   * Over SMTP, a real test email from the address to itself. An envelope probe is not enough:
   * relays such as SendGrid's and Amazon SES's accept any MAIL FROM and refuse an unverified
   * sender only after DATA. A permanent refusal of the test is the address not being verified.
   */
  private async sendTestEmail(probe: ProviderServer, input: AddCustomSmtpInput): Promise<void> {
    try {
      await this.gateway.send(
        probe,
        {
          from: input.email,
          to: input.email,
          subject: `mailroute: custom SMTP check for ${input.email}`,
          text: ['This is a test email from mailroute.', '', `It was sent to check that ${LABEL[input.provider]} accepts mail from ${input.email} before saving it as a custom SMTP.`, 'No action is needed.'].join('\n'),
          headers: [{ name: 'X-Mailroute-Test', value: probe.id }],
        },
        { only: TransportKind.SMTP },
      );
    } catch (err) {
      if (err instanceof DeliveryError && !err.transient && TEST_REFUSED.has(err.code)) {
        throw new DomainError(ErrorCode.SENDER_NOT_VERIFIED, `${input.email} is not verified with ${LABEL[input.provider]}: the server refused a test email from it (${err.message})`);
      }
      throw err;
    } finally {
      await this.gateway.forget(probe.id);
    }
  }

  /** Provider failures before saving become the contract's errors: auth, or unreachable. */
  private async verify<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof DeliveryError)) throw err;
      if (err.code === DeliveryErrorCode.AUTH_FAILED) throw new DomainError(ErrorCode.PROVIDER_AUTH_FAILED, `The provider refused the credentials: ${err.message}`);
      if (err.code === DeliveryErrorCode.SENDER_NOT_VERIFIED) throw new DomainError(ErrorCode.SENDER_NOT_VERIFIED, err.message);
      if (err.code === DeliveryErrorCode.BLOCKED_DESTINATION) throw BadUserInputError.field('smtp.host', `is not allowed: ${err.message}`);
      throw new DomainError(ErrorCode.PROVIDER_UNREACHABLE, `Could not check the credentials with the provider: ${err.message}`);
    }
  }
}

/** Server names hold 200 characters; a sending domain may have up to 252 (the rest of a 254-character address). */
const NAME_MAX = 200;

/** "Custom SMTP (acme.example)", with a very long domain shortened to fit the name. */
function defaultName(label: string, domain: string): string {
  const room = NAME_MAX - label.length - 3;
  return `${label} (${domain.length > room ? `${domain.slice(0, room - 1)}…` : domain})`;
}
