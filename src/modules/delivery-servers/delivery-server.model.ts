import { Field, ID, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { DeliveryErrorCode, DeliveryProvider, SmtpSecurity, TransportKind, WebhookStatus } from '../../providers/provider.enums';
import { QuotaModel } from '../quota/quota.model';
import { DeliveryServerStatus, ServerOrigin } from './delivery-server.entity';

export enum DefaultScope {
  ACCOUNT = 'ACCOUNT',
  SUB_ACCOUNTS = 'SUB_ACCOUNTS',
}
/** The SMTP conversation step a failed test stopped at. */
export enum SmtpStepEnum {
  DNS = 'DNS',
  CONNECT = 'CONNECT',
  TLS = 'TLS',
  GREETING = 'GREETING',
  AUTH = 'AUTH',
  MAIL_FROM = 'MAIL_FROM',
  RCPT = 'RCPT',
  DATA = 'DATA',
}

registerEnumType(DeliveryProvider, { name: 'DeliveryProvider' });
registerEnumType(ServerOrigin, { name: 'ServerOrigin' });
registerEnumType(DeliveryServerStatus, { name: 'DeliveryServerStatus' });
registerEnumType(SmtpSecurity, { name: 'SmtpSecurity' });
registerEnumType(TransportKind, { name: 'TransportKind' });
registerEnumType(DefaultScope, { name: 'DefaultScope' });
registerEnumType(WebhookStatus, { name: 'WebhookStatus' });
registerEnumType(DeliveryErrorCode, { name: 'DeliveryErrorCode' });
registerEnumType(SmtpStepEnum, { name: 'SmtpStep', description: 'The SMTP conversation step a failed test stopped at.' });

@ObjectType('ApiCredentialsSummary', { description: "Secrets are never returned: only a hint such as the key's last four characters." })
export class ApiCredentialsSummaryModel {
  @Field() keyHint!: string;
  @Field(() => String, { nullable: true }) region!: string | null;
}

@ObjectType('SmtpSettings')
export class SmtpSettingsModel {
  @Field() host!: string;
  @Field(() => Int) port!: number;
  @Field(() => SmtpSecurity) security!: SmtpSecurity;
  @Field(() => String, { nullable: true }) username!: string | null;
}

@ObjectType('DeliveryError', {
  description:
    "Why a send, a test or a message failed. From a provider's webhook (a bounce or a rejection after acceptance): RECIPIENT_REJECTED or MESSAGE_REJECTED, the provider's text, smtpResponseCode read from it, transport and providerStatus null.",
})
export class DeliveryErrorModel {
  @Field(() => DeliveryErrorCode) code!: DeliveryErrorCode;
  @Field() message!: string;
  @Field(() => TransportKind, { nullable: true }) transport!: TransportKind | null;
  @Field(() => Int, { nullable: true }) smtpResponseCode!: number | null;
  @Field(() => Int, { nullable: true }) providerStatus!: number | null;
  @Field(() => SmtpStepEnum, { nullable: true, description: 'SMTP failures: the step of the conversation that failed.' })
  smtpStep!: SmtpStepEnum | null;
}

@ObjectType('WebhookRegistration', {
  description:
    "The provider's bounce and complaint webhooks for this server. SES stays PENDING until SNS confirms the subscription. FAILED with 'run registerWebhooks again' when another registration of the server was running. Elastic Email's url (and an error quoting it) shows its secret as secret=**** except under NOT_SUPPORTED, where the owner must paste the URL into Elastic Email.",
})
export class WebhookRegistrationModel {
  @Field(() => WebhookStatus) status!: WebhookStatus;
  @Field(() => String, { nullable: true }) url!: string | null;
  @Field(() => [String]) events!: string[];
  @Field(() => String, { nullable: true }) error!: string | null;
  @Field(() => Date, { nullable: true }) registeredAt!: Date | null;
}

@ObjectType('DeliveryServer')
export class DeliveryServerModel {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field(() => DeliveryProvider) provider!: DeliveryProvider;
  @Field(() => ServerOrigin) origin!: ServerOrigin;
  @Field(() => DeliveryServerStatus) status!: DeliveryServerStatus;
  @Field(() => String, { nullable: true, description: "Why the system paused the server (e.g. its credentials changed); null when paused by a person or active, and on a server the viewer reaches without managing it." })
  pausedReason!: string | null;
  @Field(() => String, { nullable: true, description: 'Only mail whose From is on this domain routes here; null: any domain.' })
  sendingDomain!: string | null;
  @Field(() => String, { nullable: true, description: 'Forced From address: replaces the From of every message sent through this server.' })
  senderAddress!: string | null;
  @Field(() => String, { nullable: true, description: 'Custom SMTP: the verified address used for tests and for reminders.' })
  testEmail!: string | null;
  @Field(() => [TransportKind], { description: 'Order in which transports are tried: API first, then SMTP.' })
  transports!: TransportKind[];
  @Field(() => ApiCredentialsSummaryModel, { nullable: true }) api!: ApiCredentialsSummaryModel | null;
  @Field(() => SmtpSettingsModel, { nullable: true }) smtp!: SmtpSettingsModel | null;
  @Field(() => String, { nullable: true, description: 'SparkPost: the IP pool every send uses.' }) ipPool!: string | null;
  @Field(() => QuotaModel) quota!: QuotaModel;
  // usage: resolved by DeliveryServersResolver from the quota counters.
  @Field(() => Int, { description: 'Milliseconds to wait between two sends through this server, across all workers.' }) pauseMs!: number;
  @Field() isDefaultForAccount!: boolean;
  @Field() isDefaultForSubAccounts!: boolean;
  @Field(() => ServerTestResultModel, { nullable: true }) lastTest!: ServerTestResultModel | null;
  @Field(() => Date, { nullable: true, description: 'Time of the last passing test since the credentials last changed; null: not verified.' })
  verifiedAt!: Date | null;
  @Field(() => WebhookRegistrationModel) webhook!: WebhookRegistrationModel;
  @Field() createdAt!: Date;
  @Field() updatedAt!: Date;

  /** Resolved to `account`, `usage` and `assignedAccounts` by the resolver. */
  accountId!: string | null;
}

@ObjectType('ServerTestResult', { description: 'error is set exactly when ok is false.' })
export class ServerTestResultModel {
  @Field(() => DeliveryServerModel) server!: DeliveryServerModel;
  @Field() ok!: boolean;
  @Field() to!: string;
  @Field(() => TransportKind, { nullable: true, description: 'The transport that delivered the test (API, or SMTP after an API failure).' })
  transport!: TransportKind | null;
  @Field(() => String, { nullable: true }) messageId!: string | null;
  @Field(() => Int) durationMs!: number;
  @Field(() => DeliveryErrorModel, { nullable: true }) error!: DeliveryErrorModel | null;
  @Field() testedAt!: Date;
}
