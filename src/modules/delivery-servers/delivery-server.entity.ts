import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { SealedSecret } from '../../infra/crypto/credentials-cipher';
import { DeliveryProvider, SmtpSecurity, TransportKind, WebhookStatus } from '../../providers/provider.enums';
import { AccountEntity } from '../accounts/account.entity';

export enum ServerOrigin {
  DELIVERY_SERVER = 'DELIVERY_SERVER',
  CUSTOM_SMTP = 'CUSTOM_SMTP',
}
export enum DeliveryServerStatus {
  PAUSED = 'PAUSED',
  ACTIVE = 'ACTIVE',
}

/** What may be shown of the credentials; the secrets themselves live only in `sealedCredentials`. */
export interface CredentialSummary {
  api?: { keyHint: string; region: string | null } | null;
  smtp?: { host: string; port: number; security: SmtpSecurity; username: string | null } | null;
}

/** The outcome of testSmtpServer, stored as the server's lastTest. */
export interface StoredTestResult {
  ok: boolean;
  to: string;
  transport: TransportKind | null;
  messageId: string | null;
  durationMs: number;
  error: {
    code: string;
    message: string;
    transport: TransportKind | null;
    smtpResponseCode: number | null;
    providerStatus: number | null;
    step: string | null;
  } | null;
  testedAt: string;
}

export interface StoredWebhook {
  status: WebhookStatus;
  /** Stored with any URL secret masked (ServerVault): the secret lives in the sealed state. */
  url: string | null;
  events: string[];
  error: string | null;
  registeredAt: string | null;
  /** SES: a digest of the SNS topic the registration subscribed to (WebhookRegistrar). */
  topic?: string;
  /** SES: a digest of the topic whose subscription confirmation was handled last, and when. */
  confirmedTopic?: string;
  confirmedAt?: string;
  /** Digest of the SNS subscription that confirmation was for (ServerVault.webhookMark). */
  confirmedSubscription?: string;
  /** When WebhookRegistrar recorded this outcome (tells one registration's outcome from the next). */
  recordedAt?: string;
}

@Entity('delivery_servers')
// One custom SMTP per owner and sending domain.
@Index('UQ_custom_smtp_owner_domain', ['accountId', 'sendingDomain'], { unique: true, where: `"origin" = 'CUSTOM_SMTP'` })
// One default per owner, scope and sending domain, a null domain counting as one value: expression
// indexes on coalesce(sending_domain, ''), written by hand in the migration (TypeORM cannot express them).
@Index('UQ_default_for_account', { synchronize: false })
@Index('UQ_default_for_sub_accounts', { synchronize: false })
export class DeliveryServerEntity {
  /** Generated before insert: the id is part of the sealed credentials' associated data. */
  @PrimaryColumn('uuid')
  id!: string;

  /** null: a platform server (ADMIN only), the last resort of routing. */
  @Index()
  @Column({ name: 'account_id', type: 'uuid', nullable: true })
  accountId!: string | null;

  @ManyToOne(() => AccountEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'account_id' })
  account?: AccountEntity | null;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ type: 'enum', enum: DeliveryProvider, enumName: 'delivery_provider' })
  provider!: DeliveryProvider;

  @Column({ type: 'enum', enum: ServerOrigin, enumName: 'server_origin' })
  origin!: ServerOrigin;

  @Column({ type: 'enum', enum: DeliveryServerStatus, enumName: 'delivery_server_status', default: DeliveryServerStatus.PAUSED })
  status!: DeliveryServerStatus;

  @Column({ name: 'sending_domain', type: 'varchar', length: 253, nullable: true })
  sendingDomain!: string | null;

  @Column({ name: 'sender_address', type: 'varchar', length: 320, nullable: true })
  senderAddress!: string | null;

  @Column({ name: 'test_email', type: 'varchar', length: 320, nullable: true })
  testEmail!: string | null;

  @Column({ name: 'sealed_credentials', type: 'jsonb' })
  sealedCredentials!: SealedSecret;

  @Column({ name: 'credential_summary', type: 'jsonb' })
  credentialSummary!: CredentialSummary;

  @Column({ name: 'ip_pool', type: 'varchar', length: 64, nullable: true })
  ipPool!: string | null;

  @Column({ name: 'quota_hourly', type: 'int', nullable: true })
  quotaHourly!: number | null;

  @Column({ name: 'quota_daily', type: 'int', nullable: true })
  quotaDaily!: number | null;

  @Column({ name: 'quota_monthly', type: 'int', nullable: true })
  quotaMonthly!: number | null;

  @Column({ name: 'pause_ms', type: 'int', default: 0 })
  pauseMs!: number;

  @Column({ name: 'is_default_for_account', type: 'boolean', default: false })
  isDefaultForAccount!: boolean;

  @Column({ name: 'is_default_for_sub_accounts', type: 'boolean', default: false })
  isDefaultForSubAccounts!: boolean;

  @Column({ name: 'last_test', type: 'jsonb', nullable: true })
  lastTest!: StoredTestResult | null;

  @Column({ name: 'verified_at', type: 'timestamptz', precision: 3, nullable: true })
  verifiedAt!: Date | null;

  /** Why the server was paused by the system (e.g. a credential change), for a person. */
  @Column({ name: 'paused_reason', type: 'varchar', length: 500, nullable: true })
  pausedReason!: string | null;

  @Column({ type: 'jsonb' })
  webhook!: StoredWebhook;

  /** Provider-side ids and secrets of the webhook registration, sealed like credentials. */
  @Column({ name: 'sealed_webhook_state', type: 'jsonb', nullable: true })
  sealedWebhookState!: SealedSecret | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt!: Date;
}

/** A server as the API shows it: every column but the sealed secrets (DeliveryServersService.list reads no more). */
export type DeliveryServerView = Omit<DeliveryServerEntity, 'sealedCredentials' | 'sealedWebhookState' | 'account'>;

/** Sub-accounts of the owner agency that use a server (assignSmtpAccounts). */
@Entity('server_assignments')
export class ServerAssignmentEntity {
  @PrimaryColumn({ name: 'server_id', type: 'uuid' })
  serverId!: string;

  @Index()
  @PrimaryColumn({ name: 'account_id', type: 'uuid' })
  accountId!: string;

  @ManyToOne(() => DeliveryServerEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'server_id' })
  server?: DeliveryServerEntity;

  @ManyToOne(() => AccountEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'account_id' })
  account?: AccountEntity;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt!: Date;
}
